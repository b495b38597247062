"""Train tab: the teacher clicks Train and the whole class watches one shared run learn, live.

Everyone polls the shared ``ctx.job`` (cnnlab.jobs.TrainJob) with a gr.Timer; a viewer's
gr.State remembers what it already shows, so a tick with nothing new sends nothing, and the
confusion matrix and mistake pictures are drawn once per run for all viewers. The job hands plain
rows; the DataFrames gr.LinePlot wants are made here.
"""
from __future__ import annotations

import html
import math
import shutil
import threading
from pathlib import Path

import gradio as gr
import numpy as np
import pandas as pd
from PIL import Image

from .. import plots
from ..builder import BUILT
from ..checkpoints import CheckpointError
from ..config import LIMITS, LimitError, TrainConfig, check_train
from ..datasets import DATASETS, get_spec
from ..imageio import data_url
from ..models import MODELS, models_for
from ..plots import RIGHT, WRONG
from ..race import RACE_OPTIMIZERS, RACE_STEPS, lane_label
from . import builder as builder_ui
from . import steer as steer_ui
from .context import AppContext
from .inputs import flag, number

TEXT = {"reliability": "Can you trust its confidence? (reliability diagram)"}
TICK_S = 0.5                 # how often viewers poll the shared run (2 updates a second)
OPTIMIZER_CHOICES = [("SGD", "sgd"), ("Momentum", "momentum"), ("RMSprop", "rmsprop"), ("Adam", "adam")]
# A sensible peak learning rate per optimizer (one-cycle schedule), filled in when one is picked.
SUGGESTED_LR = {"sgd": 0.1, "momentum": 0.05, "rmsprop": 1e-3, "adam": 3e-3}
BATCH_SIZES = [b for b in (16, 32, 64, 128, 256, 512, 1024) if b <= LIMITS["batch_size"].high]
TRAIN_SIZES = [(label, n) for label, n in (("all", 0), ("1,000", 1000), ("5,000", 5000), ("10,000", 10000),
                                           ("30,000", 30000)) if n <= LIMITS["train_size"].high]
CURVE_COLORS = {"train loss": "#0072B2", "validation loss": "#E69F00", "validation accuracy": "#009E73",
                steer_ui.SERIES: steer_ui.COLOR}
LOSS_SERIES = ["train loss", "validation loss", steer_ui.SERIES]
RACE_COLORS = dict(zip((lane_label(name, lr) for name, lr in RACE_OPTIMIZERS),
                       ("#999999", "#E69F00", "#009E73", "#0072B2")))
IDLE_GRID = "<div class='train-grid-empty'>The 16 test pictures appear here when a run starts.</div>"


def dataset_choices(ctx: AppContext) -> list[tuple[str, str]]:
    """Every data set, except Flowers-102 unless its files are there (it is 300+ MB)."""
    present = (Path(ctx.data_root) / DATASETS["flowers102"].folder).is_dir()
    return [(s.title, s.name) for s in DATASETS.values() if s.name != "flowers102" or present]


def model_choices(dataset: str) -> list[tuple[str, str]]:
    own = [] if get_spec(dataset).kind == "photo" else [(builder_ui.TEXT["model_choice"], BUILT)]
    return [(MODELS[m].title, m) for m in models_for(get_spec(dataset))] + own


def make_config(dataset, model, optimizer, lr, batch_size, epochs, budget, train_size, augment,
                layers=None) -> TrainConfig:
    """The run's settings from the widgets (or an API caller's raw values); a gr.Error that names the
    allowed range for the first setting the server refuses (limits: cnnlab.config.LIMITS). ``layers``:
    the network builder's stack, used when the model is the student's own ("custom")."""
    d = TrainConfig()
    config = TrainConfig(dataset=dataset or d.dataset, model=model or d.model, optimizer=optimizer or d.optimizer,
                         lr=number("lr", lr, d.lr), batch_size=number("batch_size", batch_size, d.batch_size),
                         epochs=number("epochs", epochs, d.epochs),
                         time_budget_s=float(number("time_budget_s", budget, d.time_budget_s)),
                         train_size=number("train_size", train_size, d.train_size),
                         augment=flag("Augment", augment, d.augment),
                         layers=list(layers) if model == BUILT and isinstance(layers, list) else None)
    try:
        return check_train(config)
    except LimitError as err:
        raise gr.Error(str(err), print_exception=False) from None


