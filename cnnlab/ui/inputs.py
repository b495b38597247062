"""What API callers send, turned into what the handlers need, with every limit checked first.

Events that an API caller can reach with any value are wired with ``preprocess=False``: Gradio's
own preprocessing would decode an image before we could look at its size (Pillow allows ~179
megapixels), and would answer a slider value out of range, or a word where a number belongs, with
a message that does not name the setting. These helpers take the raw values instead:

* ``drawing``: a drawing as the page's canvas sends it (a PNG data URL) or as a Sketchpad value
  (``{"composite": file, ...}``); the picture's size is read from its header and refused above
  ``MAX_DRAWING_SIDE`` pixels before anything is decoded.
* ``photo``: an uploaded photo, through ``cnnlab.core.imageio.load_photo`` (bytes and pixels checked
  from the header before decoding).
* ``number`` / ``flag``: a setting checked against ``cnnlab.config.LIMITS``.

Each failure is a ``Refusal`` (cnnlab.i18n) whose sentence says what to do; the handler's
``@refusing`` (cnnlab.ui.common) shows it in the reader's language.
"""
from __future__ import annotations

import numpy as np
from PIL import Image

from ..config import check, check_flag
from ..core import imageio
from ..i18n import Refusal, Text
from .canvas import MAX_SIDE as MAX_DRAWING_SIDE
from .canvas import decode_drawing

DRAWING_FORMATS = ("PNG", "JPEG", "WEBP")    # what a canvas or a script saves a drawing as


def number(name: str, value, default=None):
    """A setting from ``cnnlab.config.LIMITS``; ``None`` or "" means ``default`` when one is given."""
    if value in (None, "") and default is not None:
        value = default
    return check(name, value)


def flag(label, value, default: bool = False) -> bool:
    return check_flag(label, default if value is None else value)


def _file_source(value) -> str | bytes | None:
    """A FileData-like value (dict with "path" or a data: "url", or a path string) -> path / bytes."""
    if value is None:
        return None
    if isinstance(value, str):
        return value or None
    if isinstance(value, dict):
        if value.get("path"):
            return value["path"]
        url = value.get("url") or ""
        if url.startswith("data:"):
            return imageio.decode_data_url(url)
    raise imageio.ImageInputError(Text("inputs.unreadable_form"))


def drawing_pixels(source: str | bytes) -> np.ndarray:
    """(H, W) uint8 grey pixels of a drawing file, transparent parts on white paper; the size is
    checked from the header before decoding."""
    im = imageio.open_checked(source, max_pixels=MAX_DRAWING_SIDE ** 2, max_side=MAX_DRAWING_SIDE,
                              formats=DRAWING_FORMATS)
    try:
        im.load()
        if im.mode in ("RGBA", "LA", "P", "PA") or "transparency" in im.info:
            rgba = im.convert("RGBA")
            im = Image.alpha_composite(Image.new("RGBA", rgba.size, (255, 255, 255, 255)), rgba)
        return np.asarray(im.convert("L"))
    except Exception as err:                      # truncated or corrupt data
        raise imageio.ImageInputError(Text("canvas.damaged")) from err


def drawing(raw) -> dict | None:
    """The Sketchpad-style value ``{"background": None, "layers": [], "composite": (H, W) uint8}``
    of a raw drawing (PNG data URL or Sketchpad value); None for an empty canvas."""
    if raw is None or raw == "":
        return None
    if isinstance(raw, str):                      # the page's canvas: a PNG data URL
        pixels = decode_drawing(raw)
    elif isinstance(raw, dict):                   # a Sketchpad value: only its composite is read
        composite = raw.get("composite")
        if composite is None:
            return None
        pixels = drawing_pixels(_file_source(composite))
    else:
        raise Refusal(Text("canvas.not_a_picture"))
    return None if pixels is None else {"background": None, "layers": [], "composite": pixels}


def photo(raw):
    """A decoded ``imageio.Photo`` from a raw Image value (path, FileData dict or data URL)."""
    source = _file_source(raw)
    if source is None:
        return None
    return imageio.load_photo(source)
