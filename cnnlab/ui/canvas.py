"""A light drawing canvas for digits: one small PNG per stroke, nothing else on the wire.

Gradio's Sketchpad costs about 18 HTTP requests per stroke (component_server posts, a dozen
uploads, the queue, an image download) and opens with no tool selected. This canvas is a plain
<canvas> in a ``gr.HTML`` with pointer events (mouse, pen and touch alike; the page does not
scroll while a finger draws), Undo and Clear, and a round black pen on white paper that is ready
at once. When a stroke ends it sets its value to the drawing as a PNG data URL, which fires
``.change`` once: one queue request per stroke.

Python handlers receive what the Sketchpad with ``image_mode="L", type="numpy"`` gave them:
``{"background": None, "layers": [], "composite": (H, W) uint8 array}``, black ink (0) on white
(255), or None for an empty canvas. Setting the value to None from Python clears the canvas;
an image (array, PIL or data URL) replaces the drawing.
"""
from __future__ import annotations

import base64
import binascii
import io

import gradio as gr
import numpy as np
from PIL import Image

from ..core.imageio import data_url, on_white
from ..i18n import Text
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

# Scoped by Gradio to this component (nested under its root). The root's data-empty attribute is
# set by the script (attributes of the template's own elements are reset on every re-render).
CSS_TEMPLATE = """
.cl-pad { display: flex; flex-direction: column; align-items: center; gap: 8px; }
.cl-paper { position: relative; width: min(100%, 440px); aspect-ratio: 1 / 1; }
.cl-canvas { display: block; width: 100%; height: 100%; background: #fff; cursor: crosshair;
  border: 2px solid var(--border-color-primary, #ccc); border-radius: 8px; box-sizing: border-box;
  touch-action: none; user-select: none; -webkit-user-select: none; -webkit-touch-callout: none; }
.cl-hint { position: absolute; inset: 0; display: flex; align-items: center; justify-content: center;
  pointer-events: none; color: #9a9a9a; font-size: 1.3rem; }
&[data-empty="0"] .cl-hint { display: none; }
.cl-tools { display: flex; gap: 8px; width: min(100%, 440px); }
.cl-tools button { flex: 1; min-height: 44px; font-size: 1rem; font-weight: 600; cursor: pointer;
  touch-action: manipulation;
  border-radius: 8px; border: 1px solid var(--button-secondary-border-color, #ccc);
  background: var(--button-secondary-background-fill, #f3f4f6);
  color: var(--button-secondary-text-color, #111); }
.cl-tools button:hover { background: var(--button-secondary-background-fill-hover, #e5e7eb); }
.cl-tools button:disabled { opacity: 0.45; cursor: default; }
"""

