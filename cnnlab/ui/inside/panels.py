"""The three folding panels under the walk, as HTML: the learned filters with the test patches
that excite each most, the class's training run live, and a photo through the transfer model."""
from __future__ import annotations

import threading

import numpy as np
import torch
from PIL import Image, ImageColor

from ...core import datasets, imageio
from ...core.imageio import data_url
from ...core.plots import CLASS_COLORS
from ...core.preprocess import prepare_for
from ...i18n import DEFAULT, Refusal, Text, class_name, say, tr
from ...lessons import inside as core
from ..context import AppContext
from .inputs import drawing_datasets, load_model, photo_datasets
from .text import esc, fmt, note
from .walk_view import input_html, maps_html, section_head

PATCH_ZOOM = 4              # patches are drawn 4x, so the receptive field's square can be a thin line
MARK = CLASS_COLORS[1]      # sky blue, the receptive field's square


# --------------------------------------------------------------------------- filters
def filters_html(ctx: AppContext, cache: core.PatchCache, model_key: str | None, lang: str = DEFAULT) -> str:
    """The first layer's filters and their patches (searched once per checkpoint file), in ``lang``."""
    key = model_key or ctx.zoo.default(drawing_datasets())
    loaded = load_model(ctx, key, drawing_datasets())
    entry = next(e for e in ctx.zoo.entries() if e.key == key)
    return _filters_html(loaded, cache.get(entry.path, lambda: _find_patches(ctx, loaded)), lang)


def kernel_img(c: int, kernel: np.ndarray, scale: float, lang: str = DEFAULT) -> str:
    alt = esc(tr(lang, "inside.filter_row", c=c + 1))
    return f"<img class='k' alt='{alt}' src='{data_url(core.heatmap(kernel, scale))}'>"


def patch_picture(patch: np.ndarray, field: int, zoom: int = PATCH_ZOOM) -> np.ndarray:
    """A grey patch (side = 3 fields) enlarged ``zoom`` times, its middle field outlined 2 px wide
    (sky blue: it shows on black paper and on white ink alike)."""
    big = np.kron(patch, np.ones((zoom, zoom), np.uint8))
    rgb = np.repeat(big[..., None], 3, axis=2)
    lo, hi = field * zoom - 1, 2 * field * zoom
    colour = ImageColor.getrgb(MARK)
    rgb[[lo, lo + 1, hi - 1, hi], lo:hi + 1] = colour
    rgb[lo:hi + 1, [lo, lo + 1, hi - 1, hi]] = colour
    return rgb


def _find_patches(ctx: AppContext, loaded):
    """What the filters panel shows, in no language (cached per checkpoint): None (no convolution),
    (kernels, why the test pictures are missing), or the FilterPatches."""
    probe = core.walk(loaded.model, torch.zeros(1, loaded.channels, loaded.input_size, loaded.input_size))
    if not probe.convs:
        return None
    try:
        test = datasets.load(loaded.dataset, "test", ctx.data_root)
    except (datasets.DataMissingError, OSError) as err:
        return probe.convs[0].weight.mean(1).numpy(), str(err)[:160]
    n = min(core.PATCH_IMAGES, len(test))
    return core.filter_patches(loaded.model, test.images[:n], test.labels[:n], loaded.spec)


def _filters_html(loaded, found, lang: str = DEFAULT) -> str:
    if found is None:
        return note(Text("inside.filters_none"), lang)
    if isinstance(found, tuple):
        kernels, err = found
        scale = core.scale_of(kernels)
        tiles = "".join(kernel_img(c, k, scale, lang) for c, k in enumerate(kernels))
        why = note(Text("inside.filters_no_data", err=err), lang)
        return f"<div class='ins'>{why}<div class='ins-filter'>{tiles}</div></div>"
    fp = found
    kh, kw = fp.kernels.shape[-2:]
    kscale = core.scale_of(fp.kernels)
    intro = tr(lang, "inside.filters_intro", n=len(fp.kernels), kh=kh, kw=kw, images=fp.images, field=fp.field)
    rows = [f"<div class='ins'><p>{esc(intro)}</p>"]
    for c in range(len(fp.kernels)):
        tiles = [kernel_img(c, fp.kernels[c], kscale, lang)]
        for j in range(fp.patches.shape[1]):
            name = class_name(lang, loaded.classes[int(fp.labels[c, j])])
            what = f"{esc(name)}: {fmt(float(fp.strengths[c, j]))}"
            src = data_url(patch_picture(fp.patches[c, j], fp.field))
            tiles.append(f"<img alt='{what}' title='{what}' src='{src}'>")
        label = esc(tr(lang, "inside.filter_alt", c=c + 1, k=fp.patches.shape[1]))
        rows.append(f"<div class='ins-filter' role='group' aria-label='{label}'>"
                    f"<span class='lab'>{esc(tr(lang, 'inside.filter_row', c=c + 1))}</span>{''.join(tiles)}</div>")
    rows.append("</div>")
    return "".join(rows)


