"""Weather tab: the course's regression lesson. A small network predicts today's maximum
temperature in Seattle from the days before (train 2012-2014, test 2015), next to the simple
answers it has to beat; or a student's own CSV, the same way.

Training is per student (each one's own settings, their own curves), and cheap: the course's net
has ~2,000 weights. Every run is a sequence of short chunks (``Run.advance``: at most CHUNK_STEPS
steps and CHUNK_S seconds) executed by low-priority worker threads (``weather.Worker``, one per
core, one PyTorch thread each) shared by all students, first come first served; the handler is
an async generator, so a student who waits for their next chunk holds no server thread. At most
TRAIN_CONCURRENCY runs are in progress (the rest wait in Gradio's queue, seeing their place), and
each is bounded by weather.MAX_STEPS.
Drawing and photo requests have their own queues and run at normal priority, so they go first.
"""
from __future__ import annotations

import asyncio
import time

import gradio as gr
import numpy as np
import pandas as pd

from ..core.threads import cpu_cores
from ..i18n import DEFAULT, Refusal, Text, languages, say, tr
from ..lessons import weather as tb
from .common import refusing
from .context import AppContext
from .lang import T, lang_of
from .train_views import drawable

CHUNK_STEPS = 400            # the most steps one student's turn on the worker takes
CHUNK_S = 0.15               # ... and the most seconds
TRAIN_CONCURRENCY = 8        # runs in progress at once; the others wait in the queue
LOSS_EVERY_S = 1.0           # the loss curve refreshes at most this often (a phone redraws every plot it gets)
PLOT_EVERY_S = 3.0           # the dates plot, scatter and table at most this often
MAX_LOSS_POINTS = 400        # per series; longer curves are thinned
BATCH_SIZES = [1, 8, 16, 32, 64, 128, 256, 1024]

# Every word of the tab is in cnnlab/i18n (section "weather"). The series of the plots are named in
# the reader's language, so their colours are keyed by each series' key.
UNIT_WEATHER = " °C"
SERIES_COLORS = {"series_train": "#0072B2", "series_test": "#E69F00", "series_actual": "#0072B2",
                 "series_predicted": "#D55E00", "series_points": "#D55E00", "series_diagonal": "#999999"}
REFERENCE_COLORS = ("#999999", "#009E73")
# cnnlab.lessons.weather.table's names of the simple answers -> their keys in the "weather.baselines" section
BASELINES = {"always the training mean": "mean", "same as yesterday": "yesterday",
             "historical average": "average", "linear regression (scikit-learn)": "linear"}
LOSS_CHOICES = [(T("weather.loss_mse"), "mse"), (T("weather.loss_mae"), "mae"), (T("weather.loss_huber"), "huber")]
VERSION_CHOICES = [(T("weather.version_nn"), "nn"), (T("weather.version_manual"), "manual")]
OPTIMIZER_CHOICES = [(T(f"playground.optimizers.{k}"), k) for k in ("adam", "sgd", "momentum", "rmsprop")]
ACTIVATION_CHOICES = [(T(f"playground.activations.{k}"), k) for k in tb.ACTIVATIONS]


def series(name: str, lang: str = DEFAULT) -> str:
    """A plot series' name (``"series_train"`` ...) as the reader sees it."""
    return tr(lang, f"weather.{name}")


def colors(lang: str = DEFAULT) -> dict[str, str]:
    return {series(k, lang): c for k, c in SERIES_COLORS.items()}


def baseline_name(name: str, lang: str = DEFAULT) -> str:
    return tr(lang, f"weather.baselines.{BASELINES[name]}") if name in BASELINES else name


# ----------------------------------------------------------------------------- pure helpers
def settings_from(version, hidden, activation, optimizer, lr, batch, epochs, loss,
                  lang: str = DEFAULT) -> tb.RegressionSettings:
    d = tb.RegressionSettings()

    def given(value, default):
        return default if value is None or value == "" else value

    try:
        s = tb.RegressionSettings(version=version or d.version, hidden=int(given(hidden, d.hidden)),
                                  activation=activation or d.activation, optimizer=optimizer or d.optimizer,
                                  lr=float(given(lr, d.lr)), batch_size=int(given(batch, d.batch_size)),
                                  epochs=int(given(epochs, d.epochs)), loss=loss or d.loss)
    except (TypeError, ValueError):
        raise Refusal(Text("weather.bad_setting")) from None
    return tb.check_settings(s)


