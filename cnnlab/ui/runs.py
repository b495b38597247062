"""The Train tab's "Compare runs" section: the lesson's finished runs (cnnlab.runs.RunIndex) as a
table of settings, accuracy, time and size; two or more picked to overlay their loss and accuracy
curves; the table as CSV. And the hyperparameter grid (cnnlab.sweep): lists of learning rates,
batch sizes, optimizers and models trained one after the other as the class's shared run (teacher
only when a key is set; the server checks the grid's size and time budget), its table filling in
live for every viewer, and exported as CSV.

Every viewer polls with its own gr.Timer; a tick where neither the index nor the grid changed sends
nothing. The CSV files are written once per change and shared by all viewers. Every user-visible
string is in ``TEXT``.
"""
from __future__ import annotations

import tempfile
import threading
from pathlib import Path

import gradio as gr
import pandas as pd

from .. import sweep
from ..config import LIMITS, OPTIMIZERS, LimitError, TrainConfig, check_flag
from ..datasets import DATASETS, get_spec
from ..models import MODELS, models_for
from ..runs import overlay_figure
from ..tblog import TensorBoardLogger
from .context import AppContext

TICK_S = 1.0
KEEP_FILES = 4               # CSV files kept (a slow download still finds its file)
KEEP_PICTURES = 32           # overlay pictures kept: every viewer who has not picked shares one
DEFAULT_PICK = 2             # runs overlaid before a viewer picks any

TEXT = {
    "section": "Compare runs",
    "intro": ("Every run of this lesson is kept here (the last {n}). Pick two or more to lay their "
              "curves over each other."),
    "empty": "No finished run yet: train one, then another with a different setting, and compare them here.",
    "pick": "Runs to overlay",
    "csv": "Download the table (CSV)",
    "grid_section": "Hyperparameter grid (like the course's RunBuilder)",
    "grid_intro": ("Every combination of these lists trains as the class's run, one after the other, with the "
                   "data set, epochs, training images and augmentation chosen above. At most {configs} "
                   "configurations; the time budget is shared equally between them."),
    "grid_lrs": "Learning rates",
    "grid_lrs_info": "separated by commas",
    "grid_batches": "Batch sizes",
    "grid_optimizers": "Optimizers",
    "grid_models": "Models",
    "grid_seconds": "Time budget for the whole grid (s)",
    "grid_start": "Run the grid",
    "grid_size": "{n} configurations ({sizes}), each trains at most {each:.0f} s.",
    "grid_csv": "Download the grid's table (CSV)",
    "col": {"run": "run", "finished": "finished", "group": "grid", "model": "model", "optimizer": "optimizer",
            "lr": "learning rate", "batch_size": "batch", "epochs": "epochs", "train_size": "training images",
            "test_accuracy": "test accuracy", "seconds": "time (s)", "parameters": "parameters",
            "checkpoint_bytes": "size (KB)", "config": "#", "state": "state"},
    "tb": "Write TensorBoard logs of the class's runs (teacher)",
    "tb_info": "scalars, test pictures, the model graph and the last layer for the Embedding Projector",
    "tb_on": "TensorBoard logs of every run from the next one on go to {dir}. See them with: "
             "tensorboard --logdir {dir}",
    "tb_off": "No more TensorBoard logs from the next run on.",
    "tb_key": "Switching TensorBoard logs needs the teacher key: type it in the teacher key box.",
    "all": "all",
    "states": {"waiting": "waiting", "training": "training…", "done": "done", "stopped": "stopped",
               "skipped": "skipped"},
}
OPTIMIZER_TITLES = {"sgd": "SGD", "momentum": "Momentum", "rmsprop": "RMSprop", "adam": "Adam"}
RUN_COLUMNS = ("run", "finished", "group", "model", "optimizer", "lr", "batch_size", "epochs", "train_size",
               "test_accuracy", "seconds", "parameters", "checkpoint_bytes")
GRID_COLUMNS = ("config", "model", "optimizer", "lr", "batch_size", "state", "test_accuracy", "seconds",
                "parameters")


def percent(value) -> str:
    return "" if value is None else f"{value:.2%}"


def runs_frame(runs) -> pd.DataFrame:
    """The runs, newest first, as the table shows them."""
    rows = []
    for r in reversed(runs):
        row = r.row()
        row["test_accuracy"] = percent(row["test_accuracy"])
        row["train_size"] = row["train_size"] or TEXT["all"]
        row["checkpoint_bytes"] = round(row["checkpoint_bytes"] / 1024)
        rows.append([row[c] for c in RUN_COLUMNS])
    return pd.DataFrame(rows, columns=[TEXT["col"][c] for c in RUN_COLUMNS])


def grid_frame(table) -> pd.DataFrame:
    rows = [[percent(r[c]) if c == "test_accuracy" else TEXT["states"].get(r[c], r[c]) if c == "state"
             else "" if r[c] is None else r[c] for c in GRID_COLUMNS] for r in table]
    return pd.DataFrame(rows, columns=[TEXT["col"][c] for c in GRID_COLUMNS])


