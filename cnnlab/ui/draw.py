"""Draw tab: a digit drawn on the sketchpad, recognised on every stroke."""
from __future__ import annotations

import html
import importlib.util

import gradio as gr
import numpy as np

from ..inference import answer
from ..preprocess import sketch_pixels
from ..saliency import enlarge, overlay
from .context import AppContext

CANVAS = 280                 # drawing area in pixels (10x the 28x28 the model sees)
BRUSH_RADIUS = 11            # thick enough to survive the shrink to 28x28
DIGIT_DATASETS = ("mnist",)

# Gradio 6 opens the Sketchpad with no tool selected (see GRADIO_NOTES §1): pick the brush on
# load, and again after the trash icon / Clear, so a student can draw at once.
AUTO_BRUSH_JS = """() => { const t = (n) => { const r = document.querySelector('#sketch');
  const b = r && r.querySelector('button[aria-label="Brush"]');
  if (b && r.innerText.includes('select the draw tool')) b.click(); else if (!b && n > 0) setTimeout(() => t(n-1), 200); };
  setTimeout(() => t(25), 150); }"""

HINT = "<div class='big-answer'><span class='hint'>Draw a digit (0-9) in the box</span></div>"


def answer_html(top: str, confidence: float) -> str:
    unsure = "" if confidence >= 0.6 else "<div class='hint'>not sure - try drawing it bigger or clearer</div>"
    return (f"<div class='big-answer' aria-live='polite'>{html.escape(top)}"
            f"<div class='hint'>{confidence:.0%} sure</div>{unsure}</div>")


def predict_digit(ctx: AppContext, sketch, model_key: str, show_saliency: bool):
    """Answer, probabilities, what the model sees, the saliency overlay, and the per-user record."""
    try:
        loaded = ctx.zoo.get(model_key or default_model(ctx))
    except (KeyError, ValueError) as err:
        raise gr.Error(f"That model is not available ({err}). Pick another one in the list.")
    result = answer(loaded, sketch, with_saliency=show_saliency)
    if result is None:
        return HINT, None, None, None, None
    seen = enlarge(result.prepared.seen)
    heat = overlay(sketch_pixels(sketch), result.saliency, result.prepared) if show_saliency else None
    record = {"seen": result.prepared.seen, "pred": result.top_index,
              "probs": list(result.probs.values()), "model": model_key}
    return answer_html(result.top, result.confidence), result.probs, seen, heat, record


def default_model(ctx: AppContext) -> str | None:
    keys = [key for _, key in ctx.zoo.choices(DIGIT_DATASETS)]
    shipped = [k for k in keys if k != "latest"]
    return "mnist-cnn" if "mnist-cnn" in keys else (shipped or keys or [None])[0]


def build(ctx: AppContext, demo: gr.Blocks) -> None:
    with gr.Row():
        with gr.Column(scale=1, min_width=300):
            sketch = gr.Sketchpad(
                label="Draw a digit", elem_id="sketch", image_mode="L", type="numpy",
                canvas_size=(CANVAS, CANVAS), fixed_canvas=True, height=CANVAS + 120,
                brush=gr.Brush(default_size=BRUSH_RADIUS, colors=["#000000"], color_mode="fixed"),
                layers=False, transforms=(), format="png")
            with gr.Row():
                clear = gr.Button("Clear", variant="secondary", elem_id="draw-clear")
            model = gr.Dropdown(ctx.zoo.choices(DIGIT_DATASETS), value=default_model(ctx),
                                label="Model", elem_id="draw-model",
                                info="Compare how different networks read the same drawing")
            show_saliency = gr.Checkbox(False, label="Show which pixels mattered (saliency)",
                                        elem_id="draw-saliency")
        with gr.Column(scale=1, min_width=300):
            verdict = gr.HTML(HINT, elem_id="draw-answer")
            probs = gr.Label(num_top_classes=10, label="Probability of each digit", elem_id="probs",
                             show_label=True)
        with gr.Column(scale=1, min_width=300):
            seen = gr.Image(label="What the model sees (28x28)", elem_id="draw-seen",
                            interactive=False, height=220, buttons=[])
            heat = gr.Image(label="Saliency on your drawing", elem_id="draw-heat",
                            interactive=False, height=220, buttons=[])
    last_prediction = gr.State(None)
    ctx.extras["draw_sketch"] = sketch

    outputs = [verdict, probs, seen, heat, last_prediction]
    predict = lambda s, m, sal: predict_digit(ctx, s, m, sal)       # noqa: E731
    sketch.change(predict, [sketch, model, show_saliency], outputs, api_name="predict_digit",
                  show_progress="hidden", trigger_mode="always_last", concurrency_limit=8,
                  concurrency_id="draw")
    for control in (model, show_saliency):
        control.change(predict, [sketch, model, show_saliency], outputs, show_progress="hidden",
                       concurrency_limit=8, concurrency_id="draw", api_name=False)
    clear.click(lambda: (None, HINT, None, None, None, None), None, [sketch] + outputs,
                queue=False, api_name=False)
    sketch.change(None, None, None, js=AUTO_BRUSH_JS)
    demo.load(None, None, None, js=AUTO_BRUSH_JS)
    demo.load(lambda: gr.Dropdown(choices=ctx.zoo.choices(DIGIT_DATASETS)), None, model,
              api_name=False, queue=False)

    if importlib.util.find_spec("cnnlab.ui.board"):
        from .board import build_submit
        build_submit(ctx, demo, sketch, last_prediction)