def thin(rows: list, n: int) -> list:
    """At most ``n`` rows, evenly spaced, the last one always kept."""
    if len(rows) <= n:
        return rows
    step = len(rows) / n
    return [rows[int(i * step)] for i in range(n - 1)] + [rows[-1]]


def reference_losses(table: tb.Table, loss: str, lang: str = DEFAULT) -> dict[str, float]:
    """The test loss of the simple answers the curve is compared with, in the run's loss."""
    import torch
    fn = tb.LOSSES[loss]
    base = tb.baselines(table)
    names = ["same as yesterday"] if "same as yesterday" in base else ["always the training mean"]
    names.append("linear regression (scikit-learn)")
    return {baseline_name(k, lang): fn(torch.tensor(base[k], dtype=torch.float32).reshape(-1, 1),
                                       table.y_test).item() for k in names}


def loss_frame(history, refs: dict[str, float], epochs: int, lang: str = DEFAULT) -> pd.DataFrame:
    train, test = series("series_train", lang), series("series_test", lang)
    rows = []
    for e, a, b in thin(history, MAX_LOSS_POINTS):
        rows += [(e, a, train), (e, b, test)]
    for name, v in refs.items():
        rows += [(0.0, v, name), (float(epochs), v, name)]
    f = pd.DataFrame(rows, columns=["epoch", "loss", "series"]).astype({"epoch": "float64", "loss": "float64"})
    return drawable(f, [train, test, *refs])


def loss_ceiling(refs: dict[str, float]) -> float:
    """A fixed top for the loss axis: four times the best simple answer's loss, so the end of the
    race with the baselines is what fills the plot (the first epochs' far larger losses are drawn
    at the top)."""
    return float(f"{4 * min(refs.values()):.2g}") or 1.0


def series_frame(table: tb.Table, predicted: np.ndarray | None, lang: str = DEFAULT) -> pd.DataFrame:
    """Actual and predicted target over the test rows' dates (or line numbers). Before training
    the predictions are NaN: gr.LinePlot only ever draws the series its first frame had."""
    x = table.index_test
    actual = table.y_test.numpy().ravel()
    predicted = np.full(len(actual), np.nan) if predicted is None else predicted
    return pd.concat([pd.DataFrame({"x": x, "value": actual, "series": series("series_actual", lang)}),
                      pd.DataFrame({"x": x, "value": predicted, "series": series("series_predicted", lang)})],
                     ignore_index=True)


def scatter_frame(table: tb.Table, predicted: np.ndarray | None, lang: str = DEFAULT) -> pd.DataFrame:
    """The test rows' (actual, predicted) points and the diagonal where they would be perfect."""
    actual = table.y_test.numpy().ravel()
    predicted = np.full(len(actual), np.nan) if predicted is None else predicted
    diag = np.linspace(float(actual.min()), float(actual.max()), 25)
    return pd.concat([pd.DataFrame({"actual": diag, "predicted": diag, "series": series("series_diagonal", lang)}),
                      pd.DataFrame({"actual": actual, "predicted": predicted,
                                    "series": series("series_points", lang)})],
                     ignore_index=True)


def score_table(table: tb.Table, predicted: np.ndarray | None, lang: str = DEFAULT) -> pd.DataFrame:
    preds = {baseline_name(k, lang): v for k, v in tb.baselines(table).items()}
    if predicted is not None:
        preds[tr(lang, "weather.network")] = predicted
    s = tb.scores(preds, table.y_test.numpy())
    if predicted is None:
        s = pd.concat([pd.DataFrame([{"method": tr(lang, "weather.network_pending"), "MAE": np.nan,
                                      "RMSE": np.nan}]), s], ignore_index=True)
    s = s.rename(columns={"method": tr(lang, "weather.col_method"), "MAE": tr(lang, "weather.col_mae"),
                          "RMSE": tr(lang, "weather.col_rmse")})
    return s.round(3)


def verdict(table: tb.Table, net_mae: float, unit: str, lang: str = DEFAULT) -> str:
    """Against "same as yesterday" for the weather, the training mean for a student's table."""
    base = tb.baselines(table)
    key = "same as yesterday" if "same as yesterday" in base else "always the training mean"
    b = tb.mae(base[key], table.y_test)
    name = baseline_name(key, lang)
    if net_mae < b:
        return tr(lang, "weather.beats", name=name, base=b, diff=b - net_mae, unit=unit)
    return tr(lang, "weather.loses", name=name, base=b, diff=net_mae - b, unit=unit)


