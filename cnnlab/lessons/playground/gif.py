"""The GIF of a Playground run (as the course saves ``LR_fitting.gif`` and ``Classification.gif``).

The browser trains and draws; when a student asks for the GIF, the page sends the frames it kept
while playing, once: PNG data URLs of its picture with the caption drawn in (so any language's
characters come out as the browser drew them). The server checks every limit here before decoding
anything, and joins them into one animated GIF.
"""
from __future__ import annotations

import base64
import io
import threading

from PIL import Image

from ...core.imageio import ImageInputError, decode_data_url, open_checked
from ...i18n import Text
from .settings import SettingsError

MAX_GIF_FRAMES = 60            # the page keeps at most this many (every other one dropped when full)
MAX_FRAME_SIDE = 480           # pixels, either side (the page sends 320 x 348)
MAX_FRAME_BYTES = 200_000      # one PNG frame (a smooth picture of 320 px is 20-60 kB)
MAX_GIF_BYTES = 4_000_000      # all the frames together
FRAME_MS = 120                 # the GIF's pace
_ONE_AT_A_TIME = threading.Lock()    # one GIF at a time (each takes 0.1-0.5 s)


def gif_from_frames(frames) -> bytes:
    """Frames (PNG data URLs) -> an animated GIF; ``SettingsError`` with a sentence for too few,
    too many, too large or unreadable frames."""
    if not isinstance(frames, list) or len(frames) < 2:
        raise SettingsError(Text("playground.gif_needs_frames"))
    if len(frames) > MAX_GIF_FRAMES:
        raise SettingsError(Text("playground.gif_too_many", most=MAX_GIF_FRAMES))
    if sum(len(f) if isinstance(f, str) else MAX_GIF_BYTES for f in frames) * 3 // 4 > MAX_GIF_BYTES:
        raise SettingsError(Text("playground.gif_too_big"))
    with _ONE_AT_A_TIME:                 # a class asking at once takes turns: at most one core's share
        images = []
        try:
            for f in frames:
                if not isinstance(f, str) or not f.startswith("data:image/png;base64,"):
                    raise SettingsError(Text("playground.gif_bad_frame"))
                im = open_checked(decode_data_url(f, MAX_FRAME_BYTES), max_bytes=MAX_FRAME_BYTES,
                                  max_side=MAX_FRAME_SIDE, formats=("PNG",))
                images.append(im.convert("RGB"))
        except ImageInputError:
            raise SettingsError(Text("playground.gif_bad_frame")) from None
        size = images[0].size
        # An adaptive palette without dithering: smooth backgrounds stay small (10-30 kB a frame).
        paletted = [(im if im.size == size else im.resize(size)).convert(
            "P", palette=Image.Palette.ADAPTIVE, colors=64, dither=Image.Dither.NONE) for im in images]
        out = io.BytesIO()
        paletted[0].save(out, format="GIF", save_all=True, append_images=paletted[1:], duration=FRAME_MS, loop=0)
    return out.getvalue()


def gif_data_url(frames) -> str:
    return "data:image/gif;base64," + base64.b64encode(gif_from_frames(frames)).decode("ascii")
