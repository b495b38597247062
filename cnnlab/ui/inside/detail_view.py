"""An opened map as HTML: the map large with its selected pixel, what the kernel lies on, the
kernel, and the multiply-and-add at that pixel written out (for a pooling or activation map: how
its pixel came about)."""
from __future__ import annotations

import numpy as np

from ...core.imageio import data_url
from ...i18n import DEFAULT, Text, say, tr
from ...lessons import inside as core
from .text import esc, fmt, note
from .walk_view import stage_scales


def framed(picture, alt: str, box: tuple[float, float, float, float] | None, rows: int, cols: int,
           attrs: str = "", cls: str = "ins-frame") -> str:
    """A picture filling a square frame, with ``box`` (top, left, height, width in its pixels)
    marked on it."""
    mark = ""
    if box is not None:
        top, left, height, width = box
        mark = (f"<div class='ins-mark' style='top:{100 * top / rows:.3f}%; left:{100 * left / cols:.3f}%; "
                f"height:{100 * height / rows:.3f}%; width:{100 * width / cols:.3f}%'></div>")
    return f"<div class='{cls}' {attrs}><img alt='{esc(alt)}' src='{data_url(picture)}'>{mark}</div>"


def detail_html(loaded, walk: core.Walk, pick: tuple, one_scale: bool, lang: str = DEFAULT) -> str:
    """The opened map ``pick`` = (stage, channel, row, col); row -1: its strongest pixel."""
    s, c, r, q = pick
    if s >= len(walk.stages) or not walk.stages[s].is_map or walk.stages[s].kind == "input" \
            or c >= walk.stages[s].shape[0]:
        return note(Text("inside.stale_pick"), lang)
    stage = walk.stages[s]
    n, rows, cols = stage.shape
    channel = stage.value[c]
    if r < 0 or q < 0 or r >= rows or q >= cols:               # no pixel yet: the strongest one
        r, q = divmod(int(channel.argmax()), cols)
    value = float(channel[r, q])
    big_png = core.heatmap(channel.numpy(), stage_scales(walk, one_scale)[s])
    alt = tr(lang, "inside.big_alt", title=stage.title, c=c + 1, h=rows, w=cols, r=r, q=q, v=fmt(value))
    attrs = (f"tabindex='0' role='img' aria-label='{esc(alt)}' data-pick='{s}:{c}' data-rows='{rows}' "
             f"data-cols='{cols}' data-row='{r}' data-col='{q}'")
    big = framed(big_png, alt, (r, q, 1, 1), rows, cols, attrs, cls="ins-big")
    title = esc(tr(lang, "inside.detail_title", title=stage.title, c=c + 1, n=n))
    out = [f"<div class='ins ins-detail' aria-live='polite'><h3>{title}</h3><div class='ins-figs'>",
           figure(big, tr(lang, "inside.big_caption", r=r, q=q, v=fmt(value)))]
    if stage.kind == "conv":
        out.append(conv_detail(walk, stage, c, r, q, lang))
    else:
        out.append(f"</div><p class='ins-sum'>{explain_pixel(walk, stage, c, r, q, lang)}</p>")
    out.append("</div>")
    return "".join(out)


def figure(inside: str, caption: str) -> str:
    """``caption`` is HTML (escape plain text before)."""
    return f"<figure class='ins-fig'>{inside}<figcaption>{caption}</figcaption></figure>"


def conv_detail(walk: core.Walk, stage: core.Stage, c: int, r: int, q: int, lang: str = DEFAULT) -> str:
    """What the kernel lies on, the kernel, and the multiply-and-add at (c, r, q), written out for
    the input channel that matters most there."""
    m = core.multiply_add(stage, c, r, q)
    cin, kh, kw = m.weights.shape
    k = int(np.abs(m.partial).argmax())                     # the input channel that matters most here
    src = walk.stages[stage.index - 1]
    plane = stage.input[m.in_channels[k]].numpy()
    if src.kind == "input" and plane.ndim == 2:             # the picture itself, in grey
        picture = np.clip((plane - plane.min()) / max(plane.max() - plane.min(), 1e-6) * 255, 0, 255).astype(np.uint8)
    else:
        picture = core.heatmap(plane, core.scale_of(plane))
    (sh, sw), (dh, dw) = stage.stride, stage.dilation
    left, _, top, _ = stage.padding
    box = (r * sh - top, q * sw - left, dh * (kh - 1) + 1, dw * (kw - 1) + 1)   # the kernel's footprint
    reads_caption = tr(lang, "inside.reads_caption", src=src.title, k=m.in_channels[k] + 1)
    kscale = core.scale_of(m.weights)
    kernel = framed(core.heatmap(m.weights[k], kscale),
                    tr(lang, "inside.kernel_alt", kh=kh, kw=kw, c=c + 1, k=m.in_channels[k] + 1), None, kh, kw)
    out = [figure(framed(picture, reads_caption, box, *plane.shape), esc(reads_caption)),
           figure(kernel, esc(tr(lang, "inside.kernel_caption", kh=kh, kw=kw, k=m.in_channels[k] + 1, cin=cin))),
           "</div>"]
    if cin > 1:
        out.append(kernel_sheet_html(m.weights, kscale, lang=lang))
    if src.kind == "input":
        normalised = tr(lang, "inside.normalised", paper=fmt(float(plane.min())), ink=fmt(float(plane.max())))
        out.append(f"<div class='ins-how'>{esc(normalised)}</div>")
    out.append(f"<div class='ins-how'>{esc(tr(lang, 'inside.table_caption', k=m.in_channels[k] + 1))}</div>"
               f"<div class='ins-table-wrap'>{multiply_table(stage, m, k)}</div>")
    out.append(sum_html(m, lang))
    if m.after is not None:
        then = tr(lang, "inside.then_act", act=esc(m.after_name), t=fmt(m.total), a=fmt(m.after))
        out.append(f"<p class='ins-sum'>{then}</p>")
    if stage.source is not stage.module:
        out.append(f"<div class='ins-how'>{esc(tr(lang, 'inside.folded'))}</div>")
    return "".join(out)


