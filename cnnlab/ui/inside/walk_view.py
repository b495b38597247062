"""The walk as HTML: every stage of the network for one drawing, top to bottom, each labelled with
its shape and parameters. Feature maps travel as one sprite per layer; each map is a button that
shows its part of the sprite (a CSS variable places it), so 128 maps stay a few kB of markup."""
from __future__ import annotations

import numpy as np
import torch

from ...core.imageio import data_url
from ...i18n import DEFAULT, class_name, say, tr
from ...lessons import inside as core
from .text import esc, fmt


def map_side(h: int) -> int:
    """On-screen size of a map button in px (before the projector's zoom)."""
    if h >= 20:
        return 2 * h
    if h >= 10:
        return 3 * h
    return max(30, 5 * h)


def stage_scales(walk: core.Walk, one_scale: bool) -> dict[int, float]:
    """The colour scale of every stage: its own largest |value|, or one for all map stages."""
    shown = [s for s in walk.stages if s.kind not in ("input", "softmax")]
    if one_scale:
        everything = core.layer_scale([s for s in shown if s.is_map] or shown)
        return {s.index: everything for s in shown}
    return {s.index: core.layer_scale([s]) for s in shown}


def section_head(title, shape=None, params: int | None = None, lang: str = DEFAULT) -> str:
    """A stage's title line: its name (a Text or a name), its tensor shape and (if given) its
    parameter count."""
    out = f"<div class='ins-head'><b>{esc(say(lang, title))}</b>"
    if shape is not None:
        out += f"<span class='ins-shape'>{esc(core.shape_text(shape))}</span>"
    if params is not None:
        words = tr(lang, "inside.params", n=f"{params:,}") if params else tr(lang, "inside.no_params")
        out += f"<span class='ins-params'>{esc(words)}</span>"
    return out + "</div>"


def stage_header(stage: core.Stage, lang: str = DEFAULT) -> str:
    return (section_head(stage.title, stage.shape, stage.params, lang)
            + f"<div class='ins-how'>{esc(say(lang, stage.detail))}</div>")


def maps_html(values, title, scale: float, index: int | None = None, pick: tuple | None = None,
              side: int | None = None, lang: str = DEFAULT) -> str:
    """Every channel of ``values`` (C, H, W): one sprite (a row of maps) shown through one tile
    per map. With the stage's ``index`` the tiles are buttons that open their map."""
    c, h, w = values.shape
    sprite = data_url(core.strip_image(values, scale))
    side = side or map_side(h)
    if index is not None:
        chosen = pick[1] if pick is not None and pick[0] == index else -1
        tiles = "".join(f"<button type=button class=ins-map data-p={k} style=--i:{k} "
                        f"aria-label='{esc(tr(lang, 'inside.map_n', k=k + 1))}'"
                        + (" aria-pressed=true" if k == chosen else "") + "></button>" for k in range(c))
    else:
        tiles = "".join(f"<span class=ins-tile style=--i:{k}></span>" for k in range(c))
    label = esc(tr(lang, "inside.maps_of", title=title, n=c, h=h, w=w))
    where = f" data-s={index}" if index is not None else ""
    return (f"<div class=ins-maps role=group aria-label='{label}'{where} "
            f"style=\"--s:{side}px; --n:{max(c - 1, 1)}; --w:{c * 100}%; --sprite:url('{sprite}')\">{tiles}</div>")


def score_cell(value: float, index: int, name: str) -> str:
    """One class's score as a number on its colour (white figures on the darkest colours)."""
    rgb = tuple(int(x) for x in core.PALETTE[index])
    ink = ";color:#fff" if abs(int(index) - core.ZERO) > 0.55 * core.STEPS else ""
    return (f"<span class='ins-cell'><span class='v' style='background:rgb{rgb}{ink}'>{fmt(value)}</span>"
            f"{esc(name)}</span>")


