"""Plots as pure functions: data in, a new ``matplotlib.figure.Figure`` out (never pyplot's global
state, which is not safe in a server with many threads). Live curves are gr.LinePlots instead
(see cnnlab/ui/train.py), because a matplotlib figure costs ~50 ms to draw.
"""
from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib import font_manager, rcParams
from matplotlib.figure import Figure

from ..i18n import DEFAULT, class_name, tr

# Chinese labels need a CJK font. Matplotlib falls back along this list glyph by glyph, so Latin
# text keeps DejaVu Sans. Only fonts this machine has are named (a missing one would be logged on
# every figure): WenQuanYi Micro Hei comes with CI and the README's Linux setup; Windows and macOS
# laptops have one of the others.
CJK_FONTS = ("Noto Sans CJK SC", "Source Han Sans SC", "WenQuanYi Micro Hei", "Microsoft YaHei", "SimHei",
             "PingFang SC", "Hiragino Sans GB", "Heiti SC", "Arial Unicode MS")
CJK_FILES = ("wqy", "notosanscjk", "sourcehansans", "msyh", "simhei", "pingfang", "droidsansfallback")


def _installed_fonts() -> set[str]:
    """Font names matplotlib can use, counting CJK fonts installed after its font cache was made."""
    names = {f.name for f in font_manager.fontManager.ttflist}
    if not names.intersection(CJK_FONTS):
        for path in font_manager.findSystemFonts():
            if any(part in Path(path).name.lower().replace("-", "") for part in CJK_FILES):
                try:
                    font_manager.fontManager.addfont(path)
                except (OSError, RuntimeError, ValueError):
                    continue
        names = {f.name for f in font_manager.fontManager.ttflist}
    return names


_installed = _installed_fonts()
rcParams["font.family"] = ["DejaVu Sans", *(f for f in CJK_FONTS if f in _installed)]
rcParams["axes.unicode_minus"] = False      # CJK fonts often lack U+2212; a hyphen reads the same

# The app's colours, in one place. Blue/orange rather than green/red for right/wrong, and the
# Okabe-Ito palette (two greys added for 10 classes): colour-blind students can tell them apart.
RIGHT, WRONG = "#0072B2", "#D55E00"
CLASS_COLORS = ("#E69F00", "#56B4E9", "#009E73", "#F0E442", "#0072B2",
                "#D55E00", "#CC79A7", "#000000", "#999999", "#882255")


def reliability_figure(after: dict, before: dict | None = None, temperature: float = 1.0,
                       lang: str = DEFAULT) -> Figure:
    """The reliability diagram: per confidence bin (cnnlab.core.calibration.reliability), how often
    the model was right against how sure it said it was; on the diagonal, confidence means what
    it says. The legend gives each curve's expected calibration error."""
    fig = Figure(figsize=(6.0, 5.2), layout="constrained")
    ax, hist = fig.subplots(2, 1, height_ratios=(3, 1), sharex=True)
    ax.plot([0, 1], [0, 1], ls="--", color="#999999", label=tr(lang, "plots.rel_honest"))
    bins = len(after["counts"])
    for r, colour, key in ((before, WRONG, "plots.rel_raw"), (after, RIGHT, "plots.rel_calibrated")):
        if not r:
            continue
        pts = [(c, a) for c, a in zip(r["confidence"], r["accuracy"]) if c is not None]
        if pts:
            xs, ys = zip(*pts)
            ax.plot(xs, ys, "o-", color=colour, label=tr(lang, key, t=temperature, ece=r["ece"]))
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.set_ylabel(tr(lang, "plots.rel_y"))
    ax.set_title(tr(lang, "plots.rel_title", n=f"{sum(after['counts']):,}"))
    ax.legend(loc="upper left", fontsize=9)
    edges = np.linspace(0, 1, bins + 1)
    hist.bar(edges[:-1], after["counts"], width=1 / bins, align="edge", color=RIGHT, alpha=0.6)
    hist.set_yscale("symlog")
    hist.set_ylabel(tr(lang, "plots.rel_count"))
    hist.set_xlabel(tr(lang, "plots.rel_x"))
    return fig


