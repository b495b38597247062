"""Train tab: the teacher clicks Train and the whole class watches one shared run learn, live.

Each page follows the shared ``ctx.job`` (cnnlab.server.jobs.TrainJob) with one long poll
(train_feed.py): what changes while a run goes (status, curves, the 16 guesses) is set by the page
itself, and the page asks this tab's refresh only when what the server draws changed (a new run,
its end, the buttons, the results, the compared runs). A viewer's gr.State remembers what it
already shows, so a refresh sends only what is new. What viewers see is drawn once per run version
and language (``SharedViews``: curves, the 16 guesses, the status) and reused by every viewer; the
confusion matrix and mistake pictures once per run and language. The job hands plain rows and
Texts; the DataFrames gr.LinePlot wants are made here, and every word (the shared status included)
is rendered in each viewer's language (cnnlab/i18n, section "train").
"""
from __future__ import annotations

import json
from pathlib import Path

import gradio as gr

from ..config import LIMITS, TrainConfig
from ..core.checks import check_train
from ..core.datasets import DATASETS, get_spec
from ..core.nets.builder import BUILT
from ..core.nets.models import models_for
from ..core.plots import RIGHT, WRONG
from ..core.race import RACE_STEPS
from ..i18n import DEFAULT, Text, tr
from . import builder as builder_ui
from . import runs as runs_ui
from . import steer as steer_ui
from .common import job_reply, refusing, teacher_only
from .context import AppContext
from .inputs import flag, number
from .lang import T, lang_of
from .train_feed import REFRESH_SPREAD_S, TrainFeed
from .train_views import CURVE_COLORS, RACE_COLORS, SharedPictures, SharedViews, idle_grid, plot_payload

TICK_S = 1.0                 # at most this often a page hears of the shared run: once per validation point
WEB = Path(__file__).resolve().parent / "web"
FEED_JS = (WEB / "train_feed.js").read_text(encoding="utf-8")
FEED_TO_OUTPUTS = (WEB / "train_feed_outputs.js").read_text(encoding="utf-8")
OPTIMIZER_CHOICES = [("SGD", "sgd"), ("Momentum", "momentum"), ("RMSprop", "rmsprop"), ("Adam", "adam")]
# A sensible peak learning rate per optimizer (one-cycle schedule), filled in when one is picked.
SUGGESTED_LR = {"sgd": 0.1, "momentum": 0.05, "rmsprop": 1e-3, "adam": TrainConfig().lr}
BATCH_SIZES = [b for b in (16, 32, 64, 128, 256, 512, 1024) if b <= LIMITS["batch_size"].high]
TRAIN_SIZES = [(T("train.all_images") if n == 0 else f"{n:,}", n) for n in (0, 1000, 5000, 10000, 30000)
               if n <= LIMITS["train_size"].high]


def dataset_choices(ctx: AppContext) -> list[tuple]:
    """Every data set, except Flowers-102 unless its files are there (it is 300+ MB)."""
    present = (Path(ctx.data_root) / DATASETS["flowers102"].folder).is_dir()
    return [(T(f"datasets.{s.name}"), s.name) for s in DATASETS.values() if s.name != "flowers102" or present]


def model_choices(dataset: str, lang: str | None = None) -> list[tuple]:
    """The models that fit ``dataset``: labels the browser translates (``lang`` None), or rendered
    in ``lang`` for a handler's update."""
    def label(key):
        return T(key) if lang is None else tr(lang, key)
    own = [] if get_spec(dataset).kind == "photo" else [(label("builder.model_choice"), BUILT)]
    return [(label(f"models.{m}"), m) for m in models_for(get_spec(dataset))] + own


def make_config(dataset, model, optimizer, lr, batch_size, epochs, budget, train_size, augment,
                layers=None, lang: str = DEFAULT) -> TrainConfig:
    """The run's settings from the widgets (or an API caller's raw values); a gr.Error that names the
    allowed range for the first setting the server refuses (limits: cnnlab.config.LIMITS), in
    ``lang``. ``layers``: the network builder's stack, used when the model is the student's own ("custom")."""
    d = TrainConfig()
    config = TrainConfig(dataset=dataset or d.dataset, model=model or d.model, optimizer=optimizer or d.optimizer,
                         lr=number("lr", lr, d.lr),
                         batch_size=number("batch_size", batch_size, d.batch_size),
                         epochs=number("epochs", epochs, d.epochs),
                         time_budget_s=float(number("time_budget_s", budget, d.time_budget_s)),
                         train_size=number("train_size", train_size, d.train_size),
                         augment=flag(Text("limits.augment"), augment, d.augment),
                         layers=list(layers) if model == BUILT and isinstance(layers, list) else None)
    return check_train(config)