def weather_rows(n: int = 8) -> pd.DataFrame:
    """The first training days of the lesson's table, as the network reads them (before scaling).
    The headers are the data's own column names (as in the course's temps.csv and the code)."""
    rows = tb.weather_features(tb.seattle_weather())
    out = rows.head(n).copy()
    out["date"] = out["date"].dt.strftime("%Y-%m-%d")
    return out.round(2)


def lesson_views(loss: str, epochs: int, lang: str = DEFAULT) -> dict:
    """The plots (their data, colours and axis titles) and the table before any training, in
    ``lang``: the loss curve (the simple answers only), the dates plot, the scatter, the errors."""
    lesson = tb.lesson_table()
    refs = reference_losses(lesson, loss, lang)
    return {
        "loss": dict(value=loss_frame([], refs, epochs, lang),
                     color_map={**colors(lang), **dict(zip(refs, REFERENCE_COLORS))},
                     x_title=tr(lang, "weather.loss_x"), y_title=tr(lang, "weather.loss_y")),
        "dates": dict(value=series_frame(lesson, None, lang), color_map=colors(lang),
                      x_title=tr(lang, "weather.dates_x"), y_title=tr(lang, "weather.dates_y", unit=UNIT_WEATHER)),
        "scatter": dict(value=scatter_frame(lesson, None, lang), color_map=colors(lang),
                        x_title=tr(lang, "weather.scatter_x", unit=UNIT_WEATHER),
                        y_title=tr(lang, "weather.scatter_y", unit=UNIT_WEATHER)),
        "scores": score_table(lesson, None, lang),
    }


