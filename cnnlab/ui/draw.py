"""Draw tab: a digit drawn on the canvas, recognised while the pen moves.

The student's browser answers (cnnlab/ui/web/draw.js on the engine in cnnlab/ui/web/engine): on
every animation frame the drawing is prepared, run through the network and shown (the big answer,
the ten bars, what the network sees), with no request to the server; the weights come once per
checkpoint from /cnnlab/weights/<key>. The server answers when the browser cannot: a model it does
not run (LSTM, transfer), weights not there yet, no engine (the page's modules did not load), and
for saliency (on demand, when a stroke ends). ``/predict_digit`` takes the Sketchpad's value for
API clients (gradio_client), ``/predict_drawing`` the canvas's PNG data URL (the page's fallback).
"""
from __future__ import annotations

import html
from dataclasses import replace

import gradio as gr
import numpy as np
from PIL import Image

from ..core import calibration
from ..core.checkpoints import CheckpointError
from ..core.imageio import data_url
from ..core.inference import answer
from ..core.preprocess import sketch_pixels
from ..core.saliency import overlay
from ..i18n import DEFAULT, Refusal, Text, refusal_of, tr
from ..server.zoo import ModelZoo
from .board import build_submit
from .canvas import SIZE, DrawingCanvas
from .common import refusing
from .context import AppContext
from .inputs import drawing as raw_drawing
from .inputs import flag
from .lang import T, lang_of, texts

DIGIT_DATASETS = ("mnist",)
HEAT_SIDE = 140            # the saliency overlay is made and sent at about this size

FIGURE_CSS = """
.draw-figure {text-align: center}
.draw-figure img {display: block; margin: 0 auto; width: 100%; max-width: 240px; aspect-ratio: 1 / 1;
  border-radius: 6px; border: 1px solid var(--border-color-primary)}
.draw-figure img.pixels {image-rendering: pixelated; background: #000}
.draw-figure canvas.pixels {display: block; margin: 0 auto; width: 100%; max-width: 240px; aspect-ratio: 1 / 1;
  border-radius: 6px; border: 1px solid var(--border-color-primary); image-rendering: pixelated; background: #000}
.draw-caption {font-size: 0.9rem; color: var(--body-text-color-subdued)}
.draw-empty {display: flex; align-items: center; justify-content: center; text-align: center;
  max-width: 240px; aspect-ratio: 1 / 1; margin: 0 auto; padding: 1rem; box-sizing: border-box;
  border: 1px dashed var(--border-color-primary); border-radius: 6px; font-size: 0.95rem;
  color: var(--body-text-color-subdued)}
.draw-note {max-width: 240px; margin: 0 auto; padding: 0.75rem; font-size: 0.95rem; border-radius: 6px;
  border: 1px dashed var(--border-color-primary); color: var(--body-text-color-subdued)}
"""
ANSWER_CSS = ".big-answer {min-height: 6.5rem; margin: 0.25rem 0}"
# The ten bars the browser draws (draw.js) while Gradio's Label (the server's answers) is hidden.
BARS_CSS = """
.cl-bars-title {font-size: 0.9rem; color: var(--body-text-color-subdued); margin: 0 0 6px}
.cl-bars {display: grid; gap: 4px}
.cl-bar-row {display: grid; grid-template-columns: 2.2em 1fr 3.2em; align-items: center; gap: 8px;
  font-size: 1.05rem}
.cl-bar {height: 1.1em; background: var(--background-fill-secondary, #eef); border-radius: 4px; overflow: hidden}
.cl-bar > span {display: block; height: 100%; width: 0; background: var(--color-accent, #2166ac)}
.cl-bar-p {text-align: right; font-variant-numeric: tabular-nums}
.cl-bar-row.top {font-weight: 800}
"""
VIEW_IDS = {"answer": "draw-answer", "seen": "draw-seen", "bars": "draw-bars", "probs": "probs"}


def settings_js(tab: str, names: tuple[str, ...]) -> str:
    """A js-only event (no request) that hands a tab's controls to the page's module
    (web/live.js ``settings``): window.cnnlab.settings[tab] = {name: value}, listeners called."""
    args = ", ".join(names)
    fields = ", ".join(f"{n}: {n}" for n in names)
    return (f"({args}) => {{ const c = (window.cnnlab = window.cnnlab || {{}}); "
            f"const s = (c.settings = c.settings || {{}});"
            f" s.{tab} = {{{fields}}}; ((c.listeners || {{}}).{tab} || []).forEach((f) => f(s.{tab})); }}")


def live_options() -> dict:
    """What draw.js needs from the server: its words (every language), the "not sure" rule, the
    ids of the views it updates."""
    return {"module": "draw.js", "texts": texts("draw"), "sure": calibration.SURE["digits"], "ids": VIEW_IDS}


