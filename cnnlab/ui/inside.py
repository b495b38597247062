"""Inside tab: what every layer of the network computes for the student's drawing, live.

On every stroke one request (``/inside_show``) returns the whole walk through the network as
one compact HTML: the 28x28 input, every convolution's feature maps (all channels, one palette
PNG sprite per layer, one colour scale per layer or one for all), ReLU, pooling, flatten, dense
and the softmax bars, each labelled with its tensor shape and parameter count. Clicking a map
(a button: keyboard and touch alike) opens it large with the kernel that made it and the
multiply-and-add at a pixel the student picks (``/inside_open``). Below: the first layer's
filters with the test patches that excite each most (cached per checkpoint), the class's
training run live (the first layer and the maps of a fixed test picture, polled once a second),
and early and late channels of the transfer model on a photo.

Per user: only the opened map ("stage:channel:row:col", a few bytes in the picker component)
and the live view's last version (an int in ``gr.State``). Shared: the zoo's models and
``inside.LiveInside`` / ``inside.PatchCache`` (locked, read-only for handlers).
"""
from __future__ import annotations

import base64
import html
import re
import threading

import gradio as gr
import numpy as np
import torch
from PIL import Image

from .. import datasets, imageio
from .. import inside as core
from ..checkpoints import CheckpointError
from ..preprocess import photo_to_fashion, prepare_for, sketch_pixels, sketch_to_mnist
from .canvas import DrawingCanvas
from .context import AppContext

# Every user-visible string of the tab (issue 18 moves them into per-language files).
TEXT = {
    "intro": ("Draw a digit and follow it through the network, layer by layer. Each small square is one "
              "**feature map**: what one filter found in the layer before. Orange = a large positive "
              "number, blue = negative, white = zero. **Click a map** to open it with the kernel that "
              "made it and the sum at one pixel."),
    "canvas": "Your drawing",
    "use_draw": "Use my drawing from the Draw tab",
    "model": "Model",
    "model_info": "Try the MLP too: it has no feature maps",
    "one_scale": "One colour scale for all layers",
    "one_scale_info": "Off: each layer uses its own scale, so weak layers stay visible",
    "empty": "Draw a digit (0-9) on the canvas: every layer of the network appears here.",
    "empty_detail": ("Click any feature map on the right (or tab to it and press Enter) to open it here, "
                     "with the kernel that made it and the multiply-and-add at one pixel."),
    "stale_pick": "That map is not in this model. Click a map of this model to open it.",
    "bad_pick": "That map choice could not be read. Click a map to open it.",
    "no_model": "No model is installed for drawings. Train one in the Train tab first.",
    "unknown_model": "There is no model called '{key}'. Pick one in the Model list.",
    "load_failed": "The model '{key}' could not be loaded ({err}). Pick another one in the Model list.",
    "params": "{n} parameters",
    "no_params": "no parameters",
    "maps_of": "{n} maps of {h} x {w}",
    "input_alt": "The {h} by {w} picture the network reads",
    "vector_alt": "{title}: {n} numbers as coloured cells",
    "scale": "colour scale: -{s} to +{s}",
    "scale_all": "one colour scale for all layers: -{s} to +{s}",
    "says": "The network says <b>{label}</b> ({p:.0%} sure)",
    "no_maps_mlp": ("<b>An MLP has no feature maps.</b> Its first layer flattens the 28 x 28 picture into 784 "
                    "numbers, and each of its {units} units adds up <i>all</i> of them with its own weights: it "
                    "has no small filter that slides over the picture, so nothing is kept about which pixels "
                    "are neighbours. Each unit's 784 weights can still be drawn as a 28 x 28 picture: a "
                    "<b>template</b> it matches against the drawing. Here are the {n} units your drawing "
                    "excites most (orange: ink there makes the unit fire, blue: ink there holds it back)."),
    "no_maps_rnn": ("<b>This network has no feature maps.</b> It reads the picture one row at a time, as a "
                    "sequence of 28 rows of 28 pixels, and keeps a memory of what it saw; it has no filter "
                    "sliding over the picture."),
    "template": "unit {u}: {a:+.2f}",
    "template_alt": "Weights of unit {u} drawn as a 28 by 28 picture",
    "detail_title": "{title} · map {c} of {n}",
    "big_alt": ("{title}, map {c}, {h} by {w} pixels. Selected: row {r}, column {q}, value {v}. "
                "Arrow keys move the selected pixel; click a pixel to select it."),
    "big_caption": "The map, large: row {r}, column {q} = <b>{v}</b>",
    "reads_caption": "What the kernel lies on: {src}, channel {k}",
    "kernel_caption": "The kernel: {kh} x {kw} weights (channel {k} of {cin})",
    "kernels_caption": "All {cin} slices of this filter (one per input channel)",
    "kernel_alt": "The {kh} by {kw} kernel weights of filter {c} on input channel {k}",
    "table_caption": "Input x weight at each place of the kernel (channel {k})",
    "normalised": ("The picture is normalised as in training: paper = {paper}, full ink = {ink}; "
                   "grey zeros outside are the padding."),
    "sum_one": ("Sum of the {n} products: <b>{s}</b> &nbsp;+&nbsp; bias <b>{b}</b> &nbsp;=&nbsp; <b>{t}</b>"),
    "sum_many": ("Sum over the {cin} input channels (each {kh} x {kw} products, {n} in all): <b>{s}</b> "
                 "&nbsp;+&nbsp; bias <b>{b}</b> &nbsp;=&nbsp; <b>{t}</b>"),
    "partials": "Each input channel's {kh} x {kw} products add up to:",
    "then_act": "then {act}({t}) = <b>{a}</b>, the value in the next layer's map",
    "equals_map": "= the map's value at row {r}, column {q}: {v}",
    "folded": ("Batch norm is folded into these weights and bias: after training it only rescales and "
               "shifts each map, so the pair is one convolution."),
    "act_explain": "{act} at row {r}, column {q}: {act}({x}) = <b>{v}</b> (the value of {src} there)",
    "pool_explain": ("{pool} at row {r}, column {q}: the {how} of this {k} x {k} square of {src}: {vals} "
                     "→ <b>{v}</b>"),
    "other_explain": "{title} at row {r}, column {q}: <b>{v}</b>",
    "filters_title": "The learned filters",
    "filters_intro": ("The first layer's {n} filters ({kh} x {kw} weights each), and for each the places in "
                      "{images:,} test pictures that make it fire most. The square marks the {field} x {field} "
                      "pixels the filter sees; around it, some of the picture for context."),
    "filters_none": "This model has no convolution, so it has no filters to show.",
    "filters_no_data": ("The test pictures are not on this computer ({err}), so the patches that excite each "
                        "filter cannot be found. The filters themselves are shown above each row."),
    "filter_row": "filter {c}",
    "filter_alt": "Filter {c}: its weights, then the {k} test patches that excite it most",
    "live_title": "Live: the class's training run",
    "live_idle": ("No run is going. When the teacher starts one in the Train tab (a CNN on MNIST or "
                  "Fashion-MNIST), watch the first layer's filters turn from noise into edge and stroke "
                  "detectors here, about once a second."),
    "live_photo": ("The run going now trains on photos with a frozen backbone: its first layers do not "
                   "change, so there is nothing to watch here."),
    "live_head": "{model} on {dataset} · step {step:,} · epoch {epoch:.2f}{state}",
    "live_done": " · finished",
    "live_filters": "First layer: {title}",
    "live_picture": "A fixed test picture ({label}); the network says <b>{guess}</b> ({p:.0%})",
    "photo_title": "Photos: inside the transfer model",
    "photo_input": "A photo (flowers)",
    "photo_model": "Photo model",
    "photo_button": "Look inside",
    "photo_empty": "Upload a photo to see a few early and late channels of the transfer model.",
    "photo_none": "No photo model is installed (flowers5-transfer.pt).",
    "photo_intro": ("<b>{early}</b> ({early_shape}): simple things like edges and colour blobs, at high "
                    "resolution. <b>{late}</b> ({late_shape}): whole parts, coarse. The {n} most active "
                    "channels of each."),
    "channel": "channel {c}",
    "channel_alt": "{title}, channel {c}",
}