# ---------------------------------------------------------------------- drawing the shared state
def build(ctx: AppContext, demo: gr.Blocks, tab: gr.Tab) -> dict:
    job = ctx.job
    shared = SharedPictures(ctx.scratch.folder("train-"))
    d = TrainConfig()
    # The page's long poll (train_feed.py): no request a second per phone; hidden, in the DOM.
    feed = gr.HTML("", html_template="", js_on_load=FEED_JS, visible="hidden", elem_id="train-feed",
                   apply_default_css=False, tick_s=TICK_S, spread_s=REFRESH_SPREAD_S)

    with gr.Row():
        with gr.Column(scale=1, min_width=300):
            dataset = gr.Dropdown(dataset_choices(ctx), value=d.dataset, label=T("train.dataset"),
                                  elem_id="train-dataset")
            model = gr.Dropdown(model_choices(d.dataset), value=d.model, label=T("train.model"), elem_id="train-model")
            optimizer = gr.Radio(OPTIMIZER_CHOICES, value=d.optimizer, label=T("train.optimizer"),
                                 elem_id="train-optimizer")
            lr = gr.Number(d.lr, label=T("train.lr"), minimum=LIMITS["lr"].low, maximum=LIMITS["lr"].high,
                           step=0.001, elem_id="train-lr", info=T("train.lr_info"))
            with gr.Row():
                batch = gr.Dropdown(BATCH_SIZES, value=d.batch_size, label=T("train.batch_size"), elem_id="train-batch",
                                    allow_custom_value=True)
                epochs = gr.Slider(LIMITS["epochs"].low, LIMITS["epochs"].high, value=d.epochs, step=1,
                                   label=T("train.epochs"), elem_id="train-epochs")
            budget = gr.Slider(LIMITS["time_budget_s"].low, LIMITS["time_budget_s"].high, value=d.time_budget_s,
                               step=10, label=T("train.budget"), elem_id="train-budget")
            train_size = gr.Dropdown(TRAIN_SIZES, value=d.train_size, label=T("train.train_size"),
                                     elem_id="train-size", allow_custom_value=True, info=T("train.train_size_info"))
            augment = gr.Checkbox(d.augment, label=T("train.augment"), elem_id="train-augment")
            key = gr.Textbox(label=T("train.teacher_key"), type="password", visible=bool(ctx.config.teacher_key),
                             elem_id="train-key", placeholder=T("train.teacher_key_placeholder"))
            with gr.Row():
                train_btn = gr.Button(T("train.train"), variant="primary", elem_id="train-start")
                stop_btn = gr.Button(T("train.stop"), variant="stop", interactive=False, elem_id="train-stop")
            race_btn = gr.Button(T("train.race"), elem_id="train-race")
            notice = gr.Markdown("", elem_id="train-notice")
            steering = steer_ui.build(job, key, notice, d.lr)
            editor = builder_ui.build(ctx, dataset, model)
        with gr.Column(scale=2, min_width=400):
            status = gr.Markdown("", elem_id="train-status")        # the job's status, in each viewer's language
            with gr.Row():
                loss_plot = gr.LinePlot(x="epoch", y="value", color="series", color_map=CURVE_COLORS,
                                        y_lim=[0, 2.5], x_lim=[0, d.epochs], x_title="epoch", y_title="loss",
                                        label=T("train.loss_plot"), elem_id="train-loss")
                acc_plot = gr.LinePlot(x="epoch", y="value", color="series", color_map=CURVE_COLORS,
                                       y_lim=[0, 1], x_lim=[0, d.epochs], x_title="epoch", y_title="accuracy",
                                       label=T("train.acc_plot"), elem_id="train-acc")
            race_plot = gr.LinePlot(x="step", y="loss", color="optimizer", color_map=RACE_COLORS,
                                    y_lim=[0, 2.5], x_lim=[0, RACE_STEPS], x_title="step", y_title="train loss",
                                    label=T("train.race_plot"), visible=False, elem_id="train-race-plot")
            gr.HTML(T("train.grid_legend"), elem_id="train-grid-legend", js_on_load=None,
                    css_template=f".right {{color: {RIGHT}}} .wrong {{color: {WRONG}}}")
            grid = gr.HTML(idle_grid(), elem_id="train-grid")
            results = gr.Markdown("", elem_id="train-results")
            cm_image = gr.Image(label=T("train.confusion"), show_label=False, visible=False, interactive=False,
                                height=480, elem_id="train-confusion")
            mistakes_image = gr.Image(label=T("train.mistakes"), show_label=False, visible=False,
                                      interactive=False, elem_id="train-mistakes")
            reliability_image = gr.Image(label=T("train.reliability"), show_label=False, visible=False,
                                         interactive=False, elem_id="train-reliability")
            with gr.Row():
                download = gr.DownloadButton(T("train.download"), value=shared.download(job.state().latest),
                                             visible=job.state().latest is not None, elem_id="train-download")
                upload = gr.File(label=T("train.upload"), file_types=[".pt"], type="filepath",
                                 elem_id="train-upload")
            compare = runs_ui.build(ctx, {"dataset": dataset, "epochs": epochs, "train_size": train_size,
                                          "augment": augment}, key, notice, make_config, feed)
    seen = gr.State({"version": -1})

    controls = [dataset, model, optimizer, lr, batch, epochs, budget, train_size, augment]
    layers = editor["layers"]                   # the builder's stack (per user; not an API parameter)

    @teacher_only(ctx.teacher)
    def train_start(dataset: str = d.dataset, model: str = d.model, optimizer: str = d.optimizer,
                    lr: float = d.lr, batch_size: int = d.batch_size, epochs: int = d.epochs,
                    time_budget_s: float = d.time_budget_s, train_size: int = d.train_size,
                    augment: bool = d.augment, teacher_key: str | None = None, layers: list | None = None,
                    request: gr.Request = None) -> str:
        lang = lang_of(request)
        return _launch(job.start, make_config(dataset, model, optimizer, lr, batch_size, epochs, time_budget_s,
                                              train_size, augment, layers, lang), teacher_key, lang)

    @teacher_only(ctx.teacher)
    def train_race(dataset: str = d.dataset, model: str = d.model, optimizer: str = d.optimizer,
                   lr: float = d.lr, batch_size: int = d.batch_size, epochs: int = d.epochs,
                   time_budget_s: float = d.time_budget_s, train_size: int = d.train_size,
                   augment: bool = d.augment, teacher_key: str | None = None, layers: list | None = None,
                   request: gr.Request = None) -> str:
        lang = lang_of(request)
        return _launch(job.start_race, make_config(dataset, model, optimizer, lr, batch_size, epochs, time_budget_s,
                                                   train_size, augment, layers, lang), teacher_key, lang)

    def _launch(start, config: TrainConfig, teacher_key: str | None, lang: str = DEFAULT) -> str:
        """Start a run (or the race) with ``config``; a warning when the job refused it."""
        return job_reply(start(config, teacher_key), lang, "jobs.started")

    def start_built(dataset_name, _model, optimizer, lr, batch_size, epochs, time_budget_s, train_size, augment,
                    teacher_key, layers, request: gr.Request = None):
        """The builder's own Train button: the same run with the student's stack as the model."""
        return train_start(dataset_name, BUILT, optimizer, lr, batch_size, epochs, time_budget_s, train_size,
                           augment, teacher_key, layers, request)

    @teacher_only(ctx.teacher)
    def train_stop(teacher_key: str | None = None, request: gr.Request = None) -> str:
        return job_reply(job.stop(teacher_key), lang_of(request), "jobs.stopping")

    @teacher_only(ctx.teacher)
    def train_upload_checkpoint(checkpoint, teacher_key: str | None = None, request: gr.Request = None):
        lang = lang_of(request)
        if not checkpoint:
            return gr.skip(), gr.skip()
        return job_reply(job.use_checkpoint(checkpoint, teacher_key), lang, "jobs.loaded"), None

    @refusing
    def refresh(state, request: gr.Request = None):
        snap = job.state()
        if state.get("version") == snap.version:
            return [gr.skip()] * len(outputs)                    # nothing new: send nothing
        return render(snap, state, lang_of(request))

    def server_key(snap) -> str:
        """What only ``render`` draws, as the text the page compares (it asks for a refresh when
        this changes, and skips one when ``render`` has drawn it: train_feed.py, train_feed.js)."""
        return json.dumps([snap.run_id, snap.mode, snap.running, snap.results is not None, snap.latest,
                           list(steering["key"](snap)), compare["key"](snap)])

    def render(snap, state, lang: str = DEFAULT) -> dict:
        """What this viewer lacks, taken from the version's shared View."""
        view = views.get(snap, lang)
        out = {status: view.status}
        if state.get("mode") != snap.mode or state.get("run") != snap.run_id:
            racing = snap.mode == "race"
            epochs_lim = [0, snap.epochs or d.epochs]
            epoch, curve = tr(lang, "train.axis_epoch"), tr(lang, "train.legend_curve")
            out[loss_plot] = gr.LinePlot(view.loss, visible=not racing, x_lim=epochs_lim, y_lim=[0, view.top],
                                         x_title=epoch, y_title=tr(lang, "train.axis_loss"), color_title=curve)
            out[acc_plot] = gr.LinePlot(view.accuracy, visible=not racing, x_lim=epochs_lim, x_title=epoch,
                                        y_title=tr(lang, "train.axis_accuracy"), color_title=curve)
            out[race_plot] = gr.LinePlot(view.race, visible=racing, y_lim=[0, view.top],
                                         x_title=tr(lang, "train.axis_step"), y_title=tr(lang, "train.axis_train_loss"),
                                         color_title=tr(lang, "train.legend_optimizer"))
        elif snap.mode == "race":
            out[race_plot] = view.payloads["race"]
        else:
            out[loss_plot] = view.payloads["loss"]
            if state.get("acc_n") != len(snap.accuracy):
                out[acc_plot] = view.payloads["accuracy"]
        if state.get("grid") != view.grid_key:
            out[grid] = view.grid
        done = snap.results is not None
        if state.get("results") != view.results_key:
            # Drawn at the first refresh that needs them, not in the shared view: the Train feed
            # (which reads the view) never waits for matplotlib.
            cm, mistakes, reliability = shared.results(snap, lang) if done else (None, None, None)
            out[results] = view.results
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
        # The page's feed hears of this drawing too, so it does not ask for it again (train_feed.js).
        out[feed] = gr.HTML(drawn=server_key(snap))
        out[seen] = {"steer": steering["key"](snap), "version": snap.version, "run": snap.run_id,
                     "mode": snap.mode, "acc_n": len(snap.accuracy),
                     "grid": view.grid_key, "results": view.results_key, "running": snap.running,
                     "latest": (snap.latest, done)}
        return out

    views = SharedViews(shared, lambda rows: plot_payload(loss_plot, rows))
    outputs = [status, loss_plot, acc_plot, race_plot, grid, results, cm_image, mistakes_image, reliability_image,
               train_btn, race_btn, stop_btn, download, seen, feed] + steering["components"]
    # preprocess=False: the settings reach make_config as sent, so a value out of range (or a word
    # where a number belongs) gets the sentence naming the allowed range, not Gradio's own message.
    control = dict(concurrency_limit=None, concurrency_id="train-control", show_progress="hidden")
    controlled = [
        train_btn.click(train_start, controls + [key, layers], notice, api_name="train_start", preprocess=False,
                        api_description="Start the class's shared training run (everyone watches it live; "
                        "/train_snapshot follows it). model: mlp, cnn, lenet, cnn-deep or lstm for mnist and "
                        "fashion, transfer for flowers5. The teacher key too when the app has one.", **control),
        race_btn.click(train_race, controls + [key, layers], notice, api_name="train_race", preprocess=False,
                       api_description="Race SGD, Momentum, RMSprop and Adam on the same batches (MNIST or "
                       "Fashion-MNIST; this model, batch size and seed; each optimizer at its usual rate).",
                       **control),
        editor["train"].click(start_built, controls + [key, layers], notice, api_name=False, **control),
        stop_btn.click(train_stop, key, notice, api_name="train_stop",
                       api_description="Stop the shared run after the current batch; the model so far is kept.",
                       **control),
        upload.upload(train_upload_checkpoint, [upload, key], [notice, upload], api_name="train_upload_checkpoint",
                      api_description="Make an uploaded cnnlab checkpoint (.pt) the 'latest run' for every tab.",
                      concurrency_limit=2, show_progress="minimal"),
        *steering["events"], *compare["events"]]
    builder_ui.wire_code(ctx, editor, controls + [layers], make_config)
    # The page that pressed a button sees its effect at once (the others within the feed's spread_s).
    for event in controlled:
        event.then(refresh, seen, outputs, api_name=False, queue=False, show_progress="hidden")
    # The feed's cheap part, set by the page itself (a browser-only event: no request) ...
    feed.change(None, feed, [status, loss_plot, acc_plot, race_plot, grid], js=FEED_TO_OUTPUTS,
                show_progress="hidden")
    # ... and the refresh, when the page's first answer comes and when what only the server draws
    # changed. queue=False: one short POST answered at once (no queue join, no event stream).
    feed.input(refresh, seen, outputs, api_name=False, queue=False, show_progress="hidden")

    @refusing
    def pick_dataset(name, request: gr.Request = None):
        fits = models_for(get_spec(name))
        return gr.Dropdown(choices=model_choices(name, lang_of(request)),
                           value=fits[0] if TrainConfig().model not in fits else TrainConfig().model)

    dataset.change(pick_dataset, dataset, model, queue=False, api_name=False)
    optimizer.input(lambda name: SUGGESTED_LR.get(name, d.lr), optimizer, lr, queue=False, api_name=False)

    @refusing
    def train_snapshot(request: gr.Request = None) -> dict:
        """The shared run as JSON: state, status (in the caller's language), progress, curves, the 16
        guesses, results."""
        return job.state().to_dict(lang_of(request))

    gr.api(train_snapshot, api_name="train_snapshot", concurrency_limit=None,
           api_description="The shared run as JSON: state, status, progress, curves, the 16 test pictures' "
           "guesses and, at the end, the results.")
    return {"train_feed": TrainFeed(job, views, server_key)}