# ---------------------------------------------------------------------- drawing the shared state
def picture_uri(image: np.ndarray) -> str:
    """A small image as a data: URI (PNG for 28x28 digits, a JPEG thumbnail for photos)."""
    if image.ndim == 3:
        pil = Image.fromarray(image)
        pil.thumbnail((112, 112))
        return data_url(pil, "JPEG")
    return data_url(image)


def grid_html(grid, uris: list[str]) -> str:
    """16 pictures with the model's guess under each: blue and ✓ when right, orange and ✗ when wrong."""
    if grid is None:
        return IDLE_GRID
    cells = []
    for k, (uri, truth) in enumerate(zip(uris, grid.labels)):
        if grid.predictions is None:
            colour, text = "#999999", "?"
        else:
            guess = grid.predictions[k]
            ok = guess == truth
            colour = RIGHT if ok else WRONG
            text = f"{'✓' if ok else '✗'} {html.escape(grid.classes[guess])}"
        cells.append(
            f"<figure class='train-cell' style='margin:0;text-align:center'>"
            f"<img src='{uri}' alt='test picture of {html.escape(grid.classes[truth])}' "
            f"style='width:100%;max-width:96px;aspect-ratio:1;image-rendering:pixelated;"
            f"border:4px solid {colour};border-radius:6px'>"
            f"<figcaption style='color:{colour};font-weight:700;font-size:1.1em;line-height:1.2;"
            f"white-space:nowrap;overflow:hidden;text-overflow:ellipsis'>{text}</figcaption></figure>")
    right = grid.right if grid.predictions is not None else 0
    return (f"<div id='train-grid-inner' data-right='{right}' style='display:grid;"
            f"grid-template-columns:repeat(8,minmax(0,1fr));gap:8px'>{''.join(cells)}</div>")


def results_markdown(snap) -> str:
    r = snap.results
    if not r:
        return ""
    if "race" in r:
        rows = "\n".join(f"| {f['optimizer']} | {f['lr']:g} | {f['loss']:.3f} | {f['val_accuracy']:.1%} |"
                         for f in r["race"])
        return (f"### Optimizer race {'(stopped)' if r['stopped'] else ''} after {r['steps']} steps\n"
                "| optimizer | learning rate | final train loss | validation accuracy |\n"
                f"|---|---|---|---|\n{rows}")
    if "test_accuracy" not in r:
        return "### The run was stopped before it trained: the model is unchanged."
    how = "stopped early" if r["stopped"] else "finished"
    return (f"### Test accuracy: {r['test_accuracy']:.1%}\n"
            f"on {r['test_images']:,} test images the network never trained on; {how} after "
            f"{r['steps']:,} steps ({r['seconds']:.0f} s).")


def frame(rows, columns: tuple[str, str, str]) -> pd.DataFrame:
    """Rows (x, y, series) as gr.LinePlot wants them: numbers in the first two columns, names in
    the third, even when empty (it picks its axis types from the dtypes)."""
    x, y, series = columns
    if not rows:
        return pd.DataFrame({x: pd.Series(dtype="float64"), y: pd.Series(dtype="float64"),
                             series: pd.Series(dtype="str")})
    return pd.DataFrame(list(rows), columns=list(columns)).astype({x: "float64", y: "float64"})


def drawable(frame: pd.DataFrame, series: list[str]) -> pd.DataFrame:
    """What gr.LinePlot (6.31) can draw. It fixes its series from the first frame it gets (a series
    that appears later is never drawn, and nothing is drawn after an empty frame), so every
    expected series gets one invisible point (y = NaN) until its real points arrive."""
    x, y, name = frame.columns
    missing = [s for s in series if s not in set(frame[name])]
    if not missing:
        return frame
    pad = pd.DataFrame({x: [0.0] * len(missing), y: [float("nan")] * len(missing), name: missing})
    return pd.concat([pad, frame], ignore_index=True) if len(frame) else pad