# Projector mode (a class on <body>) lies outside the components, where scoped CSS cannot reach.
PROJECTOR_STYLE = ("<style>body.projector #inside-tab .ins {--zoom: 1.4; font-size: 1.2rem} "
                   "body.projector #inside-tab .ins-fig {max-width: 340px}</style>")

CSS = """
.ins {font-size: 1rem; line-height: 1.35; max-width: 100%; overflow-wrap: anywhere}
.ins * {box-sizing: border-box}
.ins-stage {border: 1px solid var(--border-color-primary, #ddd); border-radius: 10px; padding: 10px 12px;
  margin: 0 0 6px 0; background: var(--block-background-fill, #fff)}
.ins-arrow {text-align: center; color: var(--body-text-color-subdued, #777); line-height: 1; margin: 0 0 6px}
.ins-head {display: flex; flex-wrap: wrap; align-items: baseline; gap: 4px 12px}
.ins-head b {font-size: 1.1rem}
.ins-shape {font-family: ui-monospace, Menlo, Consolas, monospace; font-weight: 700; font-size: 1.05rem;
  background: var(--background-fill-secondary, #f3f4f6); padding: 1px 6px; border-radius: 6px}
.ins-params {color: var(--body-text-color-subdued, #666); font-size: 0.9rem}
.ins-how {color: var(--body-text-color-subdued, #555); font-size: 0.88rem; margin: 2px 0 6px}
.ins-maps {display: flex; flex-wrap: wrap; gap: 4px}
.ins-map, .ins-tile {padding: 0; margin: 0; border: 1px solid #bbb; border-radius: 3px;
  width: calc(var(--s) * var(--zoom, 1)); height: calc(var(--s) * var(--zoom, 1));
  background-image: var(--sprite); background-repeat: no-repeat; image-rendering: pixelated;
  background-size: var(--w) 100%; background-position: calc(var(--i) / var(--n) * 100%) 0}
.ins-map {cursor: pointer; touch-action: manipulation}
.ins-map:hover {outline: 2px solid #0072B2}
.ins-map:focus-visible, .ins-map[aria-pressed="true"] {outline: 3px solid #0072B2; outline-offset: 1px}
.ins-pic {image-rendering: pixelated; border: 1px solid #999; border-radius: 4px; display: block;
  max-width: 100%; height: auto}
.ins-vector {image-rendering: pixelated; border: 1px solid #bbb; display: block; max-width: 100%; height: auto}
.ins-bars {display: grid; grid-template-columns: auto 1fr auto; gap: 3px 8px; align-items: center;
  max-width: 460px}
.ins-bar {height: 0.9rem; background: #b35806; border-radius: 3px; min-width: 1px}
.ins-bars .top {font-weight: 800}
.ins-says {font-size: 1.15rem; margin: 4px 0}
.ins-note {border: 1px dashed var(--border-color-primary, #ccc); border-radius: 8px; padding: 10px 12px;
  color: var(--body-text-color-subdued, #555); margin: 0 0 8px}
.ins-cells {display: flex; flex-wrap: wrap; gap: 4px}
.ins-cell {text-align: center; font-size: 0.8rem}
.ins-cell .v {display: block; min-width: 2.6rem; padding: 4px 2px; border: 1px solid #bbb; border-radius: 4px;
  font-family: ui-monospace, Menlo, Consolas, monospace}
.ins-detail h3 {margin: 0 0 6px; font-size: 1.15rem}
.ins-figs {display: flex; flex-wrap: wrap; gap: 10px; align-items: flex-start}
.ins-fig {margin: 0; flex: 1 1 140px; max-width: 240px}
.ins-fig figcaption {font-size: 0.85rem; color: var(--body-text-color-subdued, #555)}
.ins-big {position: relative; width: 100%; aspect-ratio: 1 / 1; cursor: crosshair; touch-action: manipulation;
  border: 1px solid #888; border-radius: 4px; overflow: hidden}
.ins-big:focus-visible {outline: 3px solid #0072B2; outline-offset: 2px}
.ins-big img, .ins-frame img {width: 100%; height: 100%; image-rendering: pixelated; display: block}
.ins-frame {position: relative; width: 100%; aspect-ratio: 1 / 1; border: 1px solid #888; border-radius: 4px;
  overflow: hidden}
.ins-mark {position: absolute; border: 3px solid #000; outline: 2px solid #fff; pointer-events: none}
.ins-table-wrap {max-width: 100%; overflow-x: auto}
.ins-table {border-collapse: collapse; margin: 6px 0; font-family: ui-monospace, Menlo, Consolas, monospace;
  font-size: 0.78rem}
.ins-table td {border: 1px solid #bbb; padding: 2px 3px; text-align: right; line-height: 1.15}
.ins-table td .w {display: block; color: #555}
.ins-table td.pad {color: #999}
.ins-sum {font-size: 1.05rem; margin: 6px 0}
.ins-partials {display: flex; flex-wrap: wrap; gap: 2px 10px; font-family: ui-monospace, Menlo, Consolas, monospace;
  font-size: 0.82rem}
.ins-filter {display: flex; flex-wrap: wrap; align-items: center; gap: 6px; margin: 0 0 8px}
.ins-filter .lab {min-width: 4.5rem; font-size: 0.9rem}
.ins-filter img {width: 60px; height: 60px; image-rendering: pixelated; border: 1px solid #bbb; border-radius: 3px}
.ins-filter img.k {outline: 2px solid #0072B2}
.ins-live-filters {display: flex; flex-wrap: wrap; gap: 4px}
@media (max-width: 520px) {.ins-filter img {width: 44px; height: 44px} .ins-fig {flex: 0 0 calc(50% - 5px)}}
"""