# --------------------------------------------------------------------------- live
class LiveRenderer:
    """The live view's HTML, made once per new picture and language and shared by every viewer."""

    def __init__(self, live: core.LiveInside):
        self.live = live
        self._lock = threading.Lock()
        self._cached: dict[str, tuple[int, str]] = {}

    def html(self, lang: str = DEFAULT) -> tuple[int, str]:
        version, view, why_none = self.live.snapshot()
        with self._lock:
            cached = self._cached.get(lang)
            if cached is not None and cached[0] == version:
                return cached
        text = live_html(view, why_none, lang)
        with self._lock:
            if any(v != version for v, _ in self._cached.values()):
                self._cached = {}                     # a new picture: every language's view is old
            entry = self._cached.setdefault(lang, (version, text))
        return entry


def live_html(view: core.LiveView | None, why_none: str = "", lang: str = DEFAULT) -> str:
    if view is None:
        return note(Text("inside.live_photo" if why_none == "photo" else "inside.live_idle"), lang)
    head = tr(lang, "inside.live_head_done" if view.kind == "done" else "inside.live_head", model=view.model,
              dataset=datasets.get_spec(view.dataset).title_text, step=view.step, epoch=view.epoch)
    out = [f"<div class='ins'><div class='ins-head'><b>{esc(head)}</b></div>"]
    if view.filters is not None:
        f = view.filters
        head = section_head(Text("inside.live_filters", title=view.filter_title), lang=lang)
        maps = maps_html(f, view.filter_title, core.scale_of(f), side=max(48, 8 * f.shape[1]), lang=lang)
        out.append(f"<section class='ins-stage'>{head}{maps}</section>")
    guess = int(np.argmax(view.probs))
    said = tr(lang, "inside.live_picture", label=esc(class_name(lang, view.label)),
              guess=esc(class_name(lang, view.classes[guess])), p=float(view.probs[guess]))
    out.append(f"<section class='ins-stage'><div class='ins-says'>{said}</div>{input_html(view.picture, lang)}"
               "</section>")
    for title, shape, values in view.maps:
        out.append(f"<section class='ins-stage'>{section_head(title, shape, lang=lang)}"
                   f"{maps_html(values, title, core.scale_of(values), lang=lang)}</section>")
    out.append("</div>")
    return "".join(out)


# --------------------------------------------------------------------------- photo
def photo_html(ctx: AppContext, path: str | None, model_key: str | None, lang: str = DEFAULT) -> str:
    """A few early and late channels of the transfer model on a photo."""
    if not path:
        return note(Text("inside.photo_empty"), lang)
    if not ctx.zoo.choices(photo_datasets()):
        raise Refusal(Text("inside.photo_none"))
    loaded = load_model(ctx, model_key, photo_datasets())
    photo = imageio.load_photo(path)
    prepared = prepare_for(loaded, photo.image)
    early, late = core.photo_channels(loaded.model, prepared.tensor)
    intro = tr(lang, "inside.photo_intro", early=esc(say(lang, early.title)), early_shape=core.shape_text(early.shape),
               late=esc(say(lang, late.title)), late_shape=core.shape_text(late.shape), n=len(early.channels))
    seen = data_url(Image.fromarray(prepared.seen).resize((112, 112)))
    out = [f"<div class='ins'><p>{intro}</p>",
           f"<img class='ins-pic' alt='{esc(tr(lang, 'inside.photo_input'))}' src='{seen}' width='112' height='112'>"]
    for group in (early, late):
        tiles = []
        for k, ch in enumerate(group.channels):
            alt = esc(tr(lang, "inside.channel_alt", title=group.title, c=ch))
            src = data_url(core.heatmap(group.maps[k], core.scale_of(group.maps[k])))
            tiles.append(f"<span class='ins-cell'><img class='ins-pic' alt='{alt}' src='{src}' width='84' height='84'>"
                         f"{esc(tr(lang, 'inside.channel', c=ch))}</span>")
        out.append(f"<section class='ins-stage'>{section_head(group.title, group.shape, lang=lang)}"
                   f"<div class='ins-cells'>{''.join(tiles)}</div></section>")
    out.append("</div>")
    return "".join(out)