def loss_ceiling(snap) -> float:
    """A fixed top for the loss axis: above a random guess's loss (ln of the number of classes)."""
    classes = len(snap.grid.classes) if snap.grid else 10
    return round(max(2.5, 1.1 * math.log(classes)), 1)


class SharedPictures:
    """Per-run pictures every viewer shares (drawn once, read-only afterwards). Only the latest
    run's pictures and the last few checkpoint copies are kept on disk."""

    def __init__(self, folder: Path):
        self._lock = threading.Lock()
        self._dir = Path(folder)
        self._uris: dict[int, list[str]] = {}
        self._results: dict[int, tuple[str | None, str | None]] = {}
        self._download: dict[tuple, str] = {}
        self._count = 0

    def uris(self, snap) -> list[str]:
        with self._lock:
            if snap.run_id not in self._uris:
                self._uris = {snap.run_id: [picture_uri(im) for im in snap.grid.images]}
            return self._uris[snap.run_id]

    def results(self, snap) -> tuple[str | None, str | None, str | None]:
        """(confusion matrix PNG, mistakes PNG, reliability diagram PNG) paths for this run's
        results, drawn once."""
        with self._lock:
            if snap.run_id not in self._results:
                r = snap.results
                cm = mistakes = reliability = None
                if r and r.get("calibration", {}).get("reliability"):
                    c = r["calibration"]
                    reliability = self._save(plots.reliability_figure(c["reliability"], c.get("reliability_before"),
                                                                      c["temperature"]),
                                             f"reliability-{snap.run_id}.png")
                if r and "confusion_matrix" in r:
                    cm = self._save(plots.confusion_matrix_figure(r["confusion_matrix"], r["classes"]),
                                    f"confusion-{snap.run_id}.png")
                    m = r["mistakes"]
                    mistakes = self._save(plots.mistakes_figure(m["images"], m["labels"], m["predictions"],
                                                                m["confidences"], r["classes"]),
                                          f"mistakes-{snap.run_id}.png")
                for old in self._results.values():
                    for path in old:
                        if path:
                            Path(path).unlink(missing_ok=True)
                self._results = {snap.run_id: (cm, mistakes, reliability)}
            return self._results[snap.run_id]

    def download(self, path: str | None) -> str | None:
        """A copy of the latest checkpoint under a telling name, in a folder Gradio may serve."""
        if not path or not Path(path).is_file():
            return None
        stat = Path(path).stat()
        key = (path, stat.st_mtime_ns, stat.st_size)
        with self._lock:
            if key not in self._download:
                self._count += 1
                folder = self._dir / f"checkpoint-{self._count}"
                folder.mkdir()
                self._download[key] = str(shutil.copy2(path, folder / "cnnlab-latest.pt"))
                for old in list(self._download)[:-3]:          # keep the last few for slow downloads
                    shutil.rmtree(Path(self._download.pop(old)).parent, ignore_errors=True)
            return self._download[key]

    def _save(self, fig, name: str) -> str:
        path = self._dir / name
        fig.savefig(path, format="png", dpi=100)
        return str(path)