# The picker: a component that shows nothing; its value is the opened map "stage:channel:row:col".
# A click (or Enter) on a map sets "stage:channel:-1:-1" (the server picks the strongest pixel);
# a click or an arrow key on the large map sets the pixel. Each new value fires .change once.
PICK_JS = """
const root = () => document.querySelector('#inside-tab') || document;
function send(v) { if (props.value !== v) { props.value = v; } }
document.addEventListener('click', (e) => {
  const btn = e.target.closest && e.target.closest('#inside-layers .ins-map');
  if (btn) {
    root().querySelectorAll('#inside-layers .ins-map[aria-pressed]').forEach(b => b.removeAttribute('aria-pressed'));
    btn.setAttribute('aria-pressed', 'true');
    send(btn.parentElement.dataset.s + ':' + btn.dataset.p + ':-1:-1');
    const detail = document.querySelector('#inside-detail');
    if (detail) { const r = detail.getBoundingClientRect();
      if (r.top < 0 || r.top > window.innerHeight - 80) detail.scrollIntoView({behavior: 'smooth', block: 'start'}); }
    return;
  }
  const big = e.target.closest && e.target.closest('#inside-detail .ins-big');
  if (big) {
    const r = big.getBoundingClientRect();
    const rows = +big.dataset.rows, cols = +big.dataset.cols;
    const row = Math.min(rows - 1, Math.max(0, Math.floor((e.clientY - r.top) / r.height * rows)));
    const col = Math.min(cols - 1, Math.max(0, Math.floor((e.clientX - r.left) / r.width * cols)));
    send(big.dataset.pick + ':' + row + ':' + col);
  }
});
document.addEventListener('keydown', (e) => {
  const big = e.target.closest && e.target.closest('#inside-detail .ins-big');
  if (!big) return;
  const moves = {ArrowUp: [-1, 0], ArrowDown: [1, 0], ArrowLeft: [0, -1], ArrowRight: [0, 1]};
  const m = moves[e.key]; if (!m) return;
  e.preventDefault();
  const rows = +big.dataset.rows, cols = +big.dataset.cols;
  const row = Math.min(rows - 1, Math.max(0, +big.dataset.row + m[0]));
  const col = Math.min(cols - 1, Math.max(0, +big.dataset.col + m[1]));
  send(big.dataset.pick + ':' + row + ':' + col);
});
watch('value', () => {});
"""
# After the detail re-renders, keep the keyboard on the large map (arrow keys keep working).
DETAIL_JS = """
let wasFocused = false;
element.addEventListener('focusin', (e) => { wasFocused = !!(e.target.closest && e.target.closest('.ins-big')); });
element.addEventListener('focusout', () => { setTimeout(() => {
  if (!element.contains(document.activeElement)) wasFocused = false; }, 0); });
watch('value', () => { if (wasFocused) { const b = element.querySelector('.ins-big'); if (b) b.focus(); } });
"""

PICK_RE = re.compile(r"^(\d{1,3}):(\d{1,4}):(-1|\d{1,4}):(-1|\d{1,4})$")
MAX_TEMPLATES = core.TEMPLATES
SMALL_KINDS = ("digits", "clothing")


# --------------------------------------------------------------------------- helpers
def t(name: str, **values) -> str:
    """The tab's text called ``name``, filled in."""
    return TEXT[name].format(**values) if values else TEXT[name]


