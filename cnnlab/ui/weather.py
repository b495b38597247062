"""Weather tab: the course's regression lesson. A small network predicts today's maximum
temperature in Seattle from the days before (train 2012-2014, test 2015), next to the simple
answers it has to beat; or a student's own CSV, the same way.

Training is per student (each one's own settings, their own curves), and cheap: the course's net
has ~2,000 weights. Every run is a sequence of short chunks (``Run.advance``: at most CHUNK_STEPS
steps and CHUNK_S seconds) executed by low-priority worker threads (``tabular.Worker``, one per
core, one PyTorch thread each) shared by all students, first come first served; the handler is
an async generator, so a student who waits for their next chunk holds no server thread. At most
TRAIN_CONCURRENCY runs are in progress (the rest wait in Gradio's queue, seeing their place), and
each is bounded by tabular.MAX_STEPS.
Drawing and photo requests have their own queues and run at normal priority, so they go first.
"""
from __future__ import annotations

import asyncio
import time

import gradio as gr
import numpy as np
import pandas as pd

from .. import tabular as T
from ..threads import cpu_cores
from .context import AppContext
from .train import drawable

CHUNK_STEPS = 400            # the most steps one student's turn on the worker takes
CHUNK_S = 0.15               # ... and the most seconds
TRAIN_CONCURRENCY = 8        # runs in progress at once; the others wait in the queue
LOSS_EVERY_S = 1.0           # the loss curve refreshes at most this often (a phone redraws every plot it gets)
PLOT_EVERY_S = 3.0           # the dates plot, scatter and table at most this often
MAX_LOSS_POINTS = 400        # per series; longer curves are thinned
BATCH_SIZES = [1, 8, 16, 32, 64, 128, 256, 1024]

# Every user-visible string of the tab, in one place (the translations will come from here).
TEXT = {
    "intro": ("### Predict today's maximum temperature\n"
              "The course's regression lesson with real data: 1,459 days of Seattle weather. The network "
              "reads the year, month, day, weekday, the maximum two days before and the day before, and "
              "the historical average for that date, and predicts today's maximum. It learns from "
              "**2012-2014** and is tested on **2015**, days it never saw. Does it beat simply saying "
              "*same as yesterday*?"),
    "source": "Table",
    "source_weather": "Seattle weather (the lesson)",
    "source_csv": "Your own CSV",
    "csv_file": "Your CSV file",
    "csv_limits": "Limits: " + T.LIMITS_TEXT,
    "csv_target": "Column to predict (numbers)",
    "csv_features": "Columns to predict it from",
    "csv_split": "Test rows",
    "split_random": "a random fifth",
    "split_last": "the last fifth (rows in time order)",
    "csv_drop": "Drop rows with empty cells",
    "csv_none": "Upload a CSV file: a header row naming the columns, then one row per example.",
    "csv_loaded": "**{name}**: {rows:,} rows, {cols} columns (separator '{sep}'). {unusable}",
    "csv_unusable": "Not usable as features: {items}.",
    "csv_kind_number": "{name} (numbers)",
    "csv_kind_category": "{name} (text, {values} values: one-hot)",
    "csv_kind_unusable": "{name} (unusable)",
    "csv_need_file": "Upload a CSV file first (under 'Your own CSV').",
    "csv_need_target": "Pick the column to predict.",
    "csv_gone": "The uploaded file is no longer on the server: upload it again.",
    "version": "Version",
    "version_nn": "nn.Sequential + optimizer",
    "version_manual": "by hand: tensors, mm, gradient steps",
    "version_info": "The hand-written version always takes plain gradient steps (the optimizer setting is for nn)",
    "hidden": "Hidden neurons",
    "activation": "Activation",
    "optimizer": "Optimizer",
    "lr": "Learning rate",
    "batch": "Batch size",
    "epochs": "Epochs",
    "loss": "Loss",
    "loss_mse": "MSE (the course's)",
    "loss_mae": "MAE (L1)",
    "loss_huber": "Huber",
    "train": "Train",
    "stop": "Stop",
    "stopping": "Stopping...",
    "idle": "Press **Train**: the network learns from the training rows while you watch.",
    "queued": "Waiting for a turn on the laptop...",
    "running": "epoch {epoch:.0f}/{epochs} · step {step:,}/{total:,} · test MAE {mae:.2f}{unit}",
    "finished": ("**{how}** after {epochs:.0f} epochs ({steps:,} steps, {seconds:.0f} s). Test error{on}: "
                 "**MAE {mae:.2f}{unit}**, RMSE {rmse:.2f}{unit}. {verdict}"),
    "how_finished": "Finished",
    "how_stopped": "Stopped",
    "how_capped": "Stopped at the limit of {cap:,} steps per run",
    "how_diverged": "The loss became infinite: lower the learning rate",
    "on_weather": " on the 2015 days",
    "beats": "It beats *{name}* ({base:.2f}{unit}) by {diff:.2f}{unit}.",
    "loses": "It does **not** beat *{name}* ({base:.2f}{unit}): {diff:.2f}{unit} worse.",
    "loss_plot": "Loss while it learns (lower is better; flat lines: the simple answers)",
    "loss_x": "epoch",
    "loss_y": "loss",
    "series_train": "train loss",
    "series_test": "test loss",
    "dates_plot": "Actual and predicted maximum on the test days",
    "rows_plot": "Actual and predicted value of the test rows",
    "dates_x": "date",
    "dates_y": "maximum",
    "rows_x": "line in the file",
    "series_actual": "actual",
    "series_predicted": "predicted (network)",
    "scatter_plot": "Predicted vs actual on the test days (on the diagonal = perfect)",
    "scatter_x": "actual",
    "scatter_y": "predicted",
    "series_points": "test day",
    "series_diagonal": "predicted = actual",
    "table_label": "Test error of the network and of the simple answers (lower is better)",
    "col_method": "method",
    "col_mae": "MAE",
    "col_rmse": "RMSE",
    "network": "the network",
    "network_pending": "the network (press Train)",
    "baseline_names": {"always the training mean": "always the training mean",
                       "same as yesterday": "same as yesterday",
                       "historical average": "historical average",
                       "linear regression (scikit-learn)": "linear regression (scikit-learn)"},
    "code_title": "The code that runs: the two versions do the same thing",
    "code_nn": "nn.Sequential version",
    "code_manual": "Hand-written version",
    "code_note": ("Pick the same activation in both, and **SGD** for the nn version: with the same seed "
                  "the two curves are the same, number for number."),
    "rows_title": "The table the network reads (the first training days, before standardising)",
    "bad_setting": "A setting is not a number: check hidden neurons, learning rate, batch size and epochs.",
}
UNIT_WEATHER = " °C"
COLORS = {TEXT["series_train"]: "#0072B2", TEXT["series_test"]: "#E69F00",
          TEXT["series_actual"]: "#0072B2", TEXT["series_predicted"]: "#D55E00",
          TEXT["series_points"]: "#D55E00", TEXT["series_diagonal"]: "#999999"}