def confusion_matrix_figure(matrix, classes: Sequence[str], title: str | None = None, lang: str = DEFAULT,
                            translate_classes: bool = True) -> Figure:
    """Rows: the true class; columns: what the model said. The diagonal is what it got right.

    Cells are shaded by the share of their row (so rare classes show as clearly as common ones)
    and, for up to 20 classes, labelled with their counts. ``translate_classes=False``: the names
    are shown as given (class names the students typed are data, never translated).
    """
    cm = np.asarray(matrix, dtype=np.int64)
    classes = [class_name(lang, str(c)) if translate_classes else str(c) for c in classes]
    n = len(classes)
    share = cm / np.maximum(cm.sum(1, keepdims=True), 1)
    size = min(9.0, 2.0 + 0.5 * n)
    fig = Figure(figsize=(size + 0.8, size), layout="constrained")
    ax = fig.add_subplot()
    image = ax.imshow(share, cmap="Blues", vmin=0, vmax=1)
    fig.colorbar(image, ax=ax, shrink=0.8, label=tr(lang, "plots.share_of_class"))
    ticks = np.arange(n)
    short = [c if len(c) <= 12 else c[:11] + "…" for c in classes]
    slanted = max(map(len, short)) > 2                     # words, not digits: slant them
    ax.set_xticks(ticks, short, rotation=45 if slanted else 0, ha="right" if slanted else "center")
    ax.set_yticks(ticks, short)
    ax.set_xlabel(tr(lang, "plots.model_said"))
    ax.set_ylabel(tr(lang, "plots.true_class"))
    accuracy = np.trace(cm) / max(cm.sum(), 1)
    ax.set_title(tr(lang, "plots.confusion_title", title=title or tr(lang, "plots.confusion"), accuracy=accuracy,
                    images=f"{cm.sum():,}"))
    if n <= 20:
        for i in range(n):
            for j in range(n):
                if cm[i, j]:
                    light = share[i, j] > 0.5
                    ax.text(j, i, f"{cm[i, j]}", ha="center", va="center", fontsize=9 if n <= 10 else 7,
                            color="white" if light else (WRONG if i != j else "black"),
                            fontweight="bold" if i != j else "normal")
    return fig


def mistakes_figure(images, labels: Sequence[int], predictions: Sequence[int], confidences: Sequence[float],
                    classes: Sequence[str], title: str | None = None, lang: str = DEFAULT) -> Figure:
    """A row or two of pictures the model got wrong, each titled "said X (97%) / is Y"."""
    images = np.asarray(images)
    classes = [class_name(lang, str(c)) for c in classes]
    n = len(labels)
    fig = Figure(figsize=(10, 2.8), layout="constrained")
    if n == 0:
        ax = fig.add_subplot()
        ax.axis("off")
        ax.text(0.5, 0.5, tr(lang, "plots.no_mistakes"), ha="center", va="center", fontsize=16, color=RIGHT)
        return fig
    cols = min(n, 8)
    rows = math.ceil(n / cols)
    fig.set_size_inches(1.5 * cols + 0.4, 2.0 * rows + 0.6)
    fig.suptitle(title or tr(lang, "plots.mistakes"), fontsize=14)
    for k in range(n):
        ax = fig.add_subplot(rows, cols, k + 1)
        grey = images[k].ndim == 2
        ax.imshow(images[k], cmap="gray" if grey else None, vmin=0, vmax=255, interpolation="nearest")
        ax.set_xticks([])
        ax.set_yticks([])
        for spine in ax.spines.values():
            spine.set_color(WRONG)
            spine.set_linewidth(2)
        ax.set_title(tr(lang, "plots.said_is", said=classes[predictions[k]], share=confidences[k],
                        truth=classes[labels[k]]),
                     fontsize=12, color=WRONG)
    return fig


# --------------------------------------------------------------------------- t-SNE maps
STAR_COLOR = "#FF00FF"          # the student's own point: a colour no class uses
STAR_RADIUS = 0.045             # star size as a share of the map's width
TAB10 = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f",
         "#bcbd22", "#17becf")


def class_color_map(classes: Sequence[str], palette: Sequence[str] | None = None) -> dict[str, str]:
    """Class name -> colour, in class order (the palette repeats beyond its length)."""
    palette = tuple(palette or TAB10)
    return {str(c): palette[i % len(palette)] for i, c in enumerate(classes)}


def tsne_points_frame(coords, labels, preds, classes: Sequence[str], colour_by: str = "class",
                      images: Sequence[str] | None = None, lang: str = DEFAULT):
    """The map as a DataFrame for gr.ScatterPlot: x, y, group (the colour: the true class, or
    "right"/"wrong" when ``colour_by="right/wrong"``), true, predicted, correct, and optionally
    image (data URLs, shown when hovering). Mistakes come last so they are drawn on top."""
    import pandas as pd
    coords = np.asarray(coords, dtype=np.float64)
    labels, preds = np.asarray(labels), np.asarray(preds)
    names = np.array([class_name(lang, str(c)) for c in classes], dtype=object)
    right = labels == preds
    frame = pd.DataFrame({
        "x": coords[:, 0].round(3), "y": coords[:, 1].round(3),
        "group": names[labels] if colour_by == "class" else np.where(right, tr(lang, "plots.right"),
                                                                     tr(lang, "plots.wrong")),
        "true": names[labels], "predicted": names[preds],
        "correct": np.where(right, tr(lang, "plots.yes"), tr(lang, "plots.no"))})
    if images is not None:
        frame["image"] = list(images)
    order = np.lexsort((labels, ~right))                   # by class, mistakes last (drawn on top)
    return frame.iloc[order].reset_index(drop=True)