class SharedFiles:
    """Files shared by every viewer (CSV tables, overlay pictures): written once per key, the last
    ``keep`` kept (a slow download or a page still showing one finds its file)."""

    def __init__(self, folder: Path, keep: int):
        self._dir, self._keep = folder, keep
        self._lock = threading.Lock()
        self._files: dict[tuple, str] = {}

    def get(self, key: tuple, name: str, write) -> str:
        """The file for ``key``; ``write(path)`` makes it the first time."""
        with self._lock:
            if key not in self._files or not Path(self._files[key]).is_file():   # new, or pruned after an hour
                self._dir.mkdir(parents=True, exist_ok=True)
                path = Path(tempfile.mkdtemp(dir=self._dir)) / name
                write(path)
                self._files[key] = str(path)
                for old in list(self._files)[:-self._keep]:
                    Path(self._files.pop(old)).unlink(missing_ok=True)
            return self._files[key]


def write_text(text):
    return lambda path: path.write_text(text() if callable(text) else text, encoding="utf-8")


def write_figure(make):
    return lambda path: make().savefig(path, format="png", dpi=80)


def model_options(dataset: str) -> list[tuple[str, str]]:
    try:
        return [(MODELS[m].title, m) for m in models_for(get_spec(dataset))]
    except KeyError:
        return []


