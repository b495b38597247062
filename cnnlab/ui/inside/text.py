"""Every word the Inside tab shows (issue 18 moves them into per-language files), and how it
prints numbers."""
from __future__ import annotations

import html

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
    "empty_detail": ("Click any feature map of the network (or tab to it and press Enter) to open it here, "
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
    "scale": "colour scale: −{s} to +{s}",
    "scale_all": "one colour scale for all layers: −{s} to +{s}",
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
                    "resolution. <b>{late}</b> ({late_shape}): whole parts, coarse. The {n} channels of each "
                    "that change most across the photo."),
    "channel": "channel {c}",
    "channel_alt": "{title}, channel {c}",
}


def t(name: str, **values) -> str:
    """The tab's text called ``name``, filled in."""
    return TEXT[name].format(**values) if values else TEXT[name]


def fmt(v: float) -> str:
    """A number as the page prints it: 3 significant decimals, a real minus sign."""
    return f"{v:.3f}".replace("-", "−") if abs(v) < 100 else f"{v:.1f}".replace("-", "−")


def esc(text: str) -> str:
    return html.escape(str(text), quote=True)



def note(name: str, **values) -> str:
    """A sentence of the tab in a dashed box: hints, empty states, why something is missing."""
    return f"<div class='ins ins-note'>{esc(t(name, **values))}</div>"