# ---------------------------------------------------------------------- the tab
def build(ctx: AppContext, demo: gr.Blocks, tab: gr.Tab) -> None:
    job = ctx.job
    shared = SharedPictures(ctx.scratch.folder("train-"))
    d = TrainConfig()

    with gr.Row():
        with gr.Column(scale=1, min_width=300):
            dataset = gr.Dropdown(dataset_choices(ctx), value=d.dataset, label="Data set", elem_id="train-dataset")
            model = gr.Dropdown(model_choices(d.dataset), value=d.model, label="Model", elem_id="train-model")
            optimizer = gr.Radio(OPTIMIZER_CHOICES, value=d.optimizer, label="Optimizer", elem_id="train-optimizer")
            lr = gr.Number(d.lr, label="Learning rate (peak)", minimum=LIMITS["lr"].low, maximum=LIMITS["lr"].high,
                           step=0.001, elem_id="train-lr",
                           info="Picking an optimizer fills in a value that works for it")
            with gr.Row():
                batch = gr.Dropdown(BATCH_SIZES, value=d.batch_size, label="Batch size", elem_id="train-batch",
                                    allow_custom_value=True)
                epochs = gr.Slider(LIMITS["epochs"].low, LIMITS["epochs"].high, value=d.epochs, step=1,
                                   label="Epochs", elem_id="train-epochs")
            budget = gr.Slider(LIMITS["time_budget_s"].low, LIMITS["time_budget_s"].high, value=d.time_budget_s,
                               step=10, label="Time budget (s, 0 = no limit)", elem_id="train-budget")
            train_size = gr.Dropdown(TRAIN_SIZES, value=d.train_size, label="Training images",
                                     elem_id="train-size", allow_custom_value=True,
                                     info="fewer images: faster epochs, lower accuracy")
            augment = gr.Checkbox(d.augment, label="Augment (random small shifts and turns)", elem_id="train-augment")
            key = gr.Textbox(label="Teacher key", type="password", visible=bool(ctx.config.teacher_key),
                             elem_id="train-key", placeholder="needed to start or stop a run")
            with gr.Row():
                train_btn = gr.Button("Train", variant="primary", elem_id="train-start")
                stop_btn = gr.Button("Stop", variant="stop", interactive=False, elem_id="train-stop")
            race_btn = gr.Button("Optimizer race: SGD vs Momentum vs RMSprop vs Adam", elem_id="train-race")
            notice = gr.Markdown("", elem_id="train-notice")
            steering = steer_ui.build(job, key, notice, d.lr)
            editor = builder_ui.build(ctx, dataset, model)
        with gr.Column(scale=2, min_width=400):
            status = gr.Markdown(job.state().status, elem_id="train-status")
            with gr.Row():
                loss_plot = gr.LinePlot(x="epoch", y="value", color="series", color_map=CURVE_COLORS,
                                        y_lim=[0, 2.5], x_lim=[0, d.epochs], x_title="epoch", y_title="loss",
                                        label="Loss (lower is better)", elem_id="train-loss")
                acc_plot = gr.LinePlot(x="epoch", y="value", color="series", color_map=CURVE_COLORS,
                                       y_lim=[0, 1], x_lim=[0, d.epochs], x_title="epoch", y_title="accuracy",
                                       label="Validation accuracy (higher is better)",
                                       elem_id="train-acc")
            race_plot = gr.LinePlot(x="step", y="loss", color="optimizer", color_map=RACE_COLORS,
                                    y_lim=[0, 2.5], x_lim=[0, RACE_STEPS], x_title="step", y_title="train loss",
                                    label="Optimizer race: train loss on the same batches",
                                    visible=False, elem_id="train-race-plot")
            gr.Markdown("**16 test pictures and what the network says they are** "
                        f"(<span style='color:{RIGHT}'>✓ blue: right</span>, "
                        f"<span style='color:{WRONG}'>✗ orange: wrong</span>)")
            grid = gr.HTML(IDLE_GRID, elem_id="train-grid")
            results = gr.Markdown("", elem_id="train-results")
            cm_image = gr.Image(label="Confusion matrix", show_label=False, visible=False, interactive=False,
                                height=480, elem_id="train-confusion")
            mistakes_image = gr.Image(label="Most confident mistakes", show_label=False, visible=False,
                                      interactive=False, elem_id="train-mistakes")
            reliability_image = gr.Image(label=TEXT["reliability"], show_label=False, visible=False,
                                         interactive=False, elem_id="train-reliability")
            with gr.Row():
                download = gr.DownloadButton("Download checkpoint", value=shared.download(job.state().latest),
                                             visible=job.state().latest is not None, elem_id="train-download")
                upload = gr.File(label="Upload a checkpoint (.pt) to use it as the latest run",
                                 file_types=[".pt"], type="filepath", elem_id="train-upload")
    seen = gr.State({"version": -1})
    timer = gr.Timer(TICK_S)

    controls = [dataset, model, optimizer, lr, batch, epochs, budget, train_size, augment]
    layers = editor["layers"]                   # the builder's stack (per user; not an API parameter)

    def train_start(dataset: str = d.dataset, model: str = d.model, optimizer: str = d.optimizer,
                    lr: float = d.lr, batch_size: int = d.batch_size, epochs: int = d.epochs,
                    time_budget_s: float = d.time_budget_s, train_size: int = d.train_size,
                    augment: bool = d.augment, teacher_key: str | None = None, layers: list | None = None) -> str:
        return _launch(job.start, make_config(dataset, model, optimizer, lr, batch_size, epochs, time_budget_s,
                                              train_size, augment, layers), teacher_key)

    def train_race(dataset: str = d.dataset, model: str = d.model, optimizer: str = d.optimizer,
                   lr: float = d.lr, batch_size: int = d.batch_size, epochs: int = d.epochs,
                   time_budget_s: float = d.time_budget_s, train_size: int = d.train_size,
                   augment: bool = d.augment, teacher_key: str | None = None, layers: list | None = None) -> str:
        return _launch(job.start_race, make_config(dataset, model, optimizer, lr, batch_size, epochs, time_budget_s,
                                                   train_size, augment, layers), teacher_key)

    def _launch(start, config: TrainConfig, teacher_key: str | None) -> str:
        """Start a run (or the race) with ``config``; a warning when the job refused it."""
        before = job.state().run_id
        return _started(before, start(config, teacher_key))

    def start_built(*values):
        """The builder's own Train button: the same run with the student's stack as the model."""
        dataset_name, _, *rest = values
        return train_start(dataset_name, BUILT, *rest)

    def _started(before: int, message: str) -> str:
        if job.state().run_id == before:
            gr.Warning(message)
        return message

    def train_stop(teacher_key: str | None = None) -> str:
        return job.stop(teacher_key)

    def train_upload_checkpoint(checkpoint, teacher_key: str | None = None):
        if not checkpoint:
            return gr.skip(), gr.skip()
        try:
            message = job.use_checkpoint(checkpoint, teacher_key)
        except CheckpointError as err:
            raise gr.Error(str(err)) from None
        return message, None

    def refresh(state):
        snap = job.state()
        if state.get("version") == snap.version:
            return [gr.skip()] * len(outputs)                    # nothing new: send nothing
        return render(snap, state)

    def render(snap, state) -> dict:
        out = {status: snap.status}
        top = loss_ceiling(snap)
        loss = frame(list(snap.loss) + steer_ui.marker_rows(snap.markers, top), ("epoch", "value", "series"))
        loss = drawable(loss.assign(value=loss["value"].clip(upper=top)), LOSS_SERIES)
        accuracy = drawable(frame(snap.accuracy, ("epoch", "value", "series")), ["validation accuracy"])
        race = frame(snap.race, ("step", "loss", "optimizer"))
        race = drawable(race.assign(loss=race["loss"].clip(upper=top)), list(RACE_COLORS))
        if state.get("mode") != snap.mode or state.get("run") != snap.run_id:
            racing = snap.mode == "race"
            epochs_lim = [0, snap.epochs or d.epochs]
            out[loss_plot] = gr.LinePlot(loss, visible=not racing, x_lim=epochs_lim, y_lim=[0, top])
            out[acc_plot] = gr.LinePlot(accuracy, visible=not racing, x_lim=epochs_lim)
            out[race_plot] = gr.LinePlot(race, visible=racing, y_lim=[0, top])
        elif snap.mode == "race":
            out[race_plot] = race
        else:
            out[loss_plot] = loss
            if state.get("acc_n") != len(snap.accuracy):
                out[acc_plot] = accuracy
        grid_state = (snap.run_id, tuple(snap.grid.predictions or ()) if snap.grid else None)
        if state.get("grid") != grid_state:
            out[grid] = grid_html(snap.grid, shared.uris(snap)) if snap.grid else IDLE_GRID
        done = snap.results is not None
        if state.get("results") != (snap.run_id, done):
            cm, mistakes, reliability = shared.results(snap) if done else (None, None, None)
            out[results] = "\n\n".join(filter(None, [results_markdown(snap), steer_ui.changes_text(snap.markers)]))
            out[cm_image] = gr.Image(cm, visible=cm is not None)
            out[mistakes_image] = gr.Image(mistakes, visible=mistakes is not None)
            out[reliability_image] = gr.Image(reliability, visible=reliability is not None)
        if state.get("running") != snap.running:
            out[train_btn] = gr.Button(interactive=not snap.running)
            out[race_btn] = gr.Button(interactive=not snap.running)
            out[stop_btn] = gr.Button(interactive=snap.running)
        if state.get("latest") != (snap.latest, done):
            path = shared.download(snap.latest)
            out[download] = gr.DownloadButton(value=path, visible=path is not None)
        out.update(steering["render"](snap, state))
        out[seen] = {"steer": steering["key"](snap), "version": snap.version, "run": snap.run_id,
                     "mode": snap.mode, "acc_n": len(snap.accuracy),
                     "grid": grid_state, "results": (snap.run_id, done), "running": snap.running,
                     "latest": (snap.latest, done)}
        return out

    outputs = [status, loss_plot, acc_plot, race_plot, grid, results, cm_image, mistakes_image, reliability_image,
               train_btn, race_btn, stop_btn, download, seen] + steering["components"]
    # preprocess=False: the settings reach make_config as sent, so a value out of range (or a word
    # where a number belongs) gets the sentence naming the allowed range, not Gradio's own message.
    control = dict(concurrency_limit=None, concurrency_id="train-control", show_progress="hidden")
    train_btn.click(train_start, controls + [key, layers], notice, api_name="train_start", preprocess=False,
                    api_description="Start the class's shared training run (everyone watches it live; "
                    "/train_snapshot follows it). model: mlp, cnn, lenet, cnn-deep or lstm for mnist and "
                    "fashion, transfer for flowers5. The teacher key too when the app has one.", **control)
    race_btn.click(train_race, controls + [key, layers], notice, api_name="train_race", preprocess=False,
                   api_description="Race SGD, Momentum, RMSprop and Adam on the same batches (MNIST or "
                   "Fashion-MNIST; this model, batch size and seed; each optimizer at its usual rate).",
                   **control)
    builder_ui.wire_code(ctx, editor, controls + [layers], make_config)
    editor["train"].click(start_built, controls + [key, layers], notice, api_name=False, **control)
    stop_btn.click(train_stop, key, notice, api_name="train_stop",
                   api_description="Stop the shared run after the current batch; the model so far is kept.",
                   **control)
    upload.upload(train_upload_checkpoint, [upload, key], [notice, upload], api_name="train_upload_checkpoint",
                  api_description="Make an uploaded cnnlab checkpoint (.pt) the 'latest run' for every tab.",
                  concurrency_limit=2, show_progress="minimal")
    timer.tick(refresh, seen, outputs, api_visibility="private", concurrency_limit=None,
               concurrency_id="train-refresh", show_progress="hidden")
    demo.load(refresh, seen, outputs, api_name=False, concurrency_limit=None,
              concurrency_id="train-refresh", show_progress="hidden")
    dataset.change(lambda name: gr.Dropdown(choices=model_choices(name), value=models_for(get_spec(name))[0]
                                            if TrainConfig().model not in models_for(get_spec(name))
                                            else TrainConfig().model),
                   dataset, model, queue=False, api_name=False)
    optimizer.input(lambda name: SUGGESTED_LR.get(name, d.lr), optimizer, lr, queue=False, api_name=False)

    def train_snapshot() -> dict:
        """The shared run as JSON: state, status, progress, curves, the 16 guesses, results."""
        return job.state().to_dict()

    gr.api(train_snapshot, api_name="train_snapshot", concurrency_limit=None,
           api_description="The shared run as JSON: state, status, progress, curves, the 16 test pictures' "
           "guesses and, at the end, the results.")
