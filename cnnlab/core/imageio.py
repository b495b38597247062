"""Safe decoding of photos that students upload: anything a phone, a laptop or a prankster can send.

``load_photo`` turns a file (path or bytes) into an upright RGB ``PIL.Image`` no larger than
``max_side`` pixels, or raises ``ImageInputError`` with a sentence that says what to do. It reads
only common photo formats (no EPS/PSD/... plugins), checks the byte size and the pixel count from
the header *before* decoding (so a 20000x20000 image or a decompression bomb is refused without
allocating it), decodes big JPEGs at a reduced scale (fast for phone photos), applies the EXIF
orientation, takes the first frame of animations, and turns CMYK, 16-bit, palette and transparent
images into plain RGB (transparency becomes white paper).
"""
from __future__ import annotations

import base64
import binascii
import io
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from ..i18n import Refusal, Text

MAX_BYTES = 10 * 1024 * 1024       # same as the app's upload limit (AppConfig.max_file_size)
MAX_PIXELS = 50_000_000            # 50 megapixels: any phone photo, never a 20000x20000 bomb
MIN_SIDE = 8                       # smaller than this cannot show anything (Fashion-MNIST is 28x28)
MAX_ASPECT = 12                    # longest / shortest side: wide panoramas pass, 10000x9 strips do not
WORK_SIDE = 500                    # longest side kept: plenty for 28x28 or 224x224, and a 12 MP JPEG
                                   # (4000 px) then decodes at 1/8 scale, the fastest
PHOTO_FORMATS = ("JPEG", "PNG", "GIF", "WEBP", "AVIF", "BMP", "TIFF")   # what phones and laptops make
FORMAT_NAMES = "JPEG, PNG, GIF, WebP, AVIF, BMP or TIFF"


Image.init()
FORMATS = tuple(f for f in PHOTO_FORMATS if f in Image.OPEN)   # JPEG covers iPhone MPO too; no EPS etc.


class ImageInputError(Refusal, ValueError):
    """A file we cannot use as a photo; its argument, a ``Text`` (cnnlab/i18n, section "imageio"),
    says why and what to do in plain words, in the reader's language (``str(err)``: English)."""


@dataclass
class Photo:
    image: Image.Image                          # RGB, upright, longest side <= max_side
    original_size: tuple[int, int]              # (width, height) as stored in the file
    format: str                                 # "JPEG", "PNG", ...
    notes: list[Text] = field(default_factory=list)  # things worth telling the student


def read_bytes(source: str | Path | bytes, max_bytes: int = MAX_BYTES) -> bytes:
    """The file's bytes, refusing empty and oversized files before reading them."""
    if isinstance(source, (bytes, bytearray)):
        data = bytes(source)
    else:
        path = Path(source)
        try:
            size = path.stat().st_size
            if size > max_bytes:
                raise ImageInputError(_too_big_bytes(size, max_bytes))
            data = path.read_bytes()
        except OSError as err:
            raise ImageInputError(Text("imageio.unreadable")) from err
    if not data:
        raise ImageInputError(Text("imageio.empty"))
    if len(data) > max_bytes:
        raise ImageInputError(_too_big_bytes(len(data), max_bytes))
    return data