# ----------------------------------------------------------------------------- the tab
def build(ctx: AppContext, demo: gr.Blocks, tab: gr.Tab) -> dict | None:
    worker = tb.Worker(threads=cpu_cores())
    d = tb.RegressionSettings()
    # The plots and the table before training, in each language (the page's load sends the reader's).
    before = {lang: lesson_views(d.loss, d.epochs, lang) for lang in languages()}
    gr.Markdown(T("weather.intro"), elem_id="weather-intro")
    with gr.Row(equal_height=False):
        with gr.Column(scale=1, min_width=300):
            source = gr.Radio([(T("weather.source_weather"), "weather"), (T("weather.source_csv"), "csv")],
                              value="weather", label=T("weather.source"), elem_id="weather-source")
            with gr.Group(visible=False) as csv_group:
                upload = gr.File(label=T("weather.csv_file"), file_types=[".csv", ".txt"], type="filepath",
                                 elem_id="weather-csv")
                csv_limits = gr.Markdown("", elem_id="weather-csv-limits")       # (the page's load fills it)
                csv_info = gr.Markdown(T("weather.csv_none"), elem_id="weather-csv-info")
                target = gr.Dropdown([], label=T("weather.csv_target"), elem_id="weather-target", interactive=True)
                features = gr.CheckboxGroup([], label=T("weather.csv_features"), elem_id="weather-features")
                split = gr.Radio([(T("weather.split_random"), "random"), (T("weather.split_last"), "last")],
                                 value="random", label=T("weather.csv_split"), elem_id="weather-split")
                drop = gr.Checkbox(False, label=T("weather.csv_drop"), elem_id="weather-drop")
            version = gr.Radio(VERSION_CHOICES, value=d.version, label=T("weather.version"),
                               info=T("weather.version_info"), elem_id="weather-version")
            with gr.Row():
                hidden = gr.Number(d.hidden, label=T("weather.hidden"), minimum=1, maximum=tb.MAX_HIDDEN, precision=0,
                                   elem_id="weather-hidden", min_width=120)
                activation = gr.Dropdown(ACTIVATION_CHOICES, value=d.activation, label=T("weather.activation"),
                                         elem_id="weather-activation", min_width=120)
            with gr.Row():
                optimizer = gr.Dropdown(OPTIMIZER_CHOICES, value=d.optimizer, label=T("weather.optimizer"),
                                        elem_id="weather-optimizer", min_width=120)
                lr = gr.Number(d.lr, label=T("weather.lr"), minimum=1e-6, maximum=1, step=0.0005, elem_id="weather-lr",
                               min_width=120)
            with gr.Row():
                batch = gr.Dropdown(BATCH_SIZES, value=d.batch_size, label=T("weather.batch"), allow_custom_value=True,
                                    elem_id="weather-batch", min_width=120)
                loss = gr.Dropdown(LOSS_CHOICES, value=d.loss, label=T("weather.loss"), elem_id="weather-loss",
                                   min_width=120)
            epochs = gr.Slider(1, tb.MAX_EPOCHS, value=d.epochs, step=1, label=T("weather.epochs"),
                               elem_id="weather-epochs")
            with gr.Row():
                train_btn = gr.Button(T("weather.train"), variant="primary", elem_id="weather-train", min_width=100)
                stop_btn = gr.Button(T("weather.stop"), variant="stop", interactive=False, elem_id="weather-stop",
                                     min_width=100)
            status = gr.Markdown(T("weather.idle"), elem_id="weather-status")
        with gr.Column(scale=2, min_width=300):
            first = before[DEFAULT]
            # color_title="": the legend needs no title (it would show the column's name, "series")
            loss_plot = gr.LinePlot(**first["loss"], x="epoch", y="loss", color="series", color_title="",
                                    x_lim=[0, d.epochs],
                                    y_lim=[0, loss_ceiling(reference_losses(tb.lesson_table(), d.loss))],
                                    label=T("weather.loss_plot"), elem_id="weather-loss-plot")
            dates_plot = gr.LinePlot(**first["dates"], x="x", y="value", color="series", color_title="",
                                     label=T("weather.dates_plot"), elem_id="weather-dates", tooltip="all")
            scatter = gr.ScatterPlot(**first["scatter"], x="actual", y="predicted", color="series", color_title="",
                                     label=T("weather.scatter_plot"), elem_id="weather-scatter", height=380)
            scores = gr.Dataframe(first["scores"], label=T("weather.table_label"), interactive=False,
                                  elem_id="weather-table", wrap=True)
    with gr.Accordion(T("weather.code_title"), open=False, elem_id="weather-code"):
        gr.Markdown(T("weather.code_note"))
        with gr.Row():
            gr.Code(tb.code_of("nn"), language="python", label=T("weather.code_nn"), interactive=False,
                    elem_id="weather-code-nn", min_width=300)
            gr.Code(tb.code_of("manual"), language="python", label=T("weather.code_manual"), interactive=False,
                    elem_id="weather-code-manual", min_width=300)
    with gr.Accordion(T("weather.rows_title"), open=False):
        gr.Dataframe(weather_rows(), interactive=False, elem_id="weather-rows", max_height=320)
    csv_path = gr.State(None)
    running: dict = {}               # session -> its run in progress, so that Stop reaches it at once

    # ---- handlers
    @refusing
    def start(request: gr.Request = None):
        """A new page: the limits of a CSV, and (for a reader not in English) the plots and the
        table in the reader's language."""
        lang = lang_of(request)
        if lang == DEFAULT:                   # the page was built in English
            return say(lang, tb.LIMITS_TEXT), gr.skip(), gr.skip(), gr.skip(), gr.skip()
        views = before[lang]
        return (say(lang, tb.LIMITS_TEXT), gr.LinePlot(**views["loss"]), gr.LinePlot(**views["dates"]),
                gr.ScatterPlot(**views["scatter"]), views["scores"])

    def choose_source(which):
        return gr.Group(visible=which == "csv")

    @refusing
    def read_upload(path, request: gr.Request = None):
        """Types the uploaded file's columns and offers them; a sentence for a file we cannot use."""
        lang = lang_of(request)
        if not path:
            return (None, tr(lang, "weather.csv_none"), gr.Dropdown(choices=[], value=None),
                    gr.CheckboxGroup(choices=[], value=[]))
        t = tb.read_csv_table(path)
        unusable = [tr(lang, "weather.csv_unusable_item", name=c.name, why=say(lang, c.why))
                    for c in t.columns if c.kind == "unusable"]
        info = tr(lang, "weather.csv_loaded", name=_file_name(path), rows=len(t.frame), cols=len(t.columns),
                  sep=tr(lang, "weather.separator_tab") if t.separator == "\t" else t.separator,
                  unusable=tr(lang, "weather.csv_unusable", items=tr(lang, "weather.item_sep").join(unusable))
                  if unusable else "")
        first = t.numeric[-1]
        labels = [(tr(lang, f"weather.csv_kind_{c.kind}", name=c.name, values=c.values), c.name) for c in t.columns]
        usable = [c.name for c in t.columns if c.kind != "unusable" and c.name != first]
        return (path, info, gr.Dropdown(choices=t.numeric, value=first),
                gr.CheckboxGroup(choices=labels, value=usable))

    @refusing
    def cleared(request: gr.Request = None):
        return read_upload(None, request)

    def pick_target(path, name, chosen):
        """The new target leaves the features; the old one (if usable) may be ticked again."""
        return gr.CheckboxGroup(value=[c for c in (chosen or []) if c != name])

    def version_defaults(v):
        if v == "manual":
            return tb.MANUAL_SETTINGS["activation"], tb.MANUAL_SETTINGS["lr"]
        return d.activation, d.lr

    def table_for(which, path, target_name, feature_names, drop_missing, split_kind, lang) -> tb.Table:
        if which != "csv":
            return tb.lesson_table()
        if not path:
            raise Refusal(Text("weather.csv_need_file"))
        if not target_name:
            raise Refusal(Text("weather.csv_need_target"))
        try:
            t = tb.read_csv_table(path)
            return tb.csv_table(t, target_name, list(feature_names or []), bool(drop_missing), split_kind or "random")
        except FileNotFoundError:
            raise Refusal(Text("weather.csv_gone")) from None

    # argument names = the API's parameter names
    @refusing
    async def run_training(which="weather", path=None, target_name=None, feature_names=None, drop_missing=False,
                           split_kind="random", version="nn", hidden=128, activation="sigmoid", optimizer="adam",
                           lr=0.001, batch_size=16, epochs=300, loss="mse", request: gr.Request = None):
        """Trains this student's network chunk by chunk on the shared worker, streaming the curves,
        the dates plot, the scatter and the table of errors."""
        lang = lang_of(request)
        settings = settings_from(version, hidden, activation, optimizer, lr, batch_size, epochs, loss, lang)
        # (a bad CSV raises here, before the buttons change)
        table = await asyncio.wrap_future(worker.submit(table_for, which, path, target_name, feature_names,
                                                        drop_missing, split_kind, lang))
        yield {status: tr(lang, "weather.queued"), train_btn: gr.Button(interactive=False),
               stop_btn: gr.Button(interactive=True)}
        weather = which != "csv"
        unit = UNIT_WEATHER if weather else ""
        run = await asyncio.wrap_future(worker.submit(tb.Run, table, settings))
        refs = await asyncio.wrap_future(worker.submit(reference_losses, table, settings.loss, lang))
        ceiling = loss_ceiling(refs)
        ylim = _value_range(table)
        started = time.perf_counter()
        yield {
            loss_plot: gr.LinePlot(loss_frame([], refs, settings.epochs, lang), x_lim=[0, settings.epochs],
                                   y_lim=[0, ceiling], color_map={**colors(lang), **dict(zip(refs, REFERENCE_COLORS))},
                                   x_title=tr(lang, "weather.loss_x"), y_title=tr(lang, "weather.loss_y")),
            dates_plot: gr.LinePlot(series_frame(table, None, lang), y_lim=ylim, color_map=colors(lang),
                                    x_title=tr(lang, "weather.dates_x") if weather else tr(lang, "weather.rows_x"),
                                    y_title=tr(lang, "weather.dates_y", unit=unit) if weather else table.target,
                                    label=tr(lang, "weather.dates_plot") if weather else tr(lang, "weather.rows_plot")),
            scatter: gr.ScatterPlot(scatter_frame(table, None, lang), x_lim=ylim, y_lim=ylim, color_map=colors(lang),
                                    x_title=tr(lang, "weather.scatter_x", unit=unit),
                                    y_title=tr(lang, "weather.scatter_y", unit=unit)),
            scores: score_table(table, None, lang),
        }
        session = getattr(request, "session_hash", None) or id(run)
        running[session] = run
        try:
            async for out in chunks(run, table, refs, ceiling, settings, unit, lang):
                yield out
        finally:
            if running.get(session) is run:
                running.pop(session)
        # after Stop, the summary is not queued behind other students' chunks on the low-priority
        # worker: it is tiny, and the run's own chunk ends at its next step
        summary = await (asyncio.to_thread(run.summary) if run.stopped else
                         asyncio.wrap_future(worker.submit(run.summary)))
        how = (tr(lang, "weather.how_stopped") if run.stopped else tr(lang, "weather.how_diverged") if run.diverged else
               tr(lang, "weather.how_capped", cap=tb.MAX_STEPS) if run.capped else tr(lang, "weather.how_finished"))
        text = tr(lang, "weather.finished", how=how, epochs=run.step / run.steps_per_epoch, steps=run.step,
                  seconds=time.perf_counter() - started, on=tr(lang, "weather.on_weather") if weather else "",
                  mae=summary["test_mae"], rmse=summary["test_rmse"], unit=unit,
                  verdict="" if run.diverged else verdict(table, summary["test_mae"], unit, lang))
        yield {status: text, train_btn: gr.Button(interactive=True), stop_btn: gr.Button(interactive=False)}

    async def chunks(run, table, refs, ceiling, settings, unit, lang):
        """The run's chunks on the shared worker and the updates they bring, until it is done or
        stopped (a Stop while a chunk still waits in the worker's queue ends the wait too)."""
        last_loss = last_plot = 0.0
        seen_epochs = 0
        async def unless_stopped(fn):
            """``fn()`` on the worker; None as soon as Stop is pressed, even while it still waits
            behind other students' chunks."""
            return await run.stop.until(asyncio.wrap_future(worker.submit(fn)))

        while not run.done:
            await unless_stopped(lambda: run.advance(CHUNK_STEPS, CHUNK_S))
            if run.stopped:
                return
            out = {}
            now = time.perf_counter()
            if len(run.history) > seen_epochs and (now - last_loss >= LOSS_EVERY_S or run.done):
                last_loss, seen_epochs = now, len(run.history)
                out[loss_plot] = loss_frame([(e, min(a, ceiling), min(b, ceiling)) for e, a, b in run.history],
                                            refs, settings.epochs, lang)
            if now - last_plot >= PLOT_EVERY_S or run.done:
                last_plot = now
                predicted = await unless_stopped(run.test_predictions)
                if run.stopped:
                    return
                if np.isfinite(predicted).all():
                    out[dates_plot] = series_frame(table, predicted, lang)
                    out[scatter] = scatter_frame(table, predicted, lang)
                    out[scores] = score_table(table, predicted, lang)
                    out[status] = tr(lang, "weather.running", epoch=run.step / run.steps_per_epoch,
                                     epochs=settings.epochs, step=run.step, total=run.total_steps,
                                     mae=tb.mae(predicted, table.y_test), unit=unit)
            if out:
                yield out

    demo.load(start, None, [csv_limits, loss_plot, dates_plot, scatter, scores], api_name=False, queue=False)
    source.change(choose_source, source, csv_group, queue=False, api_name=False)
    upload.upload(read_upload, upload, [csv_path, csv_info, target, features], api_name="weather_csv",
                  concurrency_limit=2, concurrency_id="weather-csv", show_progress="minimal")
    upload.clear(cleared, None, [csv_path, csv_info, target, features], queue=False, api_name=False)
    target.input(pick_target, [csv_path, target, features], features, queue=False, api_name=False)
    version.input(version_defaults, version, [activation, lr], queue=False, api_name=False)
    inputs = [source, csv_path, target, features, drop, split, version, hidden, activation, optimizer, lr, batch,
              epochs, loss]
    outputs = [status, train_btn, stop_btn, loss_plot, dates_plot, scatter, scores]
    train_btn.click(run_training, inputs, outputs, api_name="weather_train",
                    api_description="Train this session's regression network on the Seattle weather (or the "
                    "uploaded CSV), streaming the curves, the dates plot, the scatter and the errors.",
                    concurrency_limit=TRAIN_CONCURRENCY, concurrency_id="weather-train",
                    show_progress="hidden", trigger_mode="once")

    @refusing
    def ask_stop(request: gr.Request):
        """The run ends at its next step, and its stream says so with its results so far (a
        cancelled event would leave the outputs marked as failed). Stop writes no status of its
        own: its reply could reach the page after the run's last word and cover it."""
        run = running.get(request.session_hash) if request is not None and request.session_hash else None
        if run is not None:
            run.stop.set()
        return gr.Button(interactive=False)

    stop_btn.click(ask_stop, None, [stop_btn], queue=False, api_name="weather_stop")
    return {"weather_worker": worker}


def _file_name(path) -> str:
    from pathlib import Path
    return Path(path).name


def _value_range(table: tb.Table) -> list[float]:
    """A fixed range for the target axes, a little wider than the test values."""
    y = table.y_test.numpy().ravel()
    lo, hi = float(y.min()), float(y.max())
    pad = 0.1 * (hi - lo or 1.0)
    return [round(lo - pad, 1), round(hi + pad, 1)]