def star_outline(x: float, y: float, radius: float, per_edge: int = 4) -> np.ndarray:
    """Points (k, 2) along the outline of a five-pointed star centred on (x, y), plus the centre:
    a star drawn with dots, for plots that have no star marker (gr.ScatterPlot)."""
    angles = np.pi / 2 + np.arange(10) * np.pi / 5
    radii = np.where(np.arange(10) % 2 == 0, radius, 0.42 * radius)
    corners = np.stack([x + radii * np.cos(angles), y + radii * np.sin(angles)], axis=1)
    t = np.arange(per_edge)[:, None] / per_edge
    edges = [a + t * (b - a) for a, b in zip(corners, np.roll(corners, -1, axis=0))]
    return np.concatenate(edges + [np.array([[x, y]])])


def star_rows(x: float, y: float, span: float, label: str, predicted: str):
    """DataFrame rows (same columns as tsne_points_frame) that draw a star at (x, y)."""
    import pandas as pd
    pts = star_outline(x, y, STAR_RADIUS * span)
    return pd.DataFrame({"x": pts[:, 0].round(3), "y": pts[:, 1].round(3), "group": label,
                         "true": label, "predicted": predicted, "correct": ""})


def tsne_frame_figure(coords, labels, classes: Sequence[str], title: str = "", limit: float | None = None,
                      colors: Sequence[str] | None = None, stars=None, lang: str = DEFAULT) -> Figure:
    """A t-SNE map as a matplotlib Figure (one frame of the "how it learned" animation): dots
    coloured by true class with a legend, fixed symmetric limits when ``limit`` is given (so the
    frames of an animation share their axes), optional stars [(x, y, label)]."""
    coords = np.asarray(coords, dtype=np.float64)
    labels = np.asarray(labels)
    cmap = class_color_map(classes, colors)
    fig = Figure(figsize=(5.6, 5.0), dpi=90, layout="constrained")
    ax = fig.add_subplot()
    for k, name in enumerate(classes):
        mask = labels == k
        if mask.any():
            ax.scatter(coords[mask, 0], coords[mask, 1], s=5, color=cmap[str(name)], label=class_name(lang, str(name)),
                       linewidths=0)
    for sx, sy, text in stars or ():
        ax.scatter([sx], [sy], s=320, marker="*", color=STAR_COLOR, edgecolors="black", linewidths=1,
                   label=text, zorder=5)
    if limit:
        ax.set_xlim(-limit, limit)
        ax.set_ylim(-limit, limit)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_aspect("equal", adjustable="box" if limit else "datalim")
    ax.set_title(title, fontsize=11)
    if len(classes) <= 20:
        ax.legend(loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=8, markerscale=2.5,
                  frameon=False, handletextpad=0.2)
    return fig


def animation_gif(rec, maps: list[np.ndarray], path: str | Path, colors=None,
                  frame_ms: int = 700, lang: str = DEFAULT) -> Path:
    """An animated GIF of the maps of a ``snapshots.Recording`` (one frame per snapshot, the last held),
    drawn on the same axes so that the motion is the network's, not the camera's."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from PIL import Image

    reach = max(float(np.abs(m).max()) for m in maps) * 1.05
    frames = []
    for snap, coords in zip(rec.snapshots, maps):
        title = tr(lang, "plots.frame_title", step=f"{snap.step:,}", epoch=snap.epoch,
                   accuracy=snap.accuracy_text).rstrip(" ·")
        fig = tsne_frame_figure(coords, rec.labels, rec.classes, title=title, limit=reach, colors=colors, lang=lang)
        canvas = FigureCanvasAgg(fig)
        canvas.draw()
        frames.append(Image.fromarray(np.asarray(canvas.buffer_rgba())[..., :3]).convert(
            "P", palette=Image.Palette.ADAPTIVE, colors=64))
    durations = [frame_ms] * (len(frames) - 1) + [frame_ms * 4]
    path = Path(path)
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=durations, loop=0,
                   optimize=False, disposal=1)
    return path