def decode_data_url(url: str, max_bytes: int = MAX_BYTES) -> bytes:
    """Bytes of a ``data:image/...;base64,...`` URL (some webcams send photos this way)."""
    head, _, body = url.partition(",")
    if not head.startswith("data:") or ";base64" not in head:
        raise ImageInputError(Text("imageio.form"))
    if len(body) * 3 // 4 > max_bytes:
        raise ImageInputError(_too_big_bytes(len(body) * 3 // 4, max_bytes))
    try:
        return base64.b64decode(body, validate=True)
    except (binascii.Error, ValueError) as err:
        raise ImageInputError(Text("imageio.damaged_data")) from err


def open_checked(source: str | Path | bytes, max_bytes: int = MAX_BYTES, max_pixels: int = MAX_PIXELS,
                 max_side: int | None = None, formats=FORMATS) -> Image.Image:
    """``source`` opened lazily (only the header read), after checking its byte size, its pixel
    count and, when given, its longest side; ``ImageInputError`` with a clear message otherwise.
    Nothing is decoded: call ``.load()`` (or convert) on the result once it passed."""
    data = read_bytes(source, max_bytes)
    try:
        im = Image.open(io.BytesIO(data), formats=formats)
    except UnidentifiedImageError as err:
        if _is_heic(data):
            raise ImageInputError(Text("imageio.heic")) from err
        raise ImageInputError(Text("imageio.not_a_picture", formats=FORMAT_NAMES)) from err
    except Image.DecompressionBombError as err:    # Pillow's own guard, far above our limit
        found = re.search(r"\((\d+) pixels\)", str(err))
        raise ImageInputError(_too_many_pixels(int(found.group(1)) if found else None, max_pixels)) from err
    except Exception as err:                 # a header so broken that even opening fails
        raise ImageInputError(_damaged()) from err
    width, height = im.size                      # from the header: nothing decoded yet
    if max_side is not None and max(width, height) > max_side:
        raise ImageInputError(Text("imageio.too_long_side", width=width, height=height, limit=max_side))
    if width * height > max_pixels:
        raise ImageInputError(_too_many_pixels(width * height, max_pixels, (width, height)))
    return im


def load_photo(source: str | Path | bytes, max_side: int = WORK_SIDE, max_bytes: int = MAX_BYTES,
               max_pixels: int = MAX_PIXELS) -> Photo:
    """Decode ``source`` (a path or the file's bytes) into an upright RGB photo, or raise
    ``ImageInputError`` with a clear message. Never decodes more than ``max_pixels``."""
    im = open_checked(source, max_bytes, max_pixels)
    width, height = im.size
    if min(width, height) < MIN_SIDE:
        raise ImageInputError(Text("imageio.too_small", width=width, height=height, side=MIN_SIDE))
    if max(width, height) > MAX_ASPECT * min(width, height):
        raise ImageInputError(Text("imageio.too_thin", width=width, height=height))
    fmt, notes = im.format or "?", []
    try:
        if getattr(im, "n_frames", 1) > 1:
            notes.append(Text("imageio.first_frame"))
            im.seek(0)
        scale = max_side / max(width, height)
        if scale < 1:                # JPEG: decode at 1/2, 1/4 or 1/8 scale straight away (much faster)
            im.draft("RGB", (max(1, round(width * scale)), max(1, round(height * scale))))
        im.load()
        image, transparent = to_rgb(_upright(im))
    except Exception as err:         # truncated / corrupt data: OSError, SyntaxError, EOFError, zlib...
        raise ImageInputError(_damaged()) from err
    if transparent:
        notes.append(Text("imageio.transparent"))
    if max(image.size) > max_side:
        image.thumbnail((max_side, max_side), Image.LANCZOS, reducing_gap=3.0)
    return Photo(image, (width, height), fmt, notes)


def _upright(im: Image.Image) -> Image.Image:
    """Apply the EXIF orientation (phones store photos sideways); ignore broken EXIF data."""
    try:
        return ImageOps.exif_transpose(im)
    except Exception:                  # malformed EXIF must not cost the student the photo
        return im


def to_rgb(im: Image.Image) -> tuple[Image.Image, bool]:
    """Any Pillow mode -> 8-bit RGB; returns (image, whether transparency was flattened on white)."""
    if im.mode in ("I;16", "I;16L", "I;16B", "I;16N", "I", "F"):
        im = Image.fromarray(_to_8bit(np.asarray(im)), "L")
    transparent = im.mode in ("RGBA", "LA", "PA", "RGBa", "La") or (
        im.mode in ("P", "L", "RGB", "1") and "transparency" in im.info)
    if transparent:
        rgba = im.convert("RGBA")
        if rgba.getextrema()[3][0] == 255:          # an alpha channel that hides nothing
            return rgba.convert("RGB"), False
        return on_white(rgba).convert("RGB"), True
    return (im if im.mode == "RGB" else im.convert("RGB")), False


def on_white(im: Image.Image) -> Image.Image:
    """Transparent parts of ``im`` onto white paper (RGBA); images without alpha as they are."""
    if im.mode not in ("RGBA", "LA", "P", "PA", "RGBa", "La"):
        return im
    rgba = im.convert("RGBA")
    return Image.alpha_composite(Image.new("RGBA", rgba.size, (255, 255, 255, 255)), rgba)


def data_url(image: np.ndarray | Image.Image, fmt: str = "PNG", quality: int = 80) -> str:
    """A small picture as a ``data:`` URL that HTML can show without another request. PNG is
    written with light compression (fast; small pictures are a few kB anyway)."""
    pil = image if isinstance(image, Image.Image) else Image.fromarray(np.asarray(image))
    buffer = io.BytesIO()
    if fmt.upper() == "JPEG":
        pil.convert("RGB").save(buffer, format="JPEG", quality=quality)
    else:
        pil.save(buffer, format="PNG", compress_level=1)
    return f"data:image/{fmt.lower()};base64,{base64.b64encode(buffer.getvalue()).decode('ascii')}"


def _to_8bit(a: np.ndarray) -> np.ndarray:
    """16-bit or 32-bit grey -> uint8, keeping brightness (Pillow's own convert would clip at 255)."""
    if a.dtype.kind == "f" and a.min() >= 0.0 and a.max() <= 1.0:
        top = 1.0                                    # float images in [0, 1]
    else:
        top = 65535.0 if a.max() > 255 else 255.0    # 16-bit data (mode "I;16" or "I")
    a = a.astype(np.float64)
    return np.clip(np.round(a / top * 255.0), 0, 255).astype(np.uint8)


def _is_heic(data: bytes) -> bool:
    return data[4:8] == b"ftyp" and data[8:12] in (b"heic", b"heix", b"hevc", b"hevx", b"mif1", b"msf1")


def _mb(n: int) -> str:
    return f"{n / (1024 * 1024):.1f} MB"


def _too_big_bytes(size: int, limit: int) -> Text:
    return Text("imageio.too_big", size=_mb(size), limit=_mb(limit))


def _too_many_pixels(pixels: int | None, limit: int, size: tuple[int, int] | None = None) -> Text:
    if size:
        what = Text("imageio.pixels_sized", width=size[0], height=size[1], megapixels=pixels / 1e6)
    else:
        what = Text("imageio.megapixels", megapixels=pixels / 1e6) if pixels else Text("imageio.far_too_many")
    return Text("imageio.too_many_pixels", what=what, limit=limit / 1e6)


def _damaged() -> Text:
    return Text("imageio.damaged")