def build(ctx: AppContext, controls: dict, key: gr.Textbox, notice: gr.Markdown, make_config) -> dict:
    """The section, inside the Train tab's column. ``controls``: the tab's widgets by make_config's
    argument names; ``make_config`` turns their raw values into a checked TrainConfig."""
    job, index = ctx.job, ctx.runs
    files = SharedFiles(ctx.scratch.shared_folder("runs-csv"), KEEP_FILES)
    pictures = SharedFiles(ctx.scratch.shared_folder("runs-png"), KEEP_PICTURES)
    d = TrainConfig()
    grid_limit = LIMITS["grid_seconds"]
    with gr.Accordion(TEXT["section"], open=True, elem_id="runs-section"):
        gr.Markdown(TEXT["intro"].format(n=index.max_runs))
        table = gr.Dataframe(runs_frame(index.runs()), interactive=False, wrap=True, elem_id="runs-table",
                             max_height=320)
        pick = gr.CheckboxGroup([], label=TEXT["pick"], elem_id="runs-pick")
        overlay_plot = gr.Image(None, show_label=False, interactive=False, elem_id="runs-overlay",
                                buttons=["download", "fullscreen"])
        csv_btn = gr.DownloadButton(TEXT["csv"], visible=False, elem_id="runs-csv")
        with gr.Accordion(TEXT["grid_section"], open=False, elem_id="runs-grid-section"):
            gr.Markdown(TEXT["grid_intro"].format(configs=int(LIMITS["grid_configs"].high)))
            with gr.Row():
                lrs = gr.Textbox("0.001, 0.003", label=TEXT["grid_lrs"], info=TEXT["grid_lrs_info"],
                                 elem_id="runs-grid-lrs")
                batches = gr.Textbox("64, 128", label=TEXT["grid_batches"], info=TEXT["grid_lrs_info"],
                                     elem_id="runs-grid-batches")
            optimizers = gr.CheckboxGroup([(OPTIMIZER_TITLES[o], o) for o in OPTIMIZERS], value=["adam"],
                                          label=TEXT["grid_optimizers"], elem_id="runs-grid-optimizers")
            models = gr.CheckboxGroup(model_options(d.dataset), value=[d.model], label=TEXT["grid_models"],
                                      elem_id="runs-grid-models")
            seconds = gr.Slider(grid_limit.low, grid_limit.high, value=120, step=10, label=TEXT["grid_seconds"],
                                elem_id="runs-grid-seconds")
            size = gr.Markdown(elem_id="runs-grid-size")
            start = gr.Button(TEXT["grid_start"], variant="primary", elem_id="runs-grid-start")
            grid_table = gr.Dataframe(grid_frame(job.state().sweep), interactive=False, wrap=True,
                                      visible=bool(job.state().sweep), elem_id="runs-grid-table")
            grid_csv = gr.DownloadButton(TEXT["grid_csv"], visible=False, elem_id="runs-grid-csv")
        tb_dir = Path(ctx.config.runs_dir).resolve() / "tensorboard"
        board = TensorBoardLogger(tb_dir, ctx.data_root, enabled=False)
        job.subscribe(board)
        tb_switch = gr.Checkbox(False, label=TEXT["tb"], info=TEXT["tb_info"], elem_id="runs-tensorboard")
    seen = gr.State({"key": None, "picked": False})
    timer = gr.Timer(TICK_S)

    def plan_of(dataset, epochs, train_size, augment, learning_rates, batch_sizes, optimizer_list, model_list,
                grid_seconds) -> sweep.SweepPlan:
        model = models_for(DATASETS[dataset])[0] if isinstance(dataset, str) and dataset in DATASETS else None
        base = make_config(dataset, model, d.optimizer, d.lr, d.batch_size, epochs, d.time_budget_s, train_size,
                           augment)
        try:
            return sweep.plan(base, learning_rates, batch_sizes, optimizer_list, model_list, grid_seconds)
        except LimitError as err:
            raise gr.Error(str(err), print_exception=False) from None

    def train_grid(dataset: str = d.dataset, epochs: int = d.epochs, train_size: int = d.train_size,
                   augment: bool = d.augment, learning_rates: str = "0.001, 0.003", batch_sizes: str = "64, 128",
                   optimizers: list | None = None, models: list | None = None, seconds: float = 120,
                   teacher_key: str | None = None) -> str:
        p = plan_of(dataset, epochs, train_size, augment, learning_rates, batch_sizes,
                    ["adam"] if optimizers is None else optimizers, [d.model] if models is None else models,
                    seconds)
        before = job.state().run_id
        message = job.start_sweep(p, teacher_key)
        if job.state().run_id == before:
            gr.Warning(message)
        return message

    def train_tensorboard(on: bool = False, teacher_key: str | None = None):
        """The teacher's switch: log the shared runs for TensorBoard (from the next run on)."""
        if not ctx.teacher.accepts(teacher_key):
            gr.Warning(TEXT["tb_key"])
            return TEXT["tb_key"], board.enabled
        try:
            wanted = check_flag(TEXT["tb"], on)
        except LimitError as err:
            raise gr.Error(str(err), print_exception=False) from None
        board.set_enabled(wanted)
        return (TEXT["tb_on"].format(dir=tb_dir) if wanted else TEXT["tb_off"]), wanted

    def grid_size(*values) -> str:
        try:
            p = plan_of(*values)
        except gr.Error as err:
            return f"✗ {err.message}"
        c = p.configs
        sizes = " x ".join(str(len({getattr(x, f) for x in c})) for f in ("lr", "batch_size", "optimizer", "model"))
        return TEXT["grid_size"].format(n=len(c), sizes=sizes, each=p.per_config_s)

    def refresh(state: dict, picked):
        snap = job.state()
        grid_key = (snap.sweep_id, tuple(r["state"] for r in snap.sweep))
        now = (index.version, grid_key)
        if state.get("key") == now:
            return [gr.skip()] * len(outputs)
        runs = index.runs()
        out = {}
        if state.get("index") != index.version:
            choices = [(r.label, r.id) for r in reversed(runs)]
            ids = {r.id for r in runs}
            chosen = [i for i in (picked or []) if i in ids] if state.get("picked") else \
                [r.id for r in runs[-DEFAULT_PICK:]]
            out[table] = runs_frame(runs)
            out[pick] = gr.CheckboxGroup(choices=choices, value=chosen)
            out.update(draw(runs, chosen))
            out[csv_btn] = gr.DownloadButton(value=files.get(("runs", index.version), "cnnlab-runs.csv",
                                                             write_text(lambda: index.csv(runs))) if runs else None,
                                             visible=bool(runs))
        if state.get("grid") != grid_key:
            out[grid_table] = gr.Dataframe(grid_frame(snap.sweep), visible=bool(snap.sweep))
            out[grid_csv] = gr.DownloadButton(
                value=files.get(("grid", grid_key), f"cnnlab-grid-{snap.sweep_id}.csv",
                                  write_text(sweep.table_csv(snap.sweep)))
                if snap.sweep else None, visible=bool(snap.sweep))
        out[seen] = {**state, "key": now, "index": index.version, "grid": grid_key}
        return out

    def draw(runs, chosen) -> dict:
        """The overlay picture of the chosen runs, drawn once for everyone who picks the same."""
        picked = [r for r in runs if r.id in set(chosen)]
        key = tuple(r.id for r in picked)
        return {overlay_plot: pictures.get(key, "compare-runs.png", write_figure(lambda: overlay_figure(picked)))}

    def picked_changed(chosen, state: dict):
        return {**draw(index.runs(), chosen or []), seen: {**state, "picked": True}}

    size.value = grid_size(d.dataset, d.epochs, d.train_size, d.augment, lrs.value, batches.value,
                           optimizers.value, models.value, seconds.value)
    outputs = [table, pick, overlay_plot, csv_btn, grid_table, grid_csv, seen]
    hidden = dict(api_visibility="private", concurrency_limit=None, concurrency_id="runs-refresh",
                  show_progress="hidden")
    timer.tick(refresh, [seen, pick], outputs, **hidden)
    pick.input(picked_changed, [pick, seen], [overlay_plot, seen], **hidden)
    grid_inputs = [controls["dataset"], controls["epochs"], controls["train_size"], controls["augment"], lrs,
                   batches, optimizers, models, seconds]
    start.click(train_grid, grid_inputs + [key], notice, api_name="train_grid", preprocess=False,
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
    controls["dataset"].change(lambda name: gr.CheckboxGroup(choices=model_options(name),
                                                             value=model_options(name)[:1] and
                                                             [model_options(name)[0][1]]),
                               controls["dataset"], models, queue=False, api_name=False)
    return {"outputs": outputs}