REFERENCE_COLORS = ("#999999", "#009E73")
LOSS_CHOICES = [(TEXT["loss_mse"], "mse"), (TEXT["loss_mae"], "mae"), (TEXT["loss_huber"], "huber")]
VERSION_CHOICES = [(TEXT["version_nn"], "nn"), (TEXT["version_manual"], "manual")]
OPTIMIZER_CHOICES = [("Adam", "adam"), ("SGD", "sgd"), ("Momentum", "momentum"), ("RMSprop", "rmsprop")]


# ----------------------------------------------------------------------------- pure helpers
def settings_from(version, hidden, activation, optimizer, lr, batch, epochs, loss) -> T.RegressionSettings:
    d = T.RegressionSettings()

    def given(value, default):
        return default if value is None or value == "" else value

    try:
        s = T.RegressionSettings(version=version or d.version, hidden=int(given(hidden, d.hidden)),
                                 activation=activation or d.activation, optimizer=optimizer or d.optimizer,
                                 lr=float(given(lr, d.lr)), batch_size=int(given(batch, d.batch_size)),
                                 epochs=int(given(epochs, d.epochs)), loss=loss or d.loss)
    except (TypeError, ValueError):
        raise gr.Error(TEXT["bad_setting"]) from None
    problem = T.check_settings(s)
    if problem:
        raise gr.Error(problem)
    return s


def thin(rows: list, n: int) -> list:
    """At most ``n`` rows, evenly spaced, the last one always kept."""
    if len(rows) <= n:
        return rows
    step = len(rows) / n
    return [rows[int(i * step)] for i in range(n - 1)] + [rows[-1]]