def kernel_sheet_html(weights: np.ndarray, scale: float, per_row: int = 16, lang: str = DEFAULT) -> str:
    """All input-channel slices of one filter (cin, kh, kw), ``per_row`` to a row, one pixel apart."""
    cin, kh, _ = weights.shape
    slices = [core.strip(weights[i:i + per_row], scale, gap=1) for i in range(0, cin, per_row)]
    width = max(sl.shape[1] for sl in slices)
    sheet = np.full((len(slices) * (kh + 1) - 1, width), core.ZERO, np.uint8)
    for i, sl in enumerate(slices):
        sheet[i * (kh + 1):i * (kh + 1) + kh, :sl.shape[1]] = sl
    zoom = max(2, min(8, 440 // width))
    caption = esc(tr(lang, "inside.kernels_caption", cin=cin))
    return (f"<div class='ins-how'>{caption}</div><img class='ins-vector' alt='{caption}' "
            f"src='{data_url(core.indexed_image(sheet))}' width='{width * zoom}' height='{sheet.shape[0] * zoom}'>")


def multiply_table(stage: core.Stage, m: core.MultiplyAdd, k: int) -> str:
    """Input x weight at each place of the kernel on input channel ``k`` (padding greyed)."""
    _, kh, kw = m.weights.shape
    (sh, sw), (dh, dw) = stage.stride, stage.dilation
    left, _, top, _ = stage.padding
    h_in, w_in = stage.input.shape[-2:]
    cells = []
    for i in range(kh):
        row = []
        for j in range(kw):
            y, x = m.row * sh - top + i * dh, m.col * sw - left + j * dw
            pad = not (0 <= y < h_in and 0 <= x < w_in)
            row.append(f"<td class='{'pad' if pad else ''}'>{fmt(m.inputs[k, i, j])}"
                       f"<span class='w'>×{fmt(m.weights[k, i, j])}</span></td>")
        cells.append("<tr>" + "".join(row) + "</tr>")
    return f"<table class='ins-table'>{''.join(cells)}</table>"


def sum_html(m: core.MultiplyAdd, lang: str = DEFAULT) -> str:
    """The products added up (per input channel when there are several), + bias = the map's value."""
    cin, kh, kw = m.weights.shape
    s, b, total = fmt(float(m.partial.sum())), fmt(m.bias), fmt(m.total)
    equals = esc(tr(lang, "inside.equals_map", r=m.row, q=m.col, v=fmt(m.map_value)))
    if cin == 1:
        return f"<p class='ins-sum'>{tr(lang, 'inside.sum_one', n=kh * kw, s=s, b=b, t=total)} {equals}</p>"
    parts = "".join(f"<span>{esc(tr(lang, 'inside.partial', c=ch + 1, v=fmt(p)))}</span>"
                    for ch, p in zip(m.in_channels, m.partial))
    total_sum = tr(lang, "inside.sum_many", cin=cin, kh=kh, kw=kw, n=cin * kh * kw, s=s, b=b, t=total)
    return (f"<div class='ins-how'>{esc(tr(lang, 'inside.partials', kh=kh, kw=kw))}</div>"
            f"<div class='ins-partials'>{parts}</div><p class='ins-sum'>{total_sum} {equals}</p>")


def explain_pixel(walk: core.Walk, stage: core.Stage, c: int, r: int, q: int, lang: str = DEFAULT) -> str:
    prev = walk.stages[stage.index - 1]
    v = fmt(float(stage.value[c, r, q]))
    if stage.kind == "act" and prev.shape == stage.shape:
        return tr(lang, "inside.act_explain", act=esc(say(lang, stage.title)), r=r, q=q,
                  x=fmt(float(prev.value[c, r, q])), v=v, src=esc(say(lang, prev.title)))
    module = stage.module
    if stage.kind == "pool" and hasattr(module, "kernel_size") and prev.value.dim() == 3:
        k = core.pair(module.kernel_size)[0]
        st = core.pair(module.stride)[0]
        pad = core.pair(getattr(module, "padding", 0))[0]
        window = prev.value[c, max(0, r * st - pad):r * st - pad + k, max(0, q * st - pad):q * st - pad + k]
        vals = "[" + ", ".join(fmt(float(x)) for x in window.reshape(-1)) + "]"
        how = Text("inside.largest" if "Max" in type(module).__name__ else "inside.mean")
        return tr(lang, "inside.pool_explain", pool=esc(say(lang, stage.title)), r=r, q=q, how=how, k=k,
                  src=esc(say(lang, prev.title)), vals=vals, v=v)
    return tr(lang, "inside.other_explain", title=esc(say(lang, stage.title)), r=r, q=q, v=v)

