"""The Train tab's "Compare runs" section: the lesson's finished runs (cnnlab.server.runs.RunIndex) as a
table of settings, accuracy, time and size; two or more picked to overlay their loss and accuracy
curves; the table as CSV. And the hyperparameter grid (cnnlab.core.sweep): lists of learning rates,
batch sizes, optimizers and models trained one after the other as the class's shared run (teacher
only when a key is set; the server checks the grid's size and time budget), its table filling in
live for every viewer, and exported as CSV.

Every viewer's page asks for a refresh only when the Train tab's feed says that the index or the
grid changed (``key``, in train_feed.py's ``server``); a refresh that finds neither changed sends
nothing. The CSV files are written once per change and shared by all viewers; the overlay
pictures once per set of runs and language. Every word is in section "runs" of cnnlab/i18n: fixed
ones as T(...), the handlers' in the reader's language.
"""
from __future__ import annotations

import tempfile
import threading
from pathlib import Path

import gradio as gr
import pandas as pd

from ..config import LIMITS, OPTIMIZERS, TrainConfig, check_flag
from ..core import sweep
from ..core.cache import LRU
from ..core.datasets import DATASETS, get_spec
from ..core.nets.models import models_for
from ..core.tblog import TensorBoardLogger
from ..i18n import DEFAULT, Refusal, Text, tr
from ..server.runs import overlay_figure
from .common import job_reply, refusing, teacher_only
from .context import AppContext
from .lang import T, lang_of

KEEP_FILES = 4               # CSV files kept (a slow download still finds its file)
KEEP_PICTURES = 32           # overlay pictures kept: every viewer who has not picked shares one
DEFAULT_PICK = 2             # runs overlaid before a viewer picks any

RUN_COLUMNS = ("run", "finished", "group", "model", "optimizer", "lr", "batch_size", "epochs", "train_size",
               "test_accuracy", "seconds", "parameters", "checkpoint_bytes")
GRID_COLUMNS = ("config", "model", "optimizer", "lr", "batch_size", "state", "test_accuracy", "seconds",
                "parameters")


def percent(value) -> str:
    return "" if value is None else f"{value:.2%}"


def runs_frame(runs, lang: str = DEFAULT) -> pd.DataFrame:
    """The runs, newest first, as the table shows them (headers in ``lang``)."""
    rows = []
    for r in reversed(runs):
        row = r.row()
        row["test_accuracy"] = percent(row["test_accuracy"])
        row["train_size"] = row["train_size"] or tr(lang, "runs.all")
        row["checkpoint_bytes"] = round(row["checkpoint_bytes"] / 1024)
        rows.append([row[c] for c in RUN_COLUMNS])
    return pd.DataFrame(rows, columns=[tr(lang, f"runs.col.{c}") for c in RUN_COLUMNS])


def grid_frame(table, lang: str = DEFAULT) -> pd.DataFrame:
    rows = [[percent(r[c]) if c == "test_accuracy" else state_name(r[c], lang) if c == "state"
             else "" if r[c] is None else r[c] for c in GRID_COLUMNS] for r in table]
    return pd.DataFrame(rows, columns=[tr(lang, f"runs.col.{c}") for c in GRID_COLUMNS])


def state_name(state: str, lang: str = DEFAULT) -> str:
    """A grid row's state ("waiting", "done", ...) in ``lang``."""
    try:
        return tr(lang, f"runs.states.{state}")
    except KeyError:
        return state


class SharedFiles:
    """Files shared by every viewer (CSV tables, overlay pictures): written once per key, the last
    ``keep`` kept (a slow download or a page still showing one finds its file); a file let go of
    is deleted."""

    def __init__(self, folder: Path, keep: int):
        self._dir = folder
        self._lock = threading.Lock()
        self._files: LRU[str] = LRU(keep, on_evict=lambda path: Path(path).unlink(missing_ok=True))

    def get(self, key: tuple, name: str, write) -> str:
        """The file for ``key``; ``write(path)`` makes it the first time."""
        with self._lock:
            path = self._files.get(key)
            if path is None or not Path(path).is_file():                 # new, or pruned after an hour
                self._dir.mkdir(parents=True, exist_ok=True)
                path = str(Path(tempfile.mkdtemp(dir=self._dir)) / name)
                write(Path(path))
                self._files.put(key, path)
            return path


