"""The Own classes tab's views: the projector's counts and thumbnails, the class lists, the
answer to a test picture, what happened to a batch of pictures, the live stream's clock and the
run's confusion matrix. Plain functions of the lesson's state (``cnnlab.lessons.own``); the tab
(``own.py``) wires them.
"""
from __future__ import annotations

import html
import threading
from pathlib import Path

from PIL import Image

from ..core import imageio, plots
from ..core.cache import LRU
from ..i18n import DEFAULT, Text, say, tr
from ..lessons.own.data import (
    IMAGE_SUFFIXES,
    AddReport,
    OwnDataError,
    joined,
    max_class_pictures,
    max_pictures,
)
from ..lessons.own.model import OwnSpace
from ..lessons.own.prepared import zip_files

SURE_PROB = 0.6           # below this top probability the answer is "I'm not sure"
SURE_MARGIN = 0.2         # ... and when the runner-up is this close
THUMBS = 8                # newest pictures shown per class
THUMB_SIDE = 64           # pixels
LIVE_EVERY_S = 1.0        # a live webcam frame classified this often (~0.1 s of CPU each)
LIVE_LIMIT_S = 120        # a live stream stops after this long (a forgotten phone does not stream all lesson)
LIVE_GAP_S = 2.5          # no live frame for this long: the viewer pressed Stop; the next frame starts afresh
REFRESH_S = 2.0           # the projector's counts refresh this often (only when something changed)

ACC_SERIES = "validation accuracy"    # the job's name for the curve (shown in the reader's language)

_thumbs: LRU[str] = LRU(1000)       # picture digest -> data URL of its thumbnail (shared, read-only)


# --------------------------------------------------------------------------- views
def thumb_uri(path: Path) -> str:
    def make() -> str:
        with Image.open(path) as im:
            im = im.convert("RGB")
            im.thumbnail((THUMB_SIDE, THUMB_SIDE))
            return imageio.data_url(im, "JPEG", quality=70)
    try:
        return _thumbs.get_or_make(path.stem, make)
    except OSError:                      # deleted meanwhile
        return ""


def counts_html(space: OwnSpace, thumbnails: bool = True, lang: str = DEFAULT) -> str:
    """Every class with its count, open/closed, and its newest thumbnails."""
    classes = space.store.classes()
    if not classes:
        return f"<p id='own-empty'>{tr(lang, 'own.counts_empty')}</p>"
    rows = []
    for c in classes:
        count = tr(lang, "own.count_one") if c.count == 1 else tr(lang, "own.count", n=c.count)
        state = tr(lang, "own.is_open" if c.open else "own.is_closed")
        thumbs = ""
        if thumbnails:
            uris = [u for u in (thumb_uri(p) for p in space.store.pictures(c.id)[:THUMBS]) if u]
            thumbs = "".join(f"<img src='{u}' alt='' style='width:{THUMB_SIDE}px;height:{THUMB_SIDE}px;"
                             "object-fit:cover;border-radius:4px'>" for u in uris)
        rows.append(f"<div class='own-class' data-name='{html.escape(c.name, quote=True)}' data-count='{c.count}' "
                    "style='margin:6px 0;padding:6px;border:1px solid #8884;border-radius:8px'>"
                    f"<b style='font-size:1.3em'>{html.escape(c.name)}</b> · <span class='own-count' "
                    f"style='white-space:nowrap'>{count}</span> · <span style='white-space:nowrap;opacity:.75'>"
                    f"{state}</span><div style='display:flex;flex-wrap:wrap;gap:4px;margin-top:4px'>{thumbs}</div>"
                    "</div>")
    total = Text("own.total", n=space.store.total(), k=len(classes), per=max_class_pictures(), total=max_pictures())
    pending = space.worker.pending() if space.worker.busy else 0
    if pending:
        total = joined([total, Text("own.features_pending", n=pending)])
    return f"<div id='own-counts-inner'>{''.join(rows)}<p>{html.escape(say(lang, total))}</p></div>"


