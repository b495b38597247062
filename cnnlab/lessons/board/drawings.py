"""The class board's drawings as values: a submission and what the board shows of them, the
checks on what a student sends (digit, nickname, the 28x28 image, the probabilities), PNG
encoding, the framed thumbnails (blue: read right, orange: wrong) and the confusion counts. Pure
functions and frozen dataclasses; the SQLite store that keeps them is ``store.py``.
"""
from __future__ import annotations

import io
import os
import tempfile
import unicodedata
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from PIL import Image, ImageColor

from ...core.metrics import confusion_matrix
from ...core.plots import RIGHT, WRONG
from ...i18n import Refusal, Text

NUM_CLASSES = 10
NICKNAME_MAX = 20            # characters; long enough for a first name, short enough for a caption
IMAGE_SIZE = 28              # stored drawings are what the model saw: 28x28 grey, white ink on black
RIGHT_RGB, WRONG_RGB = ImageColor.getrgb(RIGHT), ImageColor.getrgb(WRONG)


class BoardError(Refusal, ValueError):
    """Input the board refuses; its argument is a Text (cnnlab.i18n) that says what to do."""


@dataclass(frozen=True)
class Submission:
    id: int
    uid: str
    board_session: int
    session_hash: str
    nickname: str
    intended: int
    predicted: int
    probs: tuple[float, ...]
    model: str
    png: bytes
    created: float

    @property
    def correct(self) -> bool:
        return self.intended == self.predicted

    @property
    def image(self) -> np.ndarray:
        return decode_png(self.png)

    @property
    def caption(self) -> str:
        """Plain text (never HTML): the gallery shows it as text, so a nickname cannot inject markup."""
        mark = "✓" if self.correct else "✗"
        text = f"{mark} meant {self.intended} → saw {self.predicted}"
        return f"{text} · {self.nickname}" if self.nickname else text


@dataclass(frozen=True)
class AddResult:
    submission: Submission
    duplicate: bool          # True: the same drawing with the same digit was already sent


@dataclass(frozen=True)
class BoardSession:
    id: int
    title: str
    created: float


@dataclass(frozen=True)
class Summary:
    """What the board shows above the drawings."""
    session: BoardSession
    total: int
    correct: int
    confusion: np.ndarray      # (10, 10) counts, rows = intended, columns = predicted
    version: int

    @property
    def accuracy(self) -> float | None:
        return self.correct / self.total if self.total else None


# ---------------------------------------------------------------- pure helpers

def clean_nickname(text: str | None) -> str:
    """A nickname as stored: no control characters or line breaks, spaces collapsed, at most
    NICKNAME_MAX characters. It is still untrusted text: escape it wherever it is shown as HTML."""
    return clean_text(text, NICKNAME_MAX)


def clean_text(text: str | None, limit: int) -> str:
    """Printable text on one line, at most ``limit`` characters."""
    text = unicodedata.normalize("NFC", str(text or ""))
    text = "".join(" " if unicodedata.category(c)[0] in "CZ" else c for c in text)
    return " ".join(text.split())[:limit].strip()


def check_digit(value, what: str = "digit") -> int:
    """0..9 from an int or a string such as "7"; a BoardError otherwise. ``what``: "digit",
    "intended" or "predicted" (which digit the sentence names)."""
    try:
        number = int(str(value).strip())
    except (TypeError, ValueError):
        raise BoardError(Text("board.not_a_digit", what=Text(f"board.what_{what}"),
                              got=repr(str(value)[:20]))) from None
    if not 0 <= number < NUM_CLASSES:
        raise BoardError(Text("board.not_a_digit", what=Text(f"board.what_{what}"), got=number))
    return number


def check_image(seen) -> np.ndarray:
    """The 28x28 uint8 image the model saw (white ink on black); a BoardError for anything else."""
    array = np.asarray(seen)
    if array.ndim == 3 and array.shape[0] == 1:
        array = array[0]
    if array.shape != (IMAGE_SIZE, IMAGE_SIZE):
        raise BoardError(Text("board.bad_image", size=IMAGE_SIZE, shape=str(array.shape)))
    if array.dtype != np.uint8:
        array = np.clip(array * (255.0 if array.max() <= 1.0 else 1.0), 0, 255).astype(np.uint8)
    return array


def check_probs(probs) -> tuple[float, ...]:
    values = tuple(float(p) for p in (probs if probs is not None else ()))
    if len(values) != NUM_CLASSES or not all(np.isfinite(values)):
        raise BoardError(Text("board.bad_probs", n=NUM_CLASSES))
    return values


def encode_png(image: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG", optimize=True)
    return buffer.getvalue()


def decode_png(data: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(data)) as im:
        return np.asarray(im.convert("L"))


def confusion_counts(pairs) -> np.ndarray:
    """(10, 10) counts from (intended, predicted) pairs: rows intended, columns predicted."""
    pairs = np.asarray(list(pairs), dtype=np.int64).reshape(-1, 2)
    return confusion_matrix(pairs[:, 0], pairs[:, 1], NUM_CLASSES)


def thumbnail(image: np.ndarray, intended: int, predicted: int, scale: int = 4, border: int = 4,
              band: int = 30) -> np.ndarray:
    """An RGB card for the board: the drawing as the model saw it, framed blue when the network
    was right and orange when it was wrong (colour-blind safe), with "meant -> saw" written in a
    band on top, big enough to read on a projector (the gallery's caption gets cut short).
    The card is square, since galleries crop their thumbnails to squares."""
    from PIL import ImageDraw, ImageFont
    colour = RIGHT_RGB if intended == predicted else WRONG_RGB
    side = IMAGE_SIZE * scale
    card = Image.new("RGB", (side + border + band, side + border + band), colour)
    card.paste(Image.fromarray(image).resize((side, side), Image.BILINEAR).convert("RGB"),
               ((card.width - side) // 2, band))
    pen = ImageDraw.Draw(card)
    font = ImageFont.load_default(size=band - 6)
    left, right = str(intended), str(predicted)
    w_left, w_right = pen.textlength(left, font=font), pen.textlength(right, font=font)
    arrow = band                                          # the arrow is drawn: the font has no "→"
    x = (card.width - w_left - arrow - w_right) / 2
    y = band / 2
    pen.text((x, y), left, font=font, fill="white", anchor="lm")
    x0, x1 = x + w_left + band * 0.2, x + w_left + arrow - band * 0.2
    pen.line([(x0, y), (x1 - 4, y)], fill="white", width=3)
    pen.polygon([(x1, y), (x1 - 8, y - 6), (x1 - 8, y + 6)], fill="white")
    pen.text((x + w_left + arrow, y), right, font=font, fill="white", anchor="lm")
    return np.asarray(card)


class Thumbnails:
    """Framed thumbnails as PNG files, written once per drawing. A gallery given file paths costs
    about 1 ms for 24 pictures; given arrays it re-encodes them for every viewer (about 50 ms).
    A file deleted meanwhile (the app's scratch folder prunes old ones) is simply written again."""

    def __init__(self, folder: str | Path | None = None):
        self.folder = Path(folder or Path(tempfile.gettempdir()) / "cnnlab-board-thumbs")
        self.folder.mkdir(parents=True, exist_ok=True)

    def path(self, s: Submission) -> str:
        path = self.folder / f"{s.uid}-{s.intended}{s.predicted}.png"
        if not path.exists():
            tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
            Image.fromarray(thumbnail(s.image, s.intended, s.predicted)).save(tmp, format="PNG")
            os.replace(tmp, path)          # atomic: a viewer never sees half a file
        return str(path)


def timestamp(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat(timespec="seconds")