def write_text(text):
    return lambda path: path.write_text(text() if callable(text) else text, encoding="utf-8")


def write_figure(make):
    return lambda path: make().savefig(path, format="png", dpi=80)


def model_options(dataset: str, lang: str | None = None) -> list[tuple]:
    """The grid's model choices for ``dataset``: names in ``lang``, or (None) translated in the browser."""
    try:
        names = models_for(get_spec(dataset))
    except KeyError:
        return []
    return [(T(f"runs.models.{m}") if lang is None else tr(lang, f"runs.models.{m}"), m) for m in names]


def build(ctx: AppContext, controls: dict, key: gr.Textbox, notice: gr.Markdown, make_config,
          follow: gr.HTML) -> dict:
    """The section, inside the Train tab's column. ``controls``: the tab's widgets by make_config's
    argument names; ``make_config`` turns their raw values into a checked TrainConfig; ``follow``:
    the tab's feed (train_feed.py), whose .input fires when ``key`` (returned) changes."""
    job, index = ctx.job, ctx.runs
    files = SharedFiles(ctx.scratch.shared_folder("runs-csv"), KEEP_FILES)
    pictures = SharedFiles(ctx.scratch.shared_folder("runs-png"), KEEP_PICTURES)
    d = TrainConfig()
    grid_limit = LIMITS["grid_seconds"]
    with gr.Accordion(T("runs.section"), open=True, elem_id="runs-section"):
        gr.Markdown(T("runs.intro"))
        table = gr.Dataframe(runs_frame(index.runs()), interactive=False, wrap=True, elem_id="runs-table",
                             max_height=320)
        pick = gr.CheckboxGroup([], label=T("runs.pick"), elem_id="runs-pick")
        overlay_plot = gr.Image(None, show_label=False, interactive=False, elem_id="runs-overlay",
                                buttons=["download", "fullscreen"])
        csv_btn = gr.DownloadButton(T("runs.csv"), visible=False, elem_id="runs-csv")
        with gr.Accordion(T("runs.grid_section"), open=False, elem_id="runs-grid-section") as grid_section:
            gr.Markdown(T("runs.grid_intro"))
            with gr.Row():
                lrs = gr.Textbox("0.001, 0.003", label=T("runs.grid_lrs"), info=T("runs.grid_list_info"),
                                 elem_id="runs-grid-lrs")
                batches = gr.Textbox("64, 128", label=T("runs.grid_batches"), info=T("runs.grid_list_info"),
                                     elem_id="runs-grid-batches")
            optimizers = gr.CheckboxGroup([(T(f"runs.optimizers.{o}"), o) for o in OPTIMIZERS], value=["adam"],
                                          label=T("runs.grid_optimizers"), elem_id="runs-grid-optimizers")
            models = gr.CheckboxGroup(model_options(d.dataset), value=[d.model], label=T("runs.grid_models"),
                                      elem_id="runs-grid-models")
            seconds = gr.Slider(grid_limit.low, grid_limit.high, value=120, step=10, label=T("runs.grid_seconds"),
                                elem_id="runs-grid-seconds")
            size = gr.Markdown(elem_id="runs-grid-size")        # filled on opening, in the reader's language
            start = gr.Button(T("runs.grid_start"), variant="primary", elem_id="runs-grid-start")
            grid_table = gr.Dataframe(grid_frame(job.state().sweep), interactive=False, wrap=True,
                                      visible=bool(job.state().sweep), elem_id="runs-grid-table")
            grid_csv = gr.DownloadButton(T("runs.grid_csv"), visible=False, elem_id="runs-grid-csv")
        tb_dir = Path(ctx.config.runs_dir).resolve() / "tensorboard"
        board = TensorBoardLogger(tb_dir, ctx.data_root, enabled=False)
        job.subscribe(board)
        tb_switch = gr.Checkbox(False, label=T("runs.tb"), info=T("runs.tb_info"), elem_id="runs-tensorboard")
    seen = gr.State({"key": None, "picked": False})

    def changes(snap) -> list:
        """What the section shows changed: the lesson's runs, or the grid's rows."""
        return [index.version, snap.sweep_id, [r["state"] for r in snap.sweep]]

    def plan_of(dataset, epochs, train_size, augment, learning_rates, batch_sizes, optimizer_list, model_list,
                grid_seconds, lang: str = DEFAULT) -> sweep.SweepPlan:
        model = models_for(DATASETS[dataset])[0] if isinstance(dataset, str) and dataset in DATASETS else None
        base = make_config(dataset, model, d.optimizer, d.lr, d.batch_size, epochs, d.time_budget_s, train_size,
                           augment, lang=lang)
        return sweep.plan(base, learning_rates, batch_sizes, optimizer_list, model_list, grid_seconds)

    @teacher_only(ctx.teacher)
    def train_grid(dataset: str = d.dataset, epochs: int = d.epochs, train_size: int = d.train_size,
                   augment: bool = d.augment, learning_rates: str = "0.001, 0.003", batch_sizes: str = "64, 128",
                   optimizers: list | None = None, models: list | None = None, seconds: float = 120,
                   teacher_key: str | None = None, request: gr.Request = None) -> str:
        lang = lang_of(request)
        p = plan_of(dataset, epochs, train_size, augment, learning_rates, batch_sizes,
                    ["adam"] if optimizers is None else optimizers, [d.model] if models is None else models,
                    seconds, lang=lang)
        return job_reply(job.start_sweep(p, teacher_key), lang, "jobs.started")

    @teacher_only(ctx.teacher, Text("runs.tb_key"))
    def train_tensorboard(on: bool = False, teacher_key: str | None = None, request: gr.Request = None):
        """The teacher's switch: log the shared runs for TensorBoard (from the next run on)."""
        lang = lang_of(request)
        wanted = check_flag(Text("runs.tb"), on)
        board.set_enabled(wanted)
        return (tr(lang, "runs.tb_on", dir=tb_dir) if wanted else tr(lang, "runs.tb_off")), wanted

    @refusing
    def grid_size(dataset, epochs, train_size, augment, learning_rates, batch_sizes, optimizer_list, model_list,
                  grid_seconds, request: gr.Request = None) -> str:
        lang = lang_of(request)
        try:
            p = plan_of(dataset, epochs, train_size, augment, learning_rates, batch_sizes, optimizer_list,
                        model_list, grid_seconds, lang=lang)
        except Refusal as err:
            return tr(lang, "runs.grid_refused", error=err.in_(lang))
        c = p.configs
        sizes = " x ".join(str(len({getattr(x, f) for x in c})) for f in ("lr", "batch_size", "optimizer", "model"))
        return tr(lang, "runs.grid_size", n=len(c), sizes=sizes, each=p.per_config_s)

    @refusing
    def refresh(state: dict, picked, request: gr.Request = None):
        snap = job.state()
        now = changes(snap)
        grid_key = (snap.sweep_id, tuple(r["state"] for r in snap.sweep))
        if state.get("key") == now:
            return [gr.skip()] * len(outputs)
        lang = lang_of(request)
        runs = index.runs()
        out = {}
        if state.get("index") != index.version:
            choices = [(r.label_in(lang), r.id) for r in reversed(runs)]
            ids = {r.id for r in runs}
            chosen = [i for i in (picked or []) if i in ids] if state.get("picked") else \
                [r.id for r in runs[-DEFAULT_PICK:]]
            out[table] = runs_frame(runs, lang)
            out[pick] = gr.CheckboxGroup(choices=choices, value=chosen)
            out.update(draw(runs, chosen, lang))
            out[csv_btn] = gr.DownloadButton(value=files.get(("runs", index.version), "cnnlab-runs.csv",
                                                             write_text(lambda: index.csv(runs))) if runs else None,
                                             visible=bool(runs))
        if state.get("grid") != grid_key:
            out[grid_table] = gr.Dataframe(grid_frame(snap.sweep, lang), visible=bool(snap.sweep))
            out[grid_csv] = gr.DownloadButton(
                value=files.get(("grid", grid_key), f"cnnlab-grid-{snap.sweep_id}.csv",
                                  write_text(sweep.table_csv(snap.sweep)))
                if snap.sweep else None, visible=bool(snap.sweep))
        out[seen] = {**state, "key": now, "index": index.version, "grid": grid_key}
        return out

    def draw(runs, chosen, lang: str = DEFAULT) -> dict:
        """The overlay picture of the chosen runs, drawn once for everyone who picks the same and
        reads the same language."""
        picked = [r for r in runs if r.id in set(chosen)]
        key = (lang, *(r.id for r in picked))
        return {overlay_plot: pictures.get(key, "compare-runs.png",
                                           write_figure(lambda: overlay_figure(picked, lang=lang)))}

    @refusing
    def picked_changed(chosen, state: dict, request: gr.Request = None):
        return {**draw(index.runs(), chosen or [], lang_of(request)), seen: {**state, "picked": True}}

    @refusing
    def models_of(name, request: gr.Request = None):
        options = model_options(name, lang_of(request))
        return gr.CheckboxGroup(choices=options, value=options[:1] and [options[0][1]])
    outputs = [table, pick, overlay_plot, csv_btn, grid_table, grid_csv, seen]
    hidden = dict(api_visibility="private", concurrency_limit=None, concurrency_id="runs-refresh",
                  show_progress="hidden")
    follow.input(refresh, [seen, pick], outputs, **hidden)
    pick.input(picked_changed, [pick, seen], [overlay_plot, seen], **hidden)
    grid_inputs = [controls["dataset"], controls["epochs"], controls["train_size"], controls["augment"], lrs,
                   batches, optimizers, models, seconds]
    started = start.click(train_grid, grid_inputs + [key], notice, api_name="train_grid", preprocess=False,
                concurrency_limit=None, concurrency_id="train-control", show_progress="hidden",
                api_description="Train every combination of learning rates x batch sizes x optimizers x models "
                "(comma-separated numbers; lists of names) one after the other as the class's shared run, "
                "with this data set (mnist or fashion), epochs, training images and augmentation; at most "
                f"{int(LIMITS['grid_configs'].high)} configurations and {grid_limit.high:.0f} s in all. "
                "/train_snapshot's 'sweep' holds the table.")
    tb_switch.input(train_tensorboard, [tb_switch, key], [notice, tb_switch], api_name="train_tensorboard",
                    preprocess=False, concurrency_limit=None, concurrency_id="train-control", show_progress="hidden",
                    api_description="Teacher: write TensorBoard logs (scalars, test pictures, model graph, last-layer "
                    "embedding) of the shared runs from the next one on, under the runs folder's tensorboard/.")
    for widget in (lrs, batches, optimizers, models, seconds, controls["dataset"], controls["epochs"],
                   controls["train_size"]):
        widget.change(grid_size, grid_inputs, size, api_visibility="private", concurrency_limit=4,
                      concurrency_id="runs-size", show_progress="hidden")
    grid_section.expand(grid_size, grid_inputs, size, api_visibility="private", concurrency_limit=4,
                        concurrency_id="runs-size", show_progress="hidden")
    controls["dataset"].change(models_of, controls["dataset"], models, queue=False, api_name=False)
    return {"outputs": outputs, "key": changes, "events": [started]}