JS_ON_LOAD = """
const canvas = element.querySelector('.cl-canvas');
const pen = canvas.getContext('2d');
const size = canvas.width;
const width = Number(props.pen) || 22;
let strokes = [];          // each stroke: [[x, y], ...] in canvas pixels
let base = null;           // an image set from Python (drawn under the strokes)
let live = null;           // the stroke being drawn: {id, pts}
let sent = props.value || '';

function tools() {
  const empty = strokes.length === 0 && !base;
  element.dataset.empty = empty ? '1' : '0';
  element.querySelectorAll('.cl-undo, .cl-clear').forEach((b) => { b.disabled = empty; });
}
function setPen() {
  pen.strokeStyle = '#000'; pen.fillStyle = '#000'; pen.lineWidth = width;
  pen.lineCap = 'round'; pen.lineJoin = 'round';
}
function dot(p) { setPen(); pen.beginPath(); pen.arc(p[0], p[1], width / 2, 0, 2 * Math.PI); pen.fill(); }
function segment(a, b) { setPen(); pen.beginPath(); pen.moveTo(a[0], a[1]); pen.lineTo(b[0], b[1]); pen.stroke(); }
function paint(s) {
  if (s.length === 1) { dot(s[0]); return; }
  setPen(); pen.beginPath(); pen.moveTo(s[0][0], s[0][1]);
  for (let i = 1; i < s.length; i++) pen.lineTo(s[i][0], s[i][1]);
  pen.stroke();
}
function redraw() {
  pen.fillStyle = '#fff'; pen.fillRect(0, 0, size, size);
  if (base) pen.drawImage(base, 0, 0, size, size);
  strokes.forEach(paint);
  tools();
}
function send() {
  sent = (strokes.length || base) ? canvas.toDataURL('image/png') : '';
  props.value = sent;        // Gradio fires .change once for the new value
}
function at(e) {
  const r = canvas.getBoundingClientRect();
  return [(e.clientX - r.left) * size / r.width, (e.clientY - r.top) * size / r.height];
}
canvas.addEventListener('pointerdown', (e) => {
  if (e.pointerType === 'mouse' && e.button !== 0) return;
  if (live && !e.isPrimary) return;          // a second finger while one draws: ignored
  if (live) send();                          // a new first touch: the old stroke's end was lost
  e.preventDefault();
  try { canvas.setPointerCapture(e.pointerId); } catch (err) { /* synthetic events */ }
  live = { id: e.pointerId, pts: [at(e)] };
  strokes.push(live.pts);
  dot(live.pts[0]);
  tools();
});
canvas.addEventListener('pointermove', (e) => {
  if (!live || e.pointerId !== live.id) return;
  e.preventDefault();
  const events = e.getCoalescedEvents ? e.getCoalescedEvents() : [];
  for (const ev of (events.length ? events : [e])) {
    const p = at(ev);
    segment(live.pts[live.pts.length - 1], p);
    live.pts.push(p);
  }
});
function finish(e) {
  if (!live || e.pointerId !== live.id) return;
  live = null;
  send();
}
canvas.addEventListener('pointerup', finish);
canvas.addEventListener('pointercancel', finish);
canvas.addEventListener('lostpointercapture', finish);
canvas.addEventListener('contextmenu', (e) => e.preventDefault());

function undo() {
  live = null;                               // never let a stroke whose end was lost block the tools
  if (strokes.length) strokes.pop(); else base = null;
  redraw(); send();
}
function clear() {
  live = null;
  strokes = []; base = null;
  redraw(); send();
}
// Undo and Clear act when the finger, pen or mouse is lifted over them (pointerup), not on the
// click the browser makes from a tap: after a quick stroke Chrome takes a tap that follows within
// a fraction of a second for "stop the fling" and makes no click, so a student's Clear was lost.
// Pointer events always arrive. A click without a pointer (Enter or Space on the focused button,
// detail 0) still works; the click that follows a pointerup (detail >= 1) is ignored.
let pressed = null;        // the Undo/Clear button a pointer went down on
function act(button) {
  if (!button || button.disabled) return;
  if (button.classList.contains('cl-undo')) undo(); else clear();
}
element.addEventListener('pointerdown', (e) => {
  const button = e.target.closest('.cl-undo, .cl-clear');
  pressed = button && (e.pointerType !== 'mouse' || e.button === 0) ? button : null;
});
element.addEventListener('pointerup', (e) => {
  const button = pressed;
  pressed = null;
  if (!button || e.target.closest('.cl-undo, .cl-clear') !== button) return;
  const r = button.getBoundingClientRect();         // a finger that slid off the button: no action
  if (e.clientX >= r.left && e.clientX <= r.right && e.clientY >= r.top && e.clientY <= r.bottom) act(button);
});
element.addEventListener('pointercancel', () => { pressed = null; });
element.addEventListener('click', (e) => {
  if (e.detail === 0) act(e.target.closest('.cl-undo, .cl-clear'));
});
document.addEventListener('keydown', (e) => {
  if ((e.ctrlKey || e.metaKey) && !e.shiftKey && e.key.toLowerCase() === 'z' && element.offsetParent !== null
      && !['INPUT', 'TEXTAREA'].includes(document.activeElement && document.activeElement.tagName)) {
    e.preventDefault(); undo();
  }
});

// A new value from Python: None clears the canvas, an image replaces the drawing.
watch('value', () => {
  const value = props.value || '';
  if (value === sent) return;
  sent = value; strokes = []; live = null; base = null;
  if (!value) { redraw(); return; }
  const img = new Image();
  img.onload = () => { base = img; redraw(); };
  img.src = value;
});
redraw();
if (sent) { const img = new Image(); img.onload = () => { base = img; redraw(); }; img.src = sent; }
"""


class DrawingError(ValueError):
    """A drawing that cannot be read; its argument is a Text for the user."""


class DrawingCanvas(gr.HTML):
    """A canvas to draw one digit on; its value is the drawing (see the module docstring)."""

    def __init__(self, value=None, *, label: str | None = None, size: int = SIZE, pen: int = PEN,
                 elem_id: str | None = None, elem_classes=None, visible: bool = True, render: bool = True,
                 key=None):
        super().__init__(to_data_url(value), label=label, html_template=HTML_TEMPLATE,
                         css_template=CSS_TEMPLATE, js_on_load=JS_ON_LOAD, apply_default_css=False,
                         elem_id=elem_id, elem_classes=elem_classes, visible=visible, render=render,
                         key=key, size=int(size), pen=int(pen), texts=texts("canvas"))

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
