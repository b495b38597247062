"""What every viewer of the shared run sees, drawn once per run version and language and reused
by all of them (``SharedViews``): the curves, the 16 guesses, the status, the results' pictures.
The Train tab (cnnlab/ui/train.py) builds the controls and hands each viewer its view."""
from __future__ import annotations

import html
import math
import shutil
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import gradio as gr
import numpy as np
import pandas as pd
from PIL import Image

from ..core import plots
from ..core.imageio import data_url
from ..core.plots import RIGHT, WRONG
from ..core.race import RACE_OPTIMIZERS, lane_label
from ..i18n import DEFAULT, class_name, languages, say, tr
from . import steer as steer_ui

# Renders of the shared run kept for every viewer to reuse, one per (run version, language): a
# class reads one or two languages and the version moves on ~4 times a second, so a handful is plenty.
VIEWS_KEPT = 8
# The curves' series are identifiers in the job's rows; a viewer sees each under its name in the
# viewer's language (SERIES_KEYS), and the colours are keyed by the names in every language.
SERIES_KEYS = {"train loss": "train.series_train_loss", "validation loss": "train.series_val_loss",
               "validation accuracy": "train.series_val_accuracy", steer_ui.SERIES: "train.series_marker"}
SERIES_COLORS = {"train loss": "#0072B2", "validation loss": "#E69F00", "validation accuracy": "#009E73",
                 steer_ui.SERIES: steer_ui.COLOR}
LOSS_SERIES = ["train loss", "validation loss", steer_ui.SERIES]
LANES = [lane_label(name, lr) for name, lr in RACE_OPTIMIZERS]
LANE_COLORS = dict(zip(LANES, ("#999999", "#E69F00", "#009E73", "#0072B2")))


def series_names(lang: str) -> dict[str, str]:
    """{series identifier: what a reader in ``lang`` sees}, for the curves and the race's lanes."""
    names = {series: tr(lang, key) for series, key in SERIES_KEYS.items()}
    names.update({lane_label(name, lr): tr(lang, "train.lane", name=name, lr=f"{lr:g}")
                  for name, lr in RACE_OPTIMIZERS})
    return names


def _colors(identifiers: dict[str, str]) -> dict[str, str]:
    return {series_names(lang)[s]: colour for lang in languages() for s, colour in identifiers.items()}


CURVE_COLORS = _colors(SERIES_COLORS)
RACE_COLORS = _colors(LANE_COLORS)


def idle_grid(lang: str = DEFAULT) -> str:
    return f"<div class='train-grid-empty'>{tr(lang, 'train.grid_idle')}</div>"


def picture_uri(image: np.ndarray) -> str:
    """A small image as a data: URI (PNG for 28x28 digits, a JPEG thumbnail for photos)."""
    if image.ndim == 3:
        pil = Image.fromarray(image)
        pil.thumbnail((112, 112))
        return data_url(pil, "JPEG")
    return data_url(image)


def grid_html(grid, uris: list[str], lang: str = DEFAULT) -> str:
    """16 pictures with the model's guess under each: blue and ✓ when right, orange and ✗ when wrong."""
    if grid is None:
        return idle_grid(lang)
    cells = []
    for k, (uri, truth) in enumerate(zip(uris, grid.labels)):
        if grid.predictions is None:
            colour, text = "#999999", "?"
        else:
            guess = grid.predictions[k]
            ok = guess == truth
            colour = RIGHT if ok else WRONG
            text = f"{'✓' if ok else '✗'} {html.escape(class_name(lang, grid.classes[guess]))}"
        alt = html.escape(tr(lang, "train.grid_alt", name=class_name(lang, grid.classes[truth])))
        cells.append(
            f"<figure class='train-cell' style='margin:0;text-align:center'>"
            f"<img src='{uri}' alt='{alt}' "
            f"style='width:100%;max-width:96px;aspect-ratio:1;image-rendering:pixelated;"
            f"border:4px solid {colour};border-radius:6px'>"
            f"<figcaption style='color:{colour};font-weight:700;font-size:1.1em;line-height:1.2;"
            f"white-space:nowrap;overflow:hidden;text-overflow:ellipsis'>{text}</figcaption></figure>")
    right = grid.right if grid.predictions is not None else 0
    return (f"<div id='train-grid-inner' data-right='{right}' style='display:grid;"
            f"grid-template-columns:repeat(8,minmax(0,1fr));gap:8px'>{''.join(cells)}</div>")


def results_markdown(snap, lang: str = DEFAULT) -> str:
    r = snap.results
    if not r:
        return ""
    if "race" in r:
        rows = "\n".join(f"| {f['optimizer']} | {f['lr']:g} | {f['loss']:.3f} | {f['val_accuracy']:.1%} |"
                         for f in r["race"])
        return (tr(lang, "train.race_results_stopped" if r["stopped"] else "train.race_results", steps=r["steps"])
                + "\n" + tr(lang, "train.race_table_head") + f"\n|---|---|---|---|\n{rows}")
    if "test_accuracy" not in r:
        return tr(lang, "train.unchanged")
    return tr(lang, "train.test_results_stopped" if r["stopped"] else "train.test_results",
              accuracy=r["test_accuracy"], images=r["test_images"], steps=r["steps"], seconds=r["seconds"])


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


def plot_payload(plot: gr.LinePlot, rows: pd.DataFrame) -> dict:
    """A gr.LinePlot's value as Gradio sends it (what its postprocess makes of the DataFrame): made
    once per shared render, and passed through as is for every viewer."""
    return plot.postprocess(rows).model_dump()