def hint_html(lang: str) -> str:
    return f"<div class='big-answer'><span class='hint'>{tr(lang, 'draw.hint')}</span></div>"


def seen_empty_html(lang: str) -> str:
    return (f"<div class='draw-figure'><div class='draw-empty'><span>{tr(lang, 'draw.seen_empty')}</span></div>"
            f"<div class='draw-caption'>{tr(lang, 'draw.seen_caption')}</div></div>")


def heat_off_html(lang: str) -> str:
    return f"<div class='draw-figure'><div class='draw-note'>{tr(lang, 'draw.heat_off')}</div></div>"


def answer_html(top: str, confidence: float, sure: bool, lang: str = DEFAULT) -> str:
    """``sure``: cnnlab.core.calibration.is_sure on the (calibrated) probabilities."""
    unsure = "" if sure else f"<div class='hint'>{tr(lang, 'draw.not_sure')}</div>"
    return (f"<div class='big-answer' aria-live='polite'>{html.escape(top)}"
            f"<div class='hint'>{tr(lang, 'draw.sure', share=confidence)}</div>{unsure}</div>")


def seen_html(seen: np.ndarray, lang: str = DEFAULT) -> str:
    """The 28x28 input, sent as it is (a few hundred bytes) and enlarged by the browser."""
    return (f"<div class='draw-figure'><img class='pixels' alt='{tr(lang, 'draw.seen_alt')}' "
            f"src='{data_url(seen)}'>"
            f"<div class='draw-caption'>{tr(lang, 'draw.seen_caption')}</div></div>")


def heat_html(sketch, result, lang: str = DEFAULT) -> str:
    """The saliency over the student's drawing, made at about HEAT_SIDE px (4x fewer pixels to
    map and encode than the canvas; the browser shows it at full width)."""
    pixels = sketch_pixels(sketch)
    factor = max(1, round(max(pixels.shape) / HEAT_SIDE))
    small = np.asarray(Image.fromarray(pixels).reduce(factor)) if factor > 1 else pixels
    prepared = replace(result.prepared, scale=result.prepared.scale * factor,
                       offset=(result.prepared.offset[0] / factor, result.prepared.offset[1] / factor))
    heat = overlay(small, result.saliency, prepared)
    return (f"<div class='draw-figure'><img alt='{tr(lang, 'draw.heat_alt')}' "
            f"src='{data_url(heat)}'><div class='draw-caption'>{tr(lang, 'draw.heat_caption')}</div></div>")


def predict_digit(zoo: ModelZoo, sketch, model_key: str | None, show_saliency: bool, lang: str = DEFAULT):
    """Answer, probabilities, what the model sees, the saliency overlay, and the per-user record."""
    key = model_key or zoo.default(DIGIT_DATASETS)
    result = answer(digit_model(zoo, key), sketch, with_saliency=bool(show_saliency))
    if result is None:
        return hint_html(lang), None, seen_empty_html(lang), heat_off_html(lang), None
    heat = heat_html(sketch, result, lang) if show_saliency else heat_off_html(lang)
    record = {"seen": result.prepared.seen, "pred": result.top_index,
              "probs": list(result.probs.values()), "model": key}
    sure = calibration.is_sure(result.probs.values(), "digits") and not result.unfamiliar
    return (answer_html(result.top, result.confidence, sure, lang), result.probs,
            seen_html(result.prepared.seen, lang), heat, record)


def digit_model(zoo: ModelZoo, key: str | None):
    """The loaded checkpoint called ``key``, if it is one that reads digits."""
    if key is None:
        raise Refusal(Text("draw.no_model"))
    if key not in {k for _, k in zoo.choices(DIGIT_DATASETS)}:
        raise Refusal(Text("draw.unknown_model", key=key))
    try:
        return zoo.get(key)
    except (KeyError, ValueError, CheckpointError) as err:
        raise Refusal(Text("draw.broken_model", key=key, why=refusal_of(err).text)) from None