def data_url(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def fmt(v: float) -> str:
    """A number as the page prints it: 3 significant decimals, a real minus sign."""
    return f"{v:.3f}".replace("-", "−") if abs(v) < 100 else f"{v:.1f}".replace("-", "−")


def esc(text: str) -> str:
    return html.escape(str(text), quote=True)


def map_side(h: int) -> int:
    """On-screen size of a map button in px (before the projector's zoom)."""
    if h >= 20:
        return 2 * h
    if h >= 10:
        return 3 * h
    return max(30, 5 * h)


def drawing_datasets() -> tuple[str, ...]:
    return tuple(name for name, spec in datasets.DATASETS.items() if spec.kind in SMALL_KINDS)


def photo_datasets() -> tuple[str, ...]:
    return tuple(name for name, spec in datasets.DATASETS.items() if spec.kind == "photo")


def default_model(ctx: AppContext) -> str | None:
    keys = [k for _, k in ctx.zoo.choices(drawing_datasets())]
    shipped = [k for k in keys if k != "latest"]
    return "mnist-cnn" if "mnist-cnn" in keys else (shipped or keys or [None])[0]


def load_model(ctx: AppContext, key: str | None, kinds: tuple[str, ...]):
    key = key or default_model(ctx)
    if key is None:
        raise gr.Error(t("no_model"))
    if key not in {k for _, k in ctx.zoo.choices(kinds)}:
        raise gr.Error(t("unknown_model", key=key))
    try:
        return ctx.zoo.get(key)
    except (KeyError, ValueError, CheckpointError) as err:
        raise gr.Error(t("load_failed", key=key, err=err)) from None


def prepare_drawing(loaded, drawing):
    """The model's input for a drawing (digits: MNIST's way; clothing: the photo path on the
    drawing), or None for an empty canvas."""
    pixels = sketch_pixels(drawing)
    if pixels is None or pixels.min() > 255 - 30:
        return None
    if loaded.spec.kind == "digits":
        return sketch_to_mnist(drawing, loaded.mean, loaded.std)
    if loaded.spec.kind == "clothing":
        return photo_to_fashion(Image.fromarray(pixels).convert("RGB"), loaded.mean, loaded.std)
    return prepare_for(loaded, Image.fromarray(pixels).convert("RGB"))


def parse_pick(pick: str | None) -> tuple[int, int, int, int] | None:
    if not pick:
        return None
    m = PICK_RE.match(str(pick).strip()) if len(str(pick)) <= 40 else None
    if m is None:
        raise gr.Error(t("bad_pick"))
    return tuple(int(g) for g in m.groups())


# --------------------------------------------------------------------------- the walk as HTML
def stage_scales(walk: core.Walk, one_scale: bool) -> dict[int, float]:
    """The colour scale of every stage: its own largest |value|, or one for all map stages."""
    shown = [s for s in walk.stages if s.kind not in ("input", "softmax")]
    if one_scale:
        everything = core.layer_scale([s for s in shown if s.is_map] or shown)
        return {s.index: everything for s in shown}
    return {s.index: core.layer_scale([s]) for s in shown}


def stage_header(stage: core.Stage) -> str:
    params = t("params", n=f"{stage.params:,}") if stage.params else t("no_params")
    return (f"<div class='ins-head'><b>{esc(stage.title)}</b><span class='ins-shape'>"
            f"{esc(core.shape_text(stage.shape))}</span><span class='ins-params'>{esc(params)}</span></div>"
            f"<div class='ins-how'>{esc(stage.detail)}</div>")


def maps_html(stage: core.Stage, scale: float, pick: tuple | None, clickable: bool = True,
              side: int | None = None) -> str:
    """Every channel of a stage: one sprite (a row of maps) shown through one button per map.
    The markup per map is kept tiny (a CSS variable places the sprite): 128 maps stay a few kB."""
    c, h, w = stage.shape
    sprite = data_url(core.strip_png(stage.value, scale))
    side = side or map_side(h)
    if clickable:
        chosen = pick[1] if pick is not None and pick[0] == stage.index else -1
        tiles = "".join(f"<button type=button class=ins-map data-p={k} style=--i:{k} aria-label='map {k + 1}'"
                        + (" aria-pressed=true" if k == chosen else "") + "></button>" for k in range(c))
    else:
        tiles = "".join(f"<span class=ins-tile style=--i:{k}></span>" for k in range(c))
    label = esc(f"{stage.title}: {t('maps_of', n=c, h=h, w=w)}")
    return (f"<div class=ins-maps role=group aria-label='{label}' data-s={stage.index} "
            f"style=\"--s:{side}px; --n:{max(c - 1, 1)}; --w:{c * 100}%; --sprite:url('{sprite}')\">{tiles}</div>")


def vector_html(stage: core.Stage, scale: float, classes=None) -> str:
    v = stage.value.reshape(-1)
    if classes is not None and v.numel() == len(classes) and v.numel() <= 20:
        idx = core.to_index(v.numpy(), scale)
        cells = "".join(
            f"<span class='ins-cell'><span class='v' style='background:rgb{tuple(int(x) for x in core.PALETTE[i])}'>"
            f"{fmt(float(x))}</span>{esc(name)}</span>" for x, i, name in zip(v.tolist(), idx, classes))
        return f"<div class='ins-cells'>{cells}</div>"
    width = 64 if v.numel() > 64 else v.numel()
    if stage.value.dim() == 2:                   # a sequence (steps x numbers): one row per step
        width = stage.value.shape[1]
    png = core.vector_png(v.numpy(), scale, width)
    rows = -(-v.numel() // width)
    zoom = max(2, min(8, 448 // max(width, 1)))
    alt = esc(t("vector_alt", title=stage.title, n=v.numel()))
    return (f"<img class='ins-vector' alt='{alt}' src='{data_url(png)}' "
            f"width='{width * zoom}' height='{rows * zoom}'>")


def softmax_html(probs: torch.Tensor, classes) -> str:
    top = int(probs.argmax())
    rows = []
    for k, (p, name) in enumerate(zip(probs.tolist(), classes)):
        cls = " class='top'" if k == top else ""
        rows.append(f"<span{cls}>{esc(name)}</span><span class='ins-bar' style='width:{max(p, 0.002) * 100:.1f}%'>"
                    f"</span><span{cls}>{p:.0%}</span>")
    return (f"<div class='ins-says' aria-live='polite'>{t('says', label=esc(classes[top]), p=float(probs[top]))}</div>"
            f"<div class='ins-bars'>{''.join(rows)}</div>")


def input_html(seen: np.ndarray) -> str:
    h, w = seen.shape[:2]
    return (f"<img class='ins-pic' alt='{esc(t('input_alt', h=h, w=w))}' src='{data_url(core.grey_png(seen))}' "
            f"width='{4 * w}' height='{4 * h}'>")


def templates_html(tp: core.Templates) -> str:
    scale = float(np.abs(tp.weights).max()) or 1.0
    tiles = []
    sprite = data_url(core.strip_png(tp.weights, scale))
    n = len(tp.units)
    for k, u in enumerate(tp.units):
        act = tp.activations[k] if tp.activations is not None else 0.0
        tiles.append(f"<span class='ins-cell'><span class='ins-tile' role='img' "
                     f"aria-label='{esc(t('template_alt', u=u))}' style='--i:{k}'></span>"
                     f"{esc(t('template', u=u, a=act))}</span>")
    return (f"<div class='ins-note'>{t('no_maps_mlp', units=tp.layer_units, n=n)}</div>"
            f"<div class='ins-cells' style=\"--s:64px; --n:{max(n - 1, 1)}; --w:{n * 100}%; "
            f"--sprite:url('{sprite}')\">{''.join(tiles)}</div>")


def walk_html(loaded, prepared, walk: core.Walk, one_scale: bool, pick: tuple | None) -> str:
    scales = stage_scales(walk, one_scale)
    parts = ["<div class='ins ins-walk'>"]
    if not walk.has_maps:
        tp = core.templates(loaded.model, prepared.tensor, size=loaded.input_size)
        if tp is not None:
            parts.append(templates_html(tp))
        else:
            parts.append(f"<div class='ins-note'>{t('no_maps_rnn')}</div>")
    if one_scale:
        first = next(iter(scales.values()), 1.0)
        parts.append(f"<div class='ins-how'>{esc(t('scale_all', s=fmt(first)))}</div>")
    for k, stage in enumerate(walk.stages):
        if k:
            parts.append("<div class='ins-arrow' aria-hidden='true'>▼</div>")
        parts.append(f"<section class='ins-stage' data-stage='{stage.index}' data-kind='{stage.kind}' "
                     f"data-shape='{esc(core.shape_text(stage.shape))}' aria-label='{esc(stage.title)}'>")
        parts.append(stage_header(stage))
        if stage.kind == "input":
            parts.append(input_html(prepared.seen))
        elif stage.kind == "softmax":
            parts.append(softmax_html(walk.probs, loaded.classes))
        elif stage.is_map:
            parts.append(maps_html(stage, scales[stage.index], pick))
            if not one_scale:
                parts.append(f"<div class='ins-how'>{esc(t('scale', s=fmt(scales[stage.index])))}</div>")
        else:
            last_dense = stage.kind == "dense" and stage.value.numel() == len(loaded.classes) \
                and k == len(walk.stages) - 2
            parts.append(vector_html(stage, scales[stage.index], loaded.classes if last_dense else None))
        parts.append("</section>")
    parts.append("</div>")
    return "".join(parts)


# --------------------------------------------------------------------------- an opened map
def _frame(png: bytes, alt: str, box: tuple[float, float, float, float] | None, rows: int, cols: int,
           attrs: str = "", cls: str = "ins-frame") -> str:
    mark = ""
    if box is not None:
        top, left, height, width = box
        mark = (f"<div class='ins-mark' style='top:{100 * top / rows:.3f}%; left:{100 * left / cols:.3f}%; "
                f"height:{100 * height / rows:.3f}%; width:{100 * width / cols:.3f}%'></div>")
    return f"<div class='{cls}' {attrs}><img alt='{esc(alt)}' src='{data_url(png)}'>{mark}</div>"


def detail_html(loaded, walk: core.Walk, pick: tuple, one_scale: bool) -> str:
    s, c, r, q = pick
    if s >= len(walk.stages) or not walk.stages[s].is_map or walk.stages[s].kind == "input" \
            or c >= walk.stages[s].shape[0]:
        return f"<div class='ins ins-note'>{esc(t('stale_pick'))}</div>"
    stage = walk.stages[s]
    n, rows, cols = stage.shape
    channel = stage.value[c]
    if r < 0 or q < 0 or r >= rows or q >= cols:               # no pixel yet: the strongest one
        r, q = divmod(int(channel.argmax()), cols)
    value = float(channel[r, q])
    scale = stage_scales(walk, one_scale)[s]
    big_png = core.indexed_png(core.to_index(channel.numpy(), scale))
    alt = t("big_alt", title=stage.title, c=c + 1, h=rows, w=cols, r=r, q=q, v=fmt(value))
    attrs = (f"tabindex='0' role='img' aria-label='{esc(alt)}' data-pick='{s}:{c}' data-rows='{rows}' "
             f"data-cols='{cols}' data-row='{r}' data-col='{q}'")
    big = _frame(big_png, alt, (r, q, 1, 1), rows, cols, attrs, cls="ins-big")
    out = [f"<div class='ins ins-detail' aria-live='polite'><h3>{esc(t('detail_title', title=stage.title, c=c + 1, n=n))}</h3>",
           "<div class='ins-figs'>",
           f"<figure class='ins-fig'>{big}<figcaption>{t('big_caption', r=r, q=q, v=fmt(value))}</figcaption></figure>"]
    if stage.kind == "conv":
        out.append(conv_detail(walk, stage, c, r, q))
    else:
        out.append("</div>")
        out.append(f"<p class='ins-sum'>{explain_pixel(walk, stage, c, r, q)}</p>")
    out.append("</div>")
    return "".join(out)


def conv_detail(walk: core.Walk, stage: core.Stage, c: int, r: int, q: int) -> str:
    m = core.multiply_add(stage, c, r, q)
    cin, kh, kw = m.weights.shape
    k = int(np.abs(m.partial).argmax())                     # the input channel that matters most here
    src = walk.stages[stage.index - 1]
    source_name = src.title
    # what the kernel lies on: the input channel, with the kernel's footprint marked
    plane = stage.input[m.in_channels[k]].numpy()
    in_scale = float(np.abs(plane).max()) or 1.0
    if src.kind == "input" and plane.ndim == 2:
        png = core.grey_png(np.clip((plane - plane.min()) / max(plane.max() - plane.min(), 1e-6) * 255, 0, 255))
    else:
        png = core.indexed_png(core.to_index(plane, in_scale))
    (sh, sw), (dh, dw) = stage.stride, stage.dilation
    left, _, top, _ = stage.padding
    box = (r * sh - top, q * sw - left, dh * (kh - 1) + 1, dw * (kw - 1) + 1)
    reads = _frame(png, t("reads_caption", src=source_name, k=m.in_channels[k] + 1), box, *plane.shape)
    kscale = float(np.abs(m.weights).max()) or 1.0
    kernel_png = core.indexed_png(core.to_index(m.weights[k], kscale))
    kernel = _frame(kernel_png, t("kernel_alt", kh=kh, kw=kw, c=c + 1, k=m.in_channels[k] + 1), None, kh, kw)
    out = [f"<figure class='ins-fig'>{reads}<figcaption>{esc(t('reads_caption', src=source_name, k=m.in_channels[k] + 1))}"
           "</figcaption></figure>",
           f"<figure class='ins-fig'>{kernel}<figcaption>"
           f"{esc(t('kernel_caption', kh=kh, kw=kw, k=m.in_channels[k] + 1, cin=cin))}</figcaption></figure>",
           "</div>"]
    if cin > 1:
        per_row = 16                                      # slices per row, one pixel apart
        slices = [core.strip(m.weights[i:i + per_row], kscale, gap=1) for i in range(0, cin, per_row)]
        width = max(sl.shape[1] for sl in slices)
        sheet = np.full((len(slices) * (kh + 1) - 1, width), core.ZERO, np.uint8)
        for i, sl in enumerate(slices):
            sheet[i * (kh + 1):i * (kh + 1) + kh, :sl.shape[1]] = sl
        zoom = max(2, min(8, 440 // width))
        out.append(f"<div class='ins-how'>{esc(t('kernels_caption', cin=cin))}</div>"
                   f"<img class='ins-vector' alt='{esc(t('kernels_caption', cin=cin))}' "
                   f"src='{data_url(core.indexed_png(sheet))}' width='{width * zoom}' height='{sheet.shape[0] * zoom}'>")
    # the multiply table for channel k
    h_in, w_in = stage.input.shape[-2:]
    cells = []
    for i in range(kh):
        row = []
        for j in range(kw):
            y, x = r * sh - top + i * dh, q * sw - left + j * dw
            pad = not (0 <= y < h_in and 0 <= x < w_in)
            row.append(f"<td class='{'pad' if pad else ''}'>{fmt(m.inputs[k, i, j])}"
                       f"<span class='w'>×{fmt(m.weights[k, i, j])}</span></td>")
        cells.append("<tr>" + "".join(row) + "</tr>")
    if src.kind == "input":
        out.append(f"<div class='ins-how'>{esc(t('normalised', paper=fmt(float(plane.min())), ink=fmt(float(plane.max()))))}</div>")
    out.append(f"<div class='ins-how'>{esc(t('table_caption', k=m.in_channels[k] + 1))}</div>"
               f"<div class='ins-table-wrap'><table class='ins-table'>{''.join(cells)}</table></div>")
    s = float(m.partial.sum())
    if cin == 1:
        out.append(f"<p class='ins-sum'>{t('sum_one', n=kh * kw, s=fmt(s), b=fmt(m.bias), t=fmt(m.total))} "
                   f"{esc(t('equals_map', r=r, q=q, v=fmt(m.map_value)))}</p>")
    else:
        parts = "".join(f"<span>ch {ch + 1}: {fmt(p)}</span>" for ch, p in zip(m.in_channels, m.partial))
        out.append(f"<div class='ins-how'>{esc(t('partials', kh=kh, kw=kw))}</div><div class='ins-partials'>{parts}</div>"
                   f"<p class='ins-sum'>{t('sum_many', cin=cin, kh=kh, kw=kw, n=cin * kh * kw, s=fmt(s), b=fmt(m.bias), t=fmt(m.total))} "
                   f"{esc(t('equals_map', r=r, q=q, v=fmt(m.map_value)))}</p>")
    if m.after is not None:
        out.append(f"<p class='ins-sum'>{t('then_act', act=esc(m.after_name), t=fmt(m.total), a=fmt(m.after))}</p>")
    if stage.source is not stage.module:
        out.append(f"<div class='ins-how'>{esc(t('folded'))}</div>")
    return "".join(out)


def explain_pixel(walk: core.Walk, stage: core.Stage, c: int, r: int, q: int) -> str:
    prev = walk.stages[stage.index - 1]
    v = fmt(float(stage.value[c, r, q]))
    if stage.kind == "act" and prev.shape == stage.shape:
        return t("act_explain", act=esc(stage.title), r=r, q=q, x=fmt(float(prev.value[c, r, q])), v=v,
                 src=esc(prev.title))
    module = stage.module
    if stage.kind == "pool" and hasattr(module, "kernel_size") and prev.value.dim() == 3:
        k = core._pair(module.kernel_size)[0]
        st = core._pair(module.stride)[0]
        pad = core._pair(getattr(module, "padding", 0))[0]
        window = prev.value[c, max(0, r * st - pad):r * st - pad + k, max(0, q * st - pad):q * st - pad + k]
        vals = "[" + ", ".join(fmt(float(x)) for x in window.reshape(-1)) + "]"
        how = "largest" if "Max" in type(module).__name__ else "mean"
        return t("pool_explain", pool=esc(stage.title), r=r, q=q, how=how, k=k, src=esc(prev.title), vals=vals, v=v)
    return t("other_explain", title=esc(stage.title), r=r, q=q, v=v)


# --------------------------------------------------------------------------- handlers
def show(ctx: AppContext, drawing, model_key: str | None, one_scale: bool, pick: str | None):
    """One stroke: the whole walk, and the opened map (if any) for the new drawing."""
    loaded = load_model(ctx, model_key, drawing_datasets())
    chosen = parse_pick(pick)
    prepared = prepare_drawing(loaded, drawing)
    if prepared is None:
        return (f"<div class='ins ins-note'>{esc(t('empty'))}</div>",
                f"<div class='ins ins-note'>{esc(t('empty_detail'))}</div>")
    walk = core.walk(loaded.model, prepared.tensor)
    detail = detail_html(loaded, walk, chosen, bool(one_scale)) if chosen else \
        f"<div class='ins ins-note'>{esc(t('empty_detail'))}</div>"
    return walk_html(loaded, prepared, walk, bool(one_scale), chosen), detail


def open_map(ctx: AppContext, drawing, model_key: str | None, one_scale: bool, pick: str | None) -> str:
    loaded = load_model(ctx, model_key, drawing_datasets())
    chosen = parse_pick(pick)
    prepared = prepare_drawing(loaded, drawing)
    if prepared is None or chosen is None:
        return f"<div class='ins ins-note'>{esc(t('empty_detail'))}</div>"
    return detail_html(loaded, core.walk(loaded.model, prepared.tensor), chosen, bool(one_scale))


def filters_html(ctx: AppContext, cache: core.PatchCache, model_key: str | None) -> str:
    loaded = load_model(ctx, model_key, drawing_datasets())
    entry = {e.key: e for e in ctx.zoo.entries()}.get(model_key or default_model(ctx))
    return cache.get(entry.path, lambda: _filters_html(ctx, loaded))


def _filters_html(ctx: AppContext, loaded) -> str:
    probe = core.walk(loaded.model, torch.zeros(1, loaded.channels, loaded.input_size, loaded.input_size))
    if not probe.convs:
        return f"<div class='ins ins-note'>{esc(t('filters_none'))}</div>"
    stage = probe.convs[0]
    try:
        test = datasets.load(loaded.dataset, "test", ctx.data_root)
    except (datasets.DataMissingError, OSError) as err:
        kernels = stage.weight.mean(1).numpy()
        scale = float(np.abs(kernels).max()) or 1.0
        tiles = "".join(f"<img class='k' alt='{esc(t('filter_row', c=c + 1))}' "
                        f"src='{data_url(core.indexed_png(core.to_index(k, scale)))}'>" for c, k in enumerate(kernels))
        return (f"<div class='ins'><div class='ins-note'>{esc(t('filters_no_data', err=str(err)[:160]))}</div>"
                f"<div class='ins-filter'>{tiles}</div></div>")
    n = min(core.PATCH_IMAGES, len(test))
    fp = core.filter_patches(loaded.model, test.images[:n], test.labels[:n], loaded.spec)
    kh, kw = fp.kernels.shape[-2:]
    kscale = float(np.abs(fp.kernels).max()) or 1.0
    rows = [f"<div class='ins'><p>{esc(t('filters_intro', n=len(fp.kernels), kh=kh, kw=kw, images=fp.images, field=fp.field))}</p>"]
    zoom = 4
    for c in range(len(fp.kernels)):
        kernel = data_url(core.indexed_png(core.to_index(fp.kernels[c], kscale)))
        tiles = [f"<img class='k' alt='{esc(t('filter_row', c=c + 1))}' src='{kernel}'>"]
        for j in range(fp.patches.shape[1]):
            big = np.kron(fp.patches[c, j], np.ones((zoom, zoom), np.uint8))
            rgb = np.repeat(big[..., None], 3, axis=2)
            lo, hi = fp.field * zoom, 2 * fp.field * zoom - 1      # the receptive field's square
            for y0, y1, x0, x1 in ((lo, lo + 1, lo, hi + 1), (hi, hi + 1, lo, hi + 1),
                                   (lo, hi + 1, lo, lo + 1), (lo, hi + 1, hi, hi + 1)):
                rgb[y0:y1, x0:x1] = (0, 114, 178)
            png = core._png(Image.fromarray(rgb))
            label = loaded.classes[int(fp.labels[c, j])]
            tiles.append(f"<img alt='{esc(label)}, {fmt(float(fp.strengths[c, j]))}' title='{esc(label)}: "
                         f"{fmt(float(fp.strengths[c, j]))}' src='{data_url(png)}'>")
        rows.append(f"<div class='ins-filter' role='group' aria-label='{esc(t('filter_alt', c=c + 1, k=fp.patches.shape[1]))}'>"
                    f"<span class='lab'>{esc(t('filter_row', c=c + 1))}</span>{''.join(tiles)}</div>")
    rows.append("</div>")
    return "".join(rows)


class LiveRenderer:
    """The live view's HTML, made once per new picture and shared by every viewer."""

    def __init__(self, live: core.LiveInside):
        self.live = live
        self._lock = threading.Lock()
        self._cached: tuple[int, str] = (-1, "")

    def html(self) -> tuple[int, str]:
        version, view, note = self.live.snapshot()
        with self._lock:
            if self._cached[0] == version:
                return self._cached
        text = self._render(view, note)
        with self._lock:
            self._cached = (version, text)
        return self._cached

    @staticmethod
    def _render(view: core.LiveView | None, note: str) -> str:
        if view is None:
            return f"<div class='ins ins-note'>{esc(t('live_photo' if note == 'photo' else 'live_idle'))}</div>"
        spec = datasets.get_spec(view.dataset)
        state = t("live_done") if view.kind == "done" else ""
        out = [f"<div class='ins'><div class='ins-head'><b>{esc(t('live_head', model=view.model, dataset=spec.title, step=view.step, epoch=view.epoch, state=state))}</b></div>"]
        if view.filters is not None:
            f = view.filters
            scale = float(np.abs(f).max()) or 1.0
            stage = core.Stage(0, "conv", "", "", torch.from_numpy(f))
            out.append(f"<section class='ins-stage'><div class='ins-head'><b>{esc(t('live_filters', title=view.filter_title))}</b></div>"
                       + maps_html(stage, scale, None, clickable=False, side=max(48, 8 * f.shape[1]))
                       + "</section>")
        guess = int(np.argmax(view.probs))
        out.append(f"<section class='ins-stage'><div class='ins-head'>"
                   f"{t('live_picture', label=esc(view.label), guess=esc(view.classes[guess]), p=float(view.probs[guess]))}</div>"
                   f"{input_html(view.picture)}</section>")
        for title, shape, values in view.maps:
            stage = core.Stage(0, "act", title, "", torch.from_numpy(values))
            scale = float(np.abs(values).max()) or 1.0
            out.append(f"<section class='ins-stage'><div class='ins-head'><b>{esc(title)}</b><span class='ins-shape'>"
                       f"{esc(core.shape_text(shape))}</span></div>{maps_html(stage, scale, None, clickable=False)}</section>")
        out.append("</div>")
        return "".join(out)


def photo_html(ctx: AppContext, path: str | None, model_key: str | None) -> str:
    if not path:
        return f"<div class='ins ins-note'>{esc(t('photo_empty'))}</div>"
    if not ctx.zoo.choices(photo_datasets()):
        raise gr.Error(t("photo_none"))
    loaded = load_model(ctx, model_key or ctx.zoo.choices(photo_datasets())[0][1], photo_datasets())
    try:
        photo = imageio.load_photo(path)
    except imageio.ImageInputError as err:
        raise gr.Error(str(err), print_exception=False) from None
    prepared = prepare_for(loaded, photo.image)
    early, late = core.photo_channels(loaded.model, prepared.tensor)
    out = [f"<div class='ins'><p>{t('photo_intro', early=esc(early.title), early_shape=core.shape_text(early.shape), late=esc(late.title), late_shape=core.shape_text(late.shape), n=len(early.channels))}</p>"]
    seen = prepared.seen
    out.append(f"<img class='ins-pic' alt='{esc(t('photo_input'))}' src='{data_url(core._png(Image.fromarray(seen).resize((112, 112))))}' width='112' height='112'>")
    for group in (early, late):
        tiles = []
        for k, ch in enumerate(group.channels):
            m = group.maps[k]
            scale = float(np.abs(m).max()) or 1.0
            tiles.append(f"<span class='ins-cell'><img class='ins-pic' alt='{esc(t('channel_alt', title=group.title, c=ch))}' "
                         f"src='{data_url(core.indexed_png(core.to_index(m, scale)))}' width='84' height='84'>"
                         f"{esc(t('channel', c=ch))}</span>")
        out.append(f"<section class='ins-stage'><div class='ins-head'><b>{esc(group.title)}</b><span class='ins-shape'>"
                   f"{esc(core.shape_text(group.shape))}</span></div><div class='ins-cells'>{''.join(tiles)}</div></section>")
    out.append("</div>")
    return "".join(out)


# --------------------------------------------------------------------------- the tab
def build(ctx: AppContext, demo: gr.Blocks, tab: gr.Tab, drawing=None) -> dict:
    """The Inside tab. ``drawing``: the Draw tab's canvas (a DrawingCanvas), to copy from; None
    when the Draw tab is not in the lesson."""
    cache, renderer = ctx.patches, LiveRenderer(ctx.live)
    with gr.Column(elem_id="inside-tab"):
        gr.Markdown(t("intro"), elem_id="inside-intro")
        gr.HTML(PROJECTOR_STYLE, container=False, padding=False, js_on_load=None, elem_id="inside-style")
        with gr.Row(equal_height=False):
            with gr.Column(scale=4, min_width=300):
                canvas = DrawingCanvas(label=t("canvas"), elem_id="inside-sketch")
                use_draw = gr.Button(t("use_draw"), elem_id="inside-use-draw", size="sm") \
                    if drawing is not None else None
                model = gr.Dropdown(ctx.zoo.choices(drawing_datasets()), value=default_model(ctx),
                                    label=t("model"), info=t("model_info"), elem_id="inside-model",
                                    allow_custom_value=True)
                one_scale = gr.Checkbox(False, label=t("one_scale"), info=t("one_scale_info"),
                                        elem_id="inside-one-scale")
                detail = gr.HTML(f"<div class='ins ins-note'>{esc(t('empty_detail'))}</div>",
                                 elem_id="inside-detail", css_template=CSS, js_on_load=DETAIL_JS)
            with gr.Column(scale=7, min_width=300):
                layers = gr.HTML(f"<div class='ins ins-note'>{esc(t('empty'))}</div>", elem_id="inside-layers",
                                 css_template=CSS, js_on_load=None)
                picker = gr.HTML("", html_template="<span hidden></span>", js_on_load=PICK_JS,
                                 elem_id="inside-pick", container=False, apply_default_css=False)
        with gr.Accordion(t("filters_title"), open=False, elem_id="inside-filters-box") as filters_box:
            filters = gr.HTML("", elem_id="inside-filters", css_template=CSS, js_on_load=None)
        with gr.Accordion(t("live_title"), open=False, elem_id="inside-live-box") as live_box:
            live = gr.HTML(renderer.html()[1], elem_id="inside-live", css_template=CSS, js_on_load=None)
        with gr.Accordion(t("photo_title"), open=False, elem_id="inside-photo-box"):
            with gr.Row(equal_height=False):
                photo = gr.Image(type="filepath", sources=["upload", "webcam", "clipboard"], label=t("photo_input"),
                                 elem_id="inside-photo", height=260)
                with gr.Column():
                    photo_model = gr.Dropdown(ctx.zoo.choices(photo_datasets()),
                                              value=(ctx.zoo.choices(photo_datasets()) or [(None, None)])[0][1],
                                              label=t("photo_model"), elem_id="inside-photo-model",
                                              allow_custom_value=True)
            photo_out = gr.HTML(f"<div class='ins ins-note'>{esc(t('photo_empty'))}</div>",
                                elem_id="inside-photo-out", css_template=CSS, js_on_load=None)
    live_seen = gr.State(-1)
    filters_open = gr.State(False)
    timer = gr.Timer(1.0, active=False)          # ticks only while the live view is open

    def on_show(drawing_value, model_key, scale_all, pick):
        return show(ctx, drawing_value, model_key, scale_all, pick)

    def on_open(drawing_value, model_key, scale_all, pick):
        return open_map(ctx, drawing_value, model_key, scale_all, pick)

    def on_filters(model_key):
        return filters_html(ctx, cache, model_key)

    def on_tick(seen):
        version, text = renderer.html()
        if version == seen:
            return gr.skip(), seen
        return text, version

    def on_photo(path, model_key):
        return photo_html(ctx, path, model_key)

    shared = dict(show_progress="hidden", trigger_mode="always_last", concurrency_limit=8,
                  concurrency_id="inside")
    inputs = [canvas, model, one_scale, picker]
    canvas.change(on_show, inputs, [layers, detail], api_name="inside_show",
                  api_description="Every layer of the network for a drawing (a PNG data URL, dark ink on "
                  "white) and the opened map ('stage:channel:row:col' or empty), as HTML.", **shared)
    for control in (model, one_scale):
        control.change(on_show, inputs, [layers, detail], api_name=False, **shared)
    picker.change(on_open, inputs, detail, api_name="inside_open",
                  api_description="The opened map: large, its kernel and the multiply-and-add at the pixel.",
                  **shared)
    filters_box.expand(on_filters, model, filters, api_name="inside_filters", concurrency_limit=2,
                       concurrency_id="inside-filters", show_progress="minimal")
    filters_box.collapse(lambda: False, None, filters_open, api_name=False, queue=False)
    filters_box.expand(lambda: True, None, filters_open, api_name=False, queue=False)
    model.change(lambda is_open, key: on_filters(key) if is_open else gr.skip(), [filters_open, model], filters,
                 api_name=False, concurrency_limit=2, concurrency_id="inside-filters", show_progress="minimal")
    live_box.expand(lambda: gr.Timer(active=True), None, timer, api_name=False, queue=False)
    live_box.collapse(lambda: gr.Timer(active=False), None, timer, api_name=False, queue=False)
    timer.tick(on_tick, live_seen, [live, live_seen], api_name="inside_live", concurrency_limit=None,
               concurrency_id="inside-live", show_progress="hidden")
    photo.change(on_photo, [photo, photo_model], photo_out, api_name="inside_photo", concurrency_limit=2,
                 concurrency_id="inside-photo", show_progress="minimal")
    photo_model.change(on_photo, [photo, photo_model], photo_out, api_name=False, concurrency_limit=2,
                       concurrency_id="inside-photo", show_progress="minimal")
    if use_draw is not None:
        use_draw.click(lambda d: d, drawing, canvas, api_name=False, queue=False)

    def refresh():
        return gr.Dropdown(choices=ctx.zoo.choices(drawing_datasets())), \
            gr.Dropdown(choices=ctx.zoo.choices(photo_datasets()))
    model.focus(refresh, None, [model, photo_model], api_name=False, queue=False)
    return {"canvas": canvas, "model": model, "layers": layers, "detail": detail, "picker": picker}
