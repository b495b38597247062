"""What a request of the Inside tab brings, checked: the model key, the drawing, the opened map."""
from __future__ import annotations

import re

from PIL import Image

from ...core import datasets
from ...core.checkpoints import CheckpointError
from ...core.preprocess import photo_to_fashion, prepare_for, sketch_pixels, sketch_to_mnist
from ...i18n import Refusal, Text, refusal_of
from ..context import AppContext

PICK_RE = re.compile(r"^(\d{1,3}):(\d{1,4}):(-1|\d{1,4}):(-1|\d{1,4})$")
SMALL_KINDS = ("digits", "clothing")        # data sets whose pictures one can draw


def drawing_datasets() -> tuple[str, ...]:
    return tuple(name for name, spec in datasets.DATASETS.items() if spec.kind in SMALL_KINDS)


def photo_datasets() -> tuple[str, ...]:
    return tuple(name for name, spec in datasets.DATASETS.items() if spec.kind == "photo") + (datasets.OWN,)


def load_model(ctx: AppContext, key: str | None, kinds: tuple[str, ...]):
    """The loaded checkpoint called ``key`` (None: the zoo's default) if it is one of ``kinds``'
    data sets; else a sentence that says what to do."""
    key = key or ctx.zoo.default(kinds)
    if key is None:
        raise Refusal(Text("inside.no_model"))
    if key not in {k for _, k in ctx.zoo.choices(kinds)}:
        raise Refusal(Text("inside.unknown_model", key=key))
    try:
        return ctx.zoo.get(key)
    except (KeyError, ValueError, CheckpointError) as err:
        raise Refusal(Text("inside.load_failed", key=key, err=refusal_of(err).text)) from None


def prepare_drawing(loaded, drawing):
    """The model's input for a drawing (digits: MNIST's way; clothing: the photo path on the
    drawing), or None for an empty canvas."""
    pixels = sketch_pixels(drawing)
    if pixels is None or pixels.min() > 255 - 30:
        return None
    if loaded.spec.kind == "digits":
        return sketch_to_mnist(drawing, loaded.mean, loaded.std)
    if loaded.spec.kind == "clothing":
        return photo_to_fashion(Image.fromarray(pixels).convert("RGB"), loaded.mean, loaded.std)
    return prepare_for(loaded, Image.fromarray(pixels).convert("RGB"))


def parse_pick(pick: str | None) -> tuple[int, int, int, int] | None:
    """The opened map, "stage:channel:row:col" as the page sends it (row -1: no pixel yet)."""
    if not pick:
        return None
    m = PICK_RE.match(str(pick).strip()) if len(str(pick)) <= 40 else None
    if m is None:
        raise Refusal(Text("inside.bad_pick"))
    return tuple(int(g) for g in m.groups())