def reference_losses(table: T.Table, loss: str) -> dict[str, float]:
    """The test loss of the simple answers the curve is compared with, in the run's loss."""
    import torch
    fn = T.LOSSES[loss]
    base = T.baselines(table)
    names = ["same as yesterday"] if "same as yesterday" in base else ["always the training mean"]
    names.append("linear regression (scikit-learn)")
    return {TEXT["baseline_names"][k]: fn(torch.tensor(base[k], dtype=torch.float32).reshape(-1, 1),
                                          table.y_test).item() for k in names}


def loss_frame(history, refs: dict[str, float], epochs: int) -> pd.DataFrame:
    rows = []
    for e, tr, te in thin(history, MAX_LOSS_POINTS):
        rows += [(e, tr, TEXT["series_train"]), (e, te, TEXT["series_test"])]
    for name, v in refs.items():
        rows += [(0.0, v, name), (float(epochs), v, name)]
    f = pd.DataFrame(rows, columns=["epoch", "loss", "series"]).astype({"epoch": "float64", "loss": "float64"})
    return drawable(f, [TEXT["series_train"], TEXT["series_test"], *refs])


def loss_ceiling(refs: dict[str, float]) -> float:
    """A fixed top for the loss axis: four times the best simple answer's loss, so the end of the
    race with the baselines is what fills the plot (the first epochs' far larger losses are drawn
    at the top)."""
    return float(f"{4 * min(refs.values()):.2g}") or 1.0


def series_frame(table: T.Table, predicted: np.ndarray | None) -> pd.DataFrame:
    """Actual and predicted target over the test rows' dates (or line numbers). Before training
    the predictions are NaN: gr.LinePlot only ever draws the series its first frame had."""
    x = table.index_test
    actual = table.y_test.numpy().ravel()
    predicted = np.full(len(actual), np.nan) if predicted is None else predicted
    return pd.concat([pd.DataFrame({"x": x, "value": actual, "series": TEXT["series_actual"]}),
                      pd.DataFrame({"x": x, "value": predicted, "series": TEXT["series_predicted"]})],
                     ignore_index=True)


def scatter_frame(table: T.Table, predicted: np.ndarray | None) -> pd.DataFrame:
    """The test rows' (actual, predicted) points and the diagonal where they would be perfect."""
    actual = table.y_test.numpy().ravel()
    predicted = np.full(len(actual), np.nan) if predicted is None else predicted
    diag = np.linspace(float(actual.min()), float(actual.max()), 25)
    return pd.concat([pd.DataFrame({"actual": diag, "predicted": diag, "series": TEXT["series_diagonal"]}),
                      pd.DataFrame({"actual": actual, "predicted": predicted, "series": TEXT["series_points"]})],
                     ignore_index=True)


def score_table(table: T.Table, predicted: np.ndarray | None) -> pd.DataFrame:
    preds = {TEXT["baseline_names"].get(k, k): v for k, v in T.baselines(table).items()}
    if predicted is not None:
        preds[TEXT["network"]] = predicted
    s = T.scores(preds, table.y_test.numpy())
    if predicted is None:
        s = pd.concat([pd.DataFrame([{"method": TEXT["network_pending"], "MAE": np.nan, "RMSE": np.nan}]), s],
                      ignore_index=True)
    s = s.rename(columns={"method": TEXT["col_method"], "MAE": TEXT["col_mae"], "RMSE": TEXT["col_rmse"]})
    return s.round(3)


def verdict(table: T.Table, net_mae: float, unit: str) -> str:
    """Against "same as yesterday" for the weather, the training mean for a student's table."""
    base = T.baselines(table)
    key = "same as yesterday" if "same as yesterday" in base else "always the training mean"
    b = T.mae(base[key], table.y_test)
    name = TEXT["baseline_names"][key]
    if net_mae < b:
        return TEXT["beats"].format(name=name, base=b, diff=b - net_mae, unit=unit)
    return TEXT["loses"].format(name=name, base=b, diff=net_mae - b, unit=unit)


def weather_rows(n: int = 8) -> pd.DataFrame:
    """The first training days of the lesson's table, as the network reads them (before scaling)."""
    rows = T.weather_features(T.seattle_weather())
    out = rows.head(n).copy()
    out["date"] = out["date"].dt.strftime("%Y-%m-%d")
    return out.round(2)