def build(ctx: AppContext, demo: gr.Blocks, tab: gr.Tab, board_tab: bool = False) -> dict:
    """The Draw tab; with the Class board in the lesson, the row that sends a drawing to it.
    Offers ``drawing``: the canvas, which the t-SNE tab places on its map."""
    # Made here, placed in the third column: the board's submission (first column) reads it.
    model = gr.Dropdown(ctx.zoo.choices(DIGIT_DATASETS), value=ctx.zoo.default(DIGIT_DATASETS),
                        label=T("draw.model"), elem_id="draw-model", allow_custom_value=True,
                        info=T("draw.model_info"), render=False)

    @refusing
    def recognise(drawing, key, request: gr.Request = None):
        """The page's board submission recognises the drawing it sends (the browser answered the
        strokes, so no per-stroke record exists); /board_submit keeps the last API answer."""
        lang = lang_of(request)
        sketch = drawing if drawing is None or isinstance(drawing, dict) else raw_drawing(drawing)
        return predict_digit(ctx.zoo, sketch, key, False, lang)[4]

    with gr.Row(equal_height=False):
        with gr.Column(scale=5, min_width=300):
            canvas = DrawingCanvas(label=T("draw.canvas"), elem_id="sketch", live=live_options())
            verdict = gr.HTML(hint_html(DEFAULT), label=T("draw.answer"), elem_id="draw-answer",
                              css_template=ANSWER_CSS, js_on_load=None)
            last_prediction = gr.State(None)
            if board_tab:
                build_submit(ctx, demo, canvas, last_prediction, recognise=recognise, extra=[canvas, model])
        with gr.Column(scale=4, min_width=280):
            probs = gr.Label(num_top_classes=10, label=T("draw.probs"), elem_id="probs",
                             show_heading=False)
            # The bars the browser draws (draw.js shows them and hides the Label while it answers).
            gr.HTML("<div class='cl-bars-box'></div>", elem_id="draw-bars", css_template=BARS_CSS, container=False,
                    js_on_load=None)
        with gr.Column(scale=4, min_width=280):
            seen = gr.HTML(seen_empty_html(DEFAULT), label=T("draw.seen"), elem_id="draw-seen",
                           css_template=FIGURE_CSS, js_on_load=None)
            model.render()
            show_saliency = gr.Checkbox(False, label=T("draw.saliency"),
                                        elem_id="draw-saliency")
            heat = gr.HTML(heat_off_html(DEFAULT), label=T("draw.heat"), elem_id="draw-heat",
                           css_template=FIGURE_CSS, js_on_load=None)
    # API clients send the Sketchpad's value to /predict_digit; the page never shows this one.
    api_sketch = gr.Sketchpad(visible=False, image_mode="L", type="numpy", canvas_size=(SIZE, SIZE),
                              layers=False, transforms=(), format="png", elem_id="draw-api-sketch")

    outputs = [verdict, probs, seen, heat, last_prediction]

    @refusing
    def predict(drawing, model=None, show_saliency=False, request: gr.Request = None):
        lang = lang_of(request)
        return predict_digit(ctx.zoo, raw_drawing(drawing), model,
                             flag(Text("draw.saliency_flag"), show_saliency), lang)

    shared = dict(show_progress="hidden", trigger_mode="always_last", concurrency_limit=8,
                  concurrency_id="draw")
    # preprocess=False everywhere: a bad drawing is refused in the reader's language (inputs.drawing).
    # .input: the canvas asks the server only when the browser cannot answer (see canvas.py).
    canvas.input(predict, [canvas, model, show_saliency], outputs, api_name="predict_drawing",
                 api_description="Recognise a drawing sent as a PNG data URL (dark ink on white), "
                 "as the page's canvas sends it when the browser does not answer it itself.",
                 preprocess=False, **shared)
    # preprocess=False: the composite's size is read from its header and refused above
    # inputs.MAX_DRAWING_SIDE before anything is decoded (Gradio would decode up to ~179 MP first).
    api_sketch.change(predict, [api_sketch, model, show_saliency], outputs, api_name="predict_digit",
                      api_description="Recognise a drawing sent as a Sketchpad value (its composite: "
                      "dark ink on white, at most 1024 px a side). Empty canvas: a hint, no error.",
                      preprocess=False, **shared)
    for control in (model, show_saliency):
        control.change(predict, [canvas, model, show_saliency], outputs, api_name=False, preprocess=False,
                       **shared)
    @refusing
    def refresh(request: gr.Request = None):
        return gr.Dropdown(choices=ctx.zoo.choices(DIGIT_DATASETS, lang_of(request)))

    @refusing
    def start(request: gr.Request = None):
        """A new page: the model list as it is now, the empty views in the reader's language."""
        lang = lang_of(request)
        return refresh(request), hint_html(lang), seen_empty_html(lang), heat_off_html(lang)

    demo.load(start, None, [model, verdict, seen, heat], api_name=False, queue=False)
    # The model and saliency choices reach the page's module (draw.js) with no request.
    to_page = settings_js("draw", ("model", "saliency"))
    demo.load(None, [model, show_saliency], None, js=to_page)
    for control in (model, show_saliency):
        control.change(None, [model, show_saliency], None, js=to_page)
    model.focus(refresh, None, model, api_name=False, queue=False)     # a run trained meanwhile
    return {"drawing": canvas}