def vector_html(stage: core.Stage, scale: float, classes=None, lang: str = DEFAULT) -> str:
    """A vector stage: one cell per class for the last dense layer, else rows of coloured cells."""
    v = stage.value.reshape(-1)
    if classes is not None and v.numel() == len(classes) and v.numel() <= 20:
        idx = core.to_index(v.numpy(), scale)
        cells = "".join(score_cell(x, i, class_name(lang, name)) for x, i, name in zip(v.tolist(), idx, classes))
        return f"<div class='ins-cells'>{cells}</div>"
    width = 64 if v.numel() > 64 else v.numel()
    if stage.value.dim() == 2:                   # a sequence (steps x numbers): one row per step
        width = stage.value.shape[1]
    png = core.vector_image(v.numpy(), scale, width)
    rows = -(-v.numel() // width)
    zoom = max(2, min(8, 448 // max(width, 1)))
    alt = esc(tr(lang, "inside.vector_alt", title=stage.title, n=v.numel()))
    return (f"<img class='ins-vector' alt='{alt}' src='{data_url(png)}' "
            f"width='{width * zoom}' height='{rows * zoom}'>")


def softmax_html(probs: torch.Tensor, classes, lang: str = DEFAULT) -> str:
    top = int(probs.argmax())
    classes = [class_name(lang, c) for c in classes]
    rows = []
    for k, (p, name) in enumerate(zip(probs.tolist(), classes)):
        cls = " class='top'" if k == top else ""
        rows.append(f"<span{cls}>{esc(name)}</span><span class='ins-bar' style='width:{max(p, 0.002) * 100:.1f}%'>"
                    f"</span><span{cls}>{p:.0%}</span>")
    says = tr(lang, "inside.says", label=esc(classes[top]), p=float(probs[top]))
    return (f"<div class='ins-says' aria-live='polite'>{says}</div>"
            f"<div class='ins-bars'>{''.join(rows)}</div>")


def input_html(seen: np.ndarray, lang: str = DEFAULT) -> str:
    h, w = seen.shape[:2]
    return (f"<img class='ins-pic' alt='{esc(tr(lang, 'inside.input_alt', h=h, w=w))}' src='{data_url(seen)}' "
            f"width='{4 * w}' height='{4 * h}'>")


def templates_html(tp: core.Templates, lang: str = DEFAULT) -> str:
    scale = core.scale_of(tp.weights)
    tiles = []
    sprite = data_url(core.strip_image(tp.weights, scale))
    n = len(tp.units)
    for k, u in enumerate(tp.units):
        act = tp.activations[k] if tp.activations is not None else 0.0
        tiles.append(f"<span class='ins-cell'><span class='ins-tile' role='img' "
                     f"aria-label='{esc(tr(lang, 'inside.template_alt', u=u))}' style='--i:{k}'></span>"
                     f"{esc(tr(lang, 'inside.template', u=u, a=act))}</span>")
    return (f"<div class='ins-note'>{tr(lang, 'inside.no_maps_mlp', units=tp.layer_units, n=n)}</div>"
            f"<div class='ins-cells' style=\"--s:64px; --n:{max(n - 1, 1)}; --w:{n * 100}%; "
            f"--sprite:url('{sprite}')\">{''.join(tiles)}</div>")


def walk_html(loaded, prepared, walk: core.Walk, one_scale: bool, pick: tuple | None,
              lang: str = DEFAULT) -> str:
    scales = stage_scales(walk, one_scale)
    parts = ["<div class='ins ins-walk'>"]
    if not walk.has_maps:
        tp = core.templates(loaded.model, prepared.tensor, size=loaded.input_size)
        if tp is not None:
            parts.append(templates_html(tp, lang))
        else:
            parts.append(f"<div class='ins-note'>{tr(lang, 'inside.no_maps_rnn')}</div>")
    if one_scale:
        first = next(iter(scales.values()), 1.0)
        parts.append(f"<div class='ins-how'>{esc(tr(lang, 'inside.scale_all', s=fmt(first)))}</div>")
    for k, stage in enumerate(walk.stages):
        if k:
            parts.append("<div class='ins-arrow' aria-hidden='true'>▼</div>")
        parts.append(f"<section class='ins-stage' data-stage='{stage.index}' data-kind='{stage.kind}' "
                     f"data-shape='{esc(core.shape_text(stage.shape))}' aria-label='{esc(say(lang, stage.title))}'>")
        parts.append(stage_header(stage, lang))
        if stage.kind == "input":
            parts.append(input_html(prepared.seen, lang))
        elif stage.kind == "softmax":
            parts.append(softmax_html(walk.probs, loaded.classes, lang))
        elif stage.is_map:
            parts.append(maps_html(stage.value, stage.title, scales[stage.index], stage.index, pick, lang=lang))
            if not one_scale:
                parts.append(f"<div class='ins-how'>{esc(tr(lang, 'inside.scale', s=fmt(scales[stage.index])))}</div>")
        else:
            last_dense = stage.kind == "dense" and stage.value.numel() == len(loaded.classes) \
                and k == len(walk.stages) - 2
            parts.append(vector_html(stage, scales[stage.index], loaded.classes if last_dense else None, lang))
        parts.append("</section>")
    parts.append("</div>")
    return "".join(parts)