# ----------------------------------------------------------------------------- the tab
def build(ctx: AppContext, demo: gr.Blocks, tab: gr.Tab) -> dict | None:
    worker = T.Worker(threads=cpu_cores())
    d = T.RegressionSettings()
    gr.Markdown(TEXT["intro"], elem_id="weather-intro")
    with gr.Row(equal_height=False):
        with gr.Column(scale=1, min_width=300):
            source = gr.Radio([(TEXT["source_weather"], "weather"), (TEXT["source_csv"], "csv")], value="weather",
                              label=TEXT["source"], elem_id="weather-source")
            with gr.Group(visible=False) as csv_group:
                upload = gr.File(label=TEXT["csv_file"], file_types=[".csv", ".txt"], type="filepath",
                                 elem_id="weather-csv")
                gr.Markdown(TEXT["csv_limits"], elem_id="weather-csv-limits")
                csv_info = gr.Markdown(TEXT["csv_none"], elem_id="weather-csv-info")
                target = gr.Dropdown([], label=TEXT["csv_target"], elem_id="weather-target", interactive=True)
                features = gr.CheckboxGroup([], label=TEXT["csv_features"], elem_id="weather-features")
                split = gr.Radio([(TEXT["split_random"], "random"), (TEXT["split_last"], "last")], value="random",
                                 label=TEXT["csv_split"], elem_id="weather-split")
                drop = gr.Checkbox(False, label=TEXT["csv_drop"], elem_id="weather-drop")
            version = gr.Radio(VERSION_CHOICES, value=d.version, label=TEXT["version"], info=TEXT["version_info"],
                               elem_id="weather-version")
            with gr.Row():
                hidden = gr.Number(d.hidden, label=TEXT["hidden"], minimum=1, maximum=T.MAX_HIDDEN, precision=0,
                                   elem_id="weather-hidden", min_width=120)
                activation = gr.Dropdown(list(T.ACTIVATIONS), value=d.activation, label=TEXT["activation"],
                                         elem_id="weather-activation", min_width=120)
            with gr.Row():
                optimizer = gr.Dropdown(OPTIMIZER_CHOICES, value=d.optimizer, label=TEXT["optimizer"],
                                        elem_id="weather-optimizer", min_width=120)
                lr = gr.Number(d.lr, label=TEXT["lr"], minimum=1e-6, maximum=1, step=0.0005, elem_id="weather-lr",
                               min_width=120)
            with gr.Row():
                batch = gr.Dropdown(BATCH_SIZES, value=d.batch_size, label=TEXT["batch"], allow_custom_value=True,
                                    elem_id="weather-batch", min_width=120)
                loss = gr.Dropdown(LOSS_CHOICES, value=d.loss, label=TEXT["loss"], elem_id="weather-loss",
                                   min_width=120)
            epochs = gr.Slider(1, T.MAX_EPOCHS, value=d.epochs, step=1, label=TEXT["epochs"], elem_id="weather-epochs")
            with gr.Row():
                train_btn = gr.Button(TEXT["train"], variant="primary", elem_id="weather-train", min_width=100)
                stop_btn = gr.Button(TEXT["stop"], variant="stop", interactive=False, elem_id="weather-stop",
                                     min_width=100)
            status = gr.Markdown(TEXT["idle"], elem_id="weather-status")
        with gr.Column(scale=2, min_width=300):
            lesson = T.lesson_table()
            refs = reference_losses(lesson, d.loss)
            ref_colors = dict(zip(refs, REFERENCE_COLORS))
            loss_plot = gr.LinePlot(loss_frame([], refs, d.epochs), x="epoch", y="loss", color="series",
                                    color_map={**COLORS, **ref_colors}, x_lim=[0, d.epochs],
                                    y_lim=[0, loss_ceiling(refs)], x_title=TEXT["loss_x"],
                                    y_title=TEXT["loss_y"], label=TEXT["loss_plot"], elem_id="weather-loss-plot")
            dates_plot = gr.LinePlot(series_frame(lesson, None), x="x", y="value", color="series",
                                     color_map=COLORS, x_title=TEXT["dates_x"], y_title=TEXT["dates_y"] + UNIT_WEATHER,
                                     label=TEXT["dates_plot"], elem_id="weather-dates", tooltip="all")
            scatter = gr.ScatterPlot(scatter_frame(lesson, None), x="actual", y="predicted", color="series",
                                     color_map=COLORS, x_title=TEXT["scatter_x"] + UNIT_WEATHER,
                                     y_title=TEXT["scatter_y"] + UNIT_WEATHER, label=TEXT["scatter_plot"],
                                     elem_id="weather-scatter", height=380)
            scores = gr.Dataframe(score_table(lesson, None), label=TEXT["table_label"], interactive=False,
                                  elem_id="weather-table", wrap=True)
    with gr.Accordion(TEXT["code_title"], open=False, elem_id="weather-code"):
        gr.Markdown(TEXT["code_note"])
        with gr.Row():
            gr.Code(T.code_of("nn"), language="python", label=TEXT["code_nn"], interactive=False,
                    elem_id="weather-code-nn", min_width=300)
            gr.Code(T.code_of("manual"), language="python", label=TEXT["code_manual"], interactive=False,
                    elem_id="weather-code-manual", min_width=300)
    with gr.Accordion(TEXT["rows_title"], open=False):
        gr.Dataframe(weather_rows(), interactive=False, elem_id="weather-rows", max_height=320)
    csv_path = gr.State(None)
    stop_asked: set = set()          # sessions whose run should end at its next chunk (tiny; emptied as runs end)

    # ---- handlers
    def choose_source(which):
        return gr.Group(visible=which == "csv")

    def read_upload(path):
        """Types the uploaded file's columns and offers them; a sentence for a file we cannot use."""
        if not path:
            return None, TEXT["csv_none"], gr.Dropdown(choices=[], value=None), gr.CheckboxGroup(choices=[], value=[])
        try:
            t = T.read_csv_table(path)
        except T.TableError as err:
            raise gr.Error(str(err)) from None
        unusable = [f"{c.name} ({c.why})" for c in t.columns if c.kind == "unusable"]
        info = TEXT["csv_loaded"].format(name=_file_name(path), rows=len(t.frame), cols=len(t.columns),
                                         sep="tab" if t.separator == "\t" else t.separator,
                                         unusable=TEXT["csv_unusable"].format(items="; ".join(unusable))
                                         if unusable else "")
        first = t.numeric[-1]
        labels = [(TEXT[f"csv_kind_{c.kind}"].format(name=c.name, values=c.values), c.name) for c in t.columns]
        usable = [c.name for c in t.columns if c.kind != "unusable" and c.name != first]
        return (path, info, gr.Dropdown(choices=t.numeric, value=first),
                gr.CheckboxGroup(choices=labels, value=usable))

    def pick_target(path, name, chosen):
        """The new target leaves the features; the old one (if usable) may be ticked again."""
        return gr.CheckboxGroup(value=[c for c in (chosen or []) if c != name])

    def version_defaults(v):
        if v == "manual":
            return T.MANUAL_SETTINGS["activation"], T.MANUAL_SETTINGS["lr"]
        return d.activation, d.lr

    def table_for(which, path, target_name, feature_names, drop_missing, split_kind) -> T.Table:
        if which != "csv":
            return T.lesson_table()
        if not path:
            raise gr.Error(TEXT["csv_need_file"])
        if not target_name:
            raise gr.Error(TEXT["csv_need_target"])
        try:
            t = T.read_csv_table(path)
            return T.csv_table(t, target_name, list(feature_names or []), bool(drop_missing), split_kind or "random")
        except FileNotFoundError:
            raise gr.Error(TEXT["csv_gone"]) from None
        except T.TableError as err:
            raise gr.Error(str(err)) from None

    # argument names = the API's parameter names
    async def run_training(which="weather", path=None, target_name=None, feature_names=None, drop_missing=False,
                           split_kind="random", version="nn", hidden=128, activation="sigmoid", optimizer="adam",
                           lr=0.001, batch_size=16, epochs=300, loss="mse", request: gr.Request = None):
        """Trains this student's network chunk by chunk on the shared worker, streaming the curves,
        the dates plot, the scatter and the table of errors."""
        settings = settings_from(version, hidden, activation, optimizer, lr, batch_size, epochs, loss)
        # (a bad CSV raises here, before the buttons change)
        table = await asyncio.wrap_future(worker.submit(table_for, which, path, target_name, feature_names,
                                                        drop_missing, split_kind))
        yield {status: TEXT["queued"], train_btn: gr.Button(interactive=False), stop_btn: gr.Button(interactive=True)}
        weather = which != "csv"
        unit = UNIT_WEATHER if weather else ""
        run = await asyncio.wrap_future(worker.submit(T.Run, table, settings))
        refs = await asyncio.wrap_future(worker.submit(reference_losses, table, settings.loss))
        ceiling = loss_ceiling(refs)
        ylim = _value_range(table)
        started = time.perf_counter()
        yield {
            loss_plot: gr.LinePlot(loss_frame([], refs, settings.epochs), x_lim=[0, settings.epochs],
                                   y_lim=[0, ceiling], color_map={**COLORS, **dict(zip(refs, REFERENCE_COLORS))}),
            dates_plot: gr.LinePlot(series_frame(table, None), y_lim=ylim,
                                    x_title=TEXT["dates_x"] if weather else TEXT["rows_x"],
                                    y_title=TEXT["dates_y"] + unit if weather else table.target,
                                    label=TEXT["dates_plot"] if weather else TEXT["rows_plot"]),
            scatter: gr.ScatterPlot(scatter_frame(table, None), x_lim=ylim, y_lim=ylim,
                                    x_title=TEXT["scatter_x"] + unit, y_title=TEXT["scatter_y"] + unit),
            scores: score_table(table, None),
        }
        last_loss = last_plot = 0.0
        seen_epochs = 0
        session = getattr(request, "session_hash", None) or id(run)
        stop_asked.discard(session)
        stopped = False
        while not run.done:
            if session in stop_asked:                    # this student pressed Stop
                stop_asked.discard(session)
                stopped = True
                break
            await asyncio.wrap_future(worker.submit(run.advance, CHUNK_STEPS, CHUNK_S))
            out = {}
            now = time.perf_counter()
            if len(run.history) > seen_epochs and (now - last_loss >= LOSS_EVERY_S or run.done):
                last_loss, seen_epochs = now, len(run.history)
                out[loss_plot] = loss_frame([(e, min(a, ceiling), min(b, ceiling)) for e, a, b in run.history],
                                            refs, settings.epochs)
            if now - last_plot >= PLOT_EVERY_S or run.done:
                last_plot = now
                predicted = await asyncio.wrap_future(worker.submit(run.test_predictions))
                if np.isfinite(predicted).all():
                    out[dates_plot] = series_frame(table, predicted)
                    out[scatter] = scatter_frame(table, predicted)
                    out[scores] = score_table(table, predicted)
                    out[status] = TEXT["running"].format(epoch=run.step / run.steps_per_epoch,
                                                         epochs=settings.epochs, step=run.step,
                                                         total=run.total_steps, mae=T.mae(predicted, table.y_test),
                                                         unit=unit)
            if out:
                yield out
        summary = await asyncio.wrap_future(worker.submit(run.summary))
        how = (TEXT["how_stopped"] if stopped else TEXT["how_diverged"] if run.diverged else
               TEXT["how_capped"].format(cap=T.MAX_STEPS) if run.capped else TEXT["how_finished"])
        text = TEXT["finished"].format(how=how, epochs=run.step / run.steps_per_epoch, steps=run.step,
                                       seconds=time.perf_counter() - started, on=TEXT["on_weather"] if weather else "",
                                       mae=summary["test_mae"], rmse=summary["test_rmse"], unit=unit,
                                       verdict="" if run.diverged else verdict(table, summary["test_mae"], unit))
        yield {status: text, train_btn: gr.Button(interactive=True), stop_btn: gr.Button(interactive=False)}

    source.change(choose_source, source, csv_group, queue=False, api_name=False)
    upload.upload(read_upload, upload, [csv_path, csv_info, target, features], api_name="weather_csv",
                  concurrency_limit=2, concurrency_id="weather-csv", show_progress="minimal")
    upload.clear(lambda: read_upload(None), None, [csv_path, csv_info, target, features], queue=False, api_name=False)
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

    def ask_stop(request: gr.Request):
        """The run ends at its next chunk, with its results so far (a cancelled event would
        leave the outputs marked as failed)."""
        if request is not None and request.session_hash:
            stop_asked.add(request.session_hash)
        return TEXT["stopping"], gr.Button(interactive=False)

    stop_btn.click(ask_stop, None, [status, stop_btn], queue=False, api_name="weather_stop")
    return {"weather_worker": worker}


def _file_name(path) -> str:
    from pathlib import Path
    return Path(path).name


def _value_range(table: T.Table) -> list[float]:
    """A fixed range for the target axes, a little wider than the test values."""
    y = table.y_test.numpy().ravel()
    lo, hi = float(y.min()), float(y.max())
    pad = 0.1 * (hi - lo or 1.0)
    return [round(lo - pad, 1), round(hi + pad, 1)]