def class_choices(space: OwnSpace, lang: str = DEFAULT) -> list[tuple[str, str]]:
    """(what the list shows, class id): the class's name as typed, its count, closed or not."""
    return [(tr(lang, "own.choice" if c.open else "own.choice_closed", name=c.name, n=c.count), c.id)
            for c in space.store.classes()]


def verdict(probs: dict[str, float], lang: str = DEFAULT) -> str:
    ranked = sorted(probs.items(), key=lambda kv: -kv[1])
    (top, p1), (second, p2) = ranked[0], ranked[1]
    if p1 >= SURE_PROB and p1 - p2 >= SURE_MARGIN:
        return tr(lang, "own.sure", top=top, p=p1, second=second, p2=p2)
    return tr(lang, "own.unsure", top=top, p=p1, second=second, p2=p2,
              known=say(lang, joined(list(probs), "own.join_names")))


def live_clock(clock: tuple[float, float] | None, now: float) -> tuple[tuple[float, float], bool]:
    """This viewer's live stream as (started, last frame) after a frame at ``now``, and whether the
    frame may still be classified. Gradio's ``time_limit`` only ends the server's stream event: a
    webcam still recording starts a new one a second later, so the limit is kept here, per viewer."""
    started = now if clock is None or now - clock[1] > LIVE_GAP_S else clock[0]
    return (started, now), now - started <= LIVE_LIMIT_S


def report_text(report: AddReport, name: str, lang: str = DEFAULT, head: Text | None = None, named: int = 5) -> str:
    """What happened to a batch of pictures, in ``lang``: ``head`` (default: how many were added
    to the class ``name``), then the duplicates, the files skipped by name, and the limit hit."""
    if head is None:
        head = Text("own.added", n=report.added, name=name) if report.added else Text("own.nothing_added")
    parts = [head]
    if report.duplicates:
        parts.append(Text("own.dupes", n=report.duplicates))
    if report.bad:
        parts.append(Text("own.bad", n=len(report.bad), names=joined(report.bad[:named], "own.join_items")))
    parts.append(report.refused)
    return say(lang, joined(parts))


def file_paths(value) -> list[tuple[str, str]]:
    """(path, original name) of every file in a gr.File value as sent (preprocess=False)."""
    if value is None:
        return []
    items = value if isinstance(value, list) else [value]
    out = []
    for item in items:
        if isinstance(item, dict) and item.get("path"):
            out.append((item["path"], item.get("orig_name") or Path(item["path"]).name))
        elif isinstance(item, (str, Path)) and str(item):
            out.append((str(item), Path(str(item)).name))
    return out


def zip_pictures(path: str, name: str) -> tuple[list[bytes], list[str], list]:
    """The pictures inside a zip (any folders): (bytes, names, bad) with the loaders' caps."""
    files = zip_files(Path(path))
    data, names, bad = [], [], []
    for member in files.names:
        if Path(member).suffix.lower() not in IMAGE_SUFFIXES:
            continue
        if len(data) >= max_pictures():
            break
        try:
            data.append(files.read(member))
            names.append(member)
        except OwnDataError as err:
            bad.append(err.args[0])
    return data, names, bad


def confusion_png(scratch, snap, lang: str) -> str:
    """The run's confusion matrix in ``lang``, drawn once per run and language for every viewer
    (in ``scratch``'s shared folder). The class names are the students' own: shown as typed,
    never translated."""
    path = scratch.shared_folder("own") / f"confusion-{snap.run_id}-{lang}.png"
    if not path.is_file():
        r = snap.results
        fig = plots.confusion_matrix_figure(r["confusion_matrix"], r["classes"], tr(lang, "own.cm_short"),
                                            lang=lang, translate_classes=False)
        tmp = path.with_name(f".{path.name}.{threading.get_ident()}.tmp")
        fig.savefig(tmp, format="png", dpi=90)
        tmp.replace(path)
    return str(path)
