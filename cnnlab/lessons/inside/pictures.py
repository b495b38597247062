"""Feature maps as pictures: values -> indices into one small diverging palette -> "P" images.

A palette image of 33 colours is a few hundred bytes for a 28x28 map, and every channel of a
layer fits in one row (a *sprite*), so a stroke's whole walk travels as one PNG per layer.
``cnnlab.core.imageio.data_url`` turns these images into the data URLs the HTML shows.
"""
from __future__ import annotations

import math

import numpy as np
import torch
from PIL import Image

from .stages import Stage

STEPS = 16                  # colour steps on each side of zero: 33 colours, small PNGs, plenty for a heatmap
ZERO = STEPS                # the palette index of 0 (white)

# A diverging palette safe for colour-blind eyes, the app's one colour language for signs (the
# Playground's too): orange (negative) - white (0) - blue (positive).
_NEG, _MID, _POS = np.array([179, 88, 6]), np.array([247, 247, 247]), np.array([33, 102, 172])


def _palette() -> np.ndarray:
    t = np.linspace(-1.0, 1.0, 2 * STEPS + 1)[:, None]
    lut = np.where(t < 0, _MID + (_NEG - _MID) * -t, _MID + (_POS - _MID) * t)
    return np.clip(np.round(lut), 0, 255).astype(np.uint8)


PALETTE = _palette()        # (33, 3) RGB
_PALETTE_BYTES = PALETTE.reshape(-1).tobytes()


def scale_of(values) -> float:
    """The colour scale of one picture: its largest |value| (1 for all zeros)."""
    v = np.asarray(values, dtype=np.float32)
    top = float(np.abs(v).max()) if v.size else 0.0
    return top if top > 0 else 1.0


def layer_scale(stages: list[Stage]) -> float:
    """The colour scale of stages shown together: the largest |value| among them (>0)."""
    top = max((float(s.value.abs().max()) for s in stages if s.value.numel()), default=0.0)
    return top if top > 0 else 1.0


def to_index(values, scale: float) -> np.ndarray:
    """Values -> palette indices: -scale -> 0, 0 -> ZERO (white), +scale -> 2 * STEPS."""
    v = np.asarray(values, dtype=np.float32)
    return np.clip(np.rint(ZERO + STEPS * v / scale), 0, 2 * STEPS).astype(np.uint8)


def indexed_image(index: np.ndarray) -> Image.Image:
    """Palette indices (H, W) -> a "P" image with PALETTE (6 bits a pixel; zlib does the rest)."""
    image = Image.frombuffer("P", (index.shape[1], index.shape[0]), np.ascontiguousarray(index, np.uint8),
                             "raw", "P", 0, 1)
    image.putpalette(_PALETTE_BYTES)
    return image


def heatmap(values, scale: float) -> Image.Image:
    """One map (H, W) as a palette image, -scale orange ... 0 white ... +scale blue."""
    return indexed_image(to_index(values, scale))


def strip(values: torch.Tensor | np.ndarray, scale: float, gap: int = 0) -> np.ndarray:
    """(C, H, W) maps side by side in one row -> palette indices (H, C * W + gaps)."""
    v = np.asarray(values, dtype=np.float32)
    c, h, w = v.shape
    idx = to_index(v, scale)
    if gap:
        out = np.full((h, c * (w + gap) - gap), ZERO, np.uint8)
        for k in range(c):
            out[:, k * (w + gap):k * (w + gap) + w] = idx[k]
        return out
    return idx.transpose(1, 0, 2).reshape(h, c * w)


def strip_image(values, scale: float) -> Image.Image:
    """A sprite: every channel of a stage in one row, one palette image (a few kB as PNG)."""
    return indexed_image(strip(values, scale))


def vector_grid(values, width: int = 64) -> np.ndarray:
    """A long vector wrapped into rows of ``width`` (padded with NaN)."""
    v = np.asarray(values, dtype=np.float32).reshape(-1)
    width = max(1, min(width, v.size))
    rows = math.ceil(v.size / width)
    out = np.full(rows * width, np.nan, np.float32)
    out[:v.size] = v
    return out.reshape(rows, width)


def vector_image(values, scale: float, width: int = 64) -> Image.Image:
    """A vector (a dense layer's output) as rows of ``width`` coloured cells; the padding white."""
    grid = vector_grid(values, width)
    idx = to_index(np.nan_to_num(grid), scale)
    idx[np.isnan(grid)] = ZERO
    return indexed_image(idx)