def loss_ceiling(snap) -> float:
    """A fixed top for the loss axis: above a random guess's loss (ln of the number of classes)."""
    classes = len(snap.grid.classes) if snap.grid else 10
    return round(max(2.5, 1.1 * math.log(classes)), 1)


class SharedPictures:
    """Per-run pictures every viewer shares (drawn once, read-only afterwards). Only the latest
    run's pictures and the last few checkpoint copies are kept on disk."""

    def __init__(self, folder: Path):
        self._lock = threading.Lock()
        self._drawing = threading.Lock()        # the results' pictures (a second or so of matplotlib)
        self._dir = Path(folder)
        self._uris: dict[int, list[str]] = {}
        self._results: dict[tuple, tuple[str | None, str | None]] = {}
        self._download: dict[tuple, str] = {}
        self._count = 0

    def uris(self, snap) -> list[str]:
        with self._lock:
            if snap.run_id not in self._uris:
                self._uris = {snap.run_id: [picture_uri(im) for im in snap.grid.images]}
            return self._uris[snap.run_id]

    def results(self, snap, lang: str = DEFAULT) -> tuple[str | None, str | None, str | None]:
        """(confusion matrix PNG, mistakes PNG, reliability diagram PNG) paths for this run's
        results, drawn once per language (under a lock of their own: the 16 pictures and the
        download do not wait for them)."""
        with self._drawing:
            key = (snap.run_id, lang)
            if key not in self._results:
                r = snap.results
                cm = mistakes = reliability = None
                if r and r.get("calibration", {}).get("reliability"):
                    c = r["calibration"]
                    reliability = self._save(plots.reliability_figure(c["reliability"], c.get("reliability_before"),
                                                                      c["temperature"], lang),
                                             f"reliability-{snap.run_id}-{lang}.png")
                if r and "confusion_matrix" in r:
                    cm = self._save(plots.confusion_matrix_figure(r["confusion_matrix"], r["classes"], lang=lang),
                                    f"confusion-{snap.run_id}-{lang}.png")
                    m = r["mistakes"]
                    mistakes = self._save(plots.mistakes_figure(m["images"], m["labels"], m["predictions"],
                                                                m["confidences"], r["classes"], lang=lang),
                                          f"mistakes-{snap.run_id}-{lang}.png")
                for old_key in [k for k in self._results if k[0] != snap.run_id]:
                    for path in self._results.pop(old_key):
                        if path:
                            Path(path).unlink(missing_ok=True)
                self._results[key] = (cm, mistakes, reliability)
            return self._results[key]

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


@dataclass(frozen=True)
class View:
    """One version of the shared run as a reader of one language sees it: drawn once (SharedViews)
    and reused by every viewer of that version and language; never modified."""
    status: str
    top: float                          # the loss axis' top
    loss: pd.DataFrame                  # what each gr.LinePlot draws (for a new run's first picture)
    accuracy: pd.DataFrame
    race: pd.DataFrame
    payloads: dict                      # {"loss"|"accuracy"|"race": the plot's value as Gradio sends it}
    grid_key: tuple                     # (run id, guesses): a viewer whose grid_key differs gets ``grid``
    grid: str
    results_key: tuple                  # (run id, done)
    results: str


class SharedViews:
    """The shared run drawn once per (run version, language) for all its viewers: a class of phones
    ticking twice a second costs one render per version and language, not one per phone and tick.
    Keeps the last ``kept`` renders (bounded memory however long the lesson)."""

    def __init__(self, pictures: SharedPictures, payload, kept: int = VIEWS_KEPT):
        self._pictures, self._payload, self._kept = pictures, payload, kept
        self._lock = threading.Lock()
        self._views: OrderedDict[tuple, View] = OrderedDict()
        self.renders = 0                # how many were drawn (tests and benches read it)

    def get(self, snap, lang: str = DEFAULT) -> View:
        key = (snap.version, snap.run_id, lang)
        with self._lock:                # one render per key: a second viewer waits for the first
            view = self._views.get(key)
            if view is None:
                view = self._views[key] = self._draw(snap, lang)
                self.renders += 1
                while len(self._views) > self._kept:
                    self._views.popitem(last=False)
            return view

    def _draw(self, snap, lang: str) -> View:
        names = series_names(lang)
        top = loss_ceiling(snap)
        loss = frame(list(snap.loss) + steer_ui.marker_rows(snap.markers, top), ("epoch", "value", "series"))
        loss = drawable(loss.assign(value=loss["value"].clip(upper=top)), LOSS_SERIES)
        loss = loss.assign(series=loss["series"].map(lambda s: names.get(s, s)))
        accuracy = drawable(frame(snap.accuracy, ("epoch", "value", "series")), ["validation accuracy"])
        accuracy = accuracy.assign(series=accuracy["series"].map(lambda s: names.get(s, s)))
        race = frame(snap.race, ("step", "loss", "optimizer"))
        race = drawable(race.assign(loss=race["loss"].clip(upper=top)), LANES)
        race = race.assign(optimizer=race["optimizer"].map(lambda s: names.get(s, s)))
        done = snap.results is not None
        text = "\n\n".join(filter(None, [results_markdown(snap, lang), steer_ui.changes_text(snap.markers, lang)]))
        return View(status=say(lang, snap.status), top=top, loss=loss, accuracy=accuracy, race=race,
                    payloads={"loss": self._payload(loss), "accuracy": self._payload(accuracy),
                              "race": self._payload(race)},
                    grid_key=(snap.run_id, tuple(snap.grid.predictions or ()) if snap.grid else None),
                    grid=grid_html(snap.grid, self._pictures.uris(snap), lang) if snap.grid else idle_grid(lang),
                    results_key=(snap.run_id, done), results=text)


# ---------------------------------------------------------------------- the tab
