"""A light drawing canvas for digits: answered in the browser, or one small PNG per stroke.

Gradio's Sketchpad costs about 18 HTTP requests per stroke (component_server posts, a dozen
uploads, the queue, an image download) and opens with no tool selected. This canvas is a plain
<canvas> in a ``gr.HTML`` with pointer events (mouse, pen and touch alike; the page does not
scroll while a finger draws), Undo and Clear, and a round black pen on white paper that is ready
at once. When a stroke ends it sets its value to the drawing as a PNG data URL (``.change``: for
other tabs that read the drawing; nothing on the wire). With a ``live`` module (cnnlab/ui/web,
e.g. draw.js) the browser answers the drawing on every animation frame; the canvas fires
``.input`` (listen there for the server's answer: one queue request per stroke) only when the
server must answer: no such module, a model the browser does not run, or one that has not
arrived yet (see web/canvas.js).

Python handlers receive what the Sketchpad with ``image_mode="L", type="numpy"`` gave them:
``{"background": None, "layers": [], "composite": (H, W) uint8 array}``, black ink (0) on white
(255), or None for an empty canvas. Setting the value to None from Python clears the canvas;
an image (array, PIL or data URL) replaces the drawing.
"""
from __future__ import annotations

import base64
import binascii
import io
from pathlib import Path

import gradio as gr
import numpy as np
from PIL import Image

from ..core.imageio import data_url, on_white
from ..i18n import Refusal, Text
from .lang import PICK_TEXTS, texts

SIZE = 280                 # canvas pixels (10x the 28x28 the model sees)
PEN = 22                   # pen width in canvas pixels: about MNIST's pen once the digit is 20 px
MAX_URL_CHARS = 2_000_000  # a 280x280 drawing is a few kB; refuse anything absurd before decoding
MAX_SIDE = 1024            # largest image accepted from a client, in pixels
PREFIX = "data:image/png;base64,"

# Its words come from cnnlab/i18n (section "canvas"), all languages in the ``texts`` prop; the
# template picks the reader's.
HTML_TEMPLATE = """
<div class="cl-pad">
  <div class="cl-paper">
    <canvas class="cl-canvas" width="${size}" height="${size}" role="img"
            aria-label="${TEXTS.area}"></canvas>
    <div class="cl-hint" aria-hidden="true">${TEXTS.hint}</div>
  </div>
  <div class="cl-tools">
    <button type="button" class="cl-undo" title="${TEXTS.undo_title}">&#x21B6; ${TEXTS.undo}</button>
    <button type="button" class="cl-clear" title="${TEXTS.clear_title}">&#x2715; ${TEXTS.clear}</button>
  </div>
</div>
""".replace("TEXTS", PICK_TEXTS)

# The page-side code and style live in cnnlab/ui/web (canvas.js: the js_on_load body; canvas.css:
# scoped by Gradio to this component). canvas.js is handed to Gradio inline rather than imported,
# so that drawing and the server's answers work even where /cnnlab/web cannot be loaded.
WEB = Path(__file__).resolve().parent / "web"
CSS_TEMPLATE = (WEB / "canvas.css").read_text(encoding="utf-8")
JS_ON_LOAD = (WEB / "canvas.js").read_text(encoding="utf-8")


class DrawingError(Refusal, ValueError):
    """A drawing that cannot be read; its argument is a Text for the user."""


class DrawingCanvas(gr.HTML):
    """A canvas to draw one digit on; its value is the drawing (see the module docstring)."""

    def __init__(self, value=None, *, label: str | None = None, size: int = SIZE, pen: int = PEN,
                 elem_id: str | None = None, elem_classes=None, visible: bool = True, render: bool = True,
                 key=None, live: dict | None = None):
        """``live``: the module under cnnlab/ui/web that answers the drawing in the browser and
        its options, e.g. {"module": "draw.js", ...} (see canvas.js); None: the server answers."""
        super().__init__(to_data_url(value), label=label, html_template=HTML_TEMPLATE,
                         css_template=CSS_TEMPLATE, js_on_load=JS_ON_LOAD, apply_default_css=False,
                         elem_id=elem_id, elem_classes=elem_classes, visible=visible, render=render,
                         key=key, size=int(size), pen=int(pen), texts=texts("canvas"), live=live)

    def preprocess(self, payload: str | None) -> dict | None:
        """The PNG data URL from the browser -> the Sketchpad's {"composite": (H, W) uint8}.
        (Handlers use ``preprocess=False`` and ``inputs.drawing``, which says errors in the
        reader's language; here there is no request to know it from.)"""
        try:
            pixels = decode_drawing(payload)
        except DrawingError as err:
            raise gr.Error(str(err.args[0]), print_exception=False) from None
        if pixels is None:
            return None
        return {"background": None, "layers": [], "composite": pixels}

    def postprocess(self, value) -> str | None:
        return to_data_url(value)

    def api_info(self) -> dict:
        return {"type": "string", "description": "the drawing as a PNG data URL "
                "(dark ink on white paper), or an empty string for an empty canvas"}

    def example_payload(self) -> str:
        return to_data_url(np.full((28, 28), 255, np.uint8))

    def example_value(self) -> dict:
        return {"background": None, "layers": [], "composite": np.full((28, 28), 255, np.uint8)}


def decode_drawing(payload: str | None) -> np.ndarray | None:
    """(H, W) uint8 grey pixels from a PNG data URL; transparent pixels become white paper.
    None for an empty canvas; DrawingError for anything that is not a sensible PNG drawing."""
    if not payload:
        return None
    if not isinstance(payload, str) or not payload.startswith(PREFIX) or len(payload) > MAX_URL_CHARS:
        raise DrawingError(Text("canvas.not_a_picture"))
    try:
        data = base64.b64decode(payload[len(PREFIX):], validate=True)
        image = Image.open(io.BytesIO(data), formats=["PNG"])
        if max(image.size) <= MAX_SIDE:                  # read from the header: nothing decoded yet
            image.load()
    except (binascii.Error, ValueError, OSError, Image.DecompressionBombError):
        raise DrawingError(Text("canvas.damaged")) from None
    if max(image.size) > MAX_SIDE:
        raise DrawingError(Text("canvas.too_big", width=image.size[0], height=image.size[1], limit=MAX_SIDE))
    return np.asarray(on_white(image).convert("L"))


def to_data_url(value) -> str | None:
    """None, a data URL, a Sketchpad-style dict, an array or a PIL image -> a PNG data URL."""
    if isinstance(value, dict):
        value = value.get("composite")
    if value is None or isinstance(value, str):
        return value or None
    return data_url(value if isinstance(value, Image.Image) else np.asarray(value))
