"""MNIST redrawn the ways students draw, and drawings that are no digit, for the digits recipe
(cnnlab.core.recipes). Everything here trains on MNIST's own training digits and on procedurally
drawn non-digits; no font is ever used, so bench/trustdata.py's font digits and letters stay a
held-out test.

``augment``: batched on the tensor, a few ms per batch of 128 on a CPU:
  slant (shear) and rotation, squeezed or stretched digits (aspect), elastic wobble (a smooth
  random displacement field), thin and thick pens (grey erosion / dilation), then the digit is
  fitted back into MNIST's frame the way the page's preprocessing fits a drawing (longest side
  20 px, centred by its centre of mass), so small and off-centre drawings are covered by the
  preprocessing itself (cnnlab.core.preprocess.sketch_to_mnist).
``outlier_pool``: canvases that show no digit (long scribbles, clutter of short strokes, tangled
  polygons, two digits side by side) put through the page's own preprocessing; the recipe asks
  the network to be unsure about them (outlier exposure: Hendrycks et al., 2019).
"""
from __future__ import annotations

import math
import random

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageDraw

from .preprocess import DIGIT_BOX, FRAME, MASS_CENTRE, sketch_to_mnist

CANVAS = 280


def _u(n, lo, hi, g):
    return torch.rand(n, generator=g) * (hi - lo) + lo


def augment(ink: torch.Tensor, g: torch.Generator, strength: float = 1.0) -> torch.Tensor:
    """``ink``: (N, 1, 28, 28) float in [0, 1], bright ink on black. Returns the same, redrawn."""
    n = ink.shape[0]
    angle = _u(n, -12, 12, g) * strength * math.pi / 180
    shear = _u(n, -0.35, 0.35, g) * strength
    sx, sy = _u(n, 0.75, 1.15, g), _u(n, 0.85, 1.1, g)
    cos, sin = torch.cos(angle), torch.sin(angle)
    # inverse map (output -> input): rotation @ shear @ scale
    a = torch.stack([torch.stack([cos / sx, (-sin + shear * cos) / sx], 1),
                     torch.stack([sin / sy, (cos + shear * sin) / sy], 1)], 1)
    theta = torch.cat([a, torch.zeros(n, 2, 1)], 2)
    grid = F.affine_grid(theta, list(ink.shape), align_corners=False)
    elastic = torch.rand(n, generator=g) < 0.4 * strength
    if elastic.any():
        field = torch.randn(n, 2, 5, 5, generator=g) * (1.0 / 14)              # ~1 px of wobble
        field = F.interpolate(field, size=ink.shape[-2:], mode="bicubic", align_corners=False)
        grid = grid + field.permute(0, 2, 3, 1) * elastic.view(n, 1, 1, 1)
    out = F.grid_sample(ink, grid, align_corners=False, padding_mode="zeros")
    pen = torch.rand(n, generator=g)
    thick = F.max_pool2d(out, 3, 1, 1)
    thin = -F.max_pool2d(-out, 2, 1, 0)
    thin = F.pad(thin, (0, 1, 0, 1))
    out = torch.where((pen < 0.25 * strength).view(n, 1, 1, 1), thick, out)
    out = torch.where((pen > 1 - 0.12 * strength).view(n, 1, 1, 1), thin, out)
    return refit(out)


def refit(ink: torch.Tensor) -> torch.Tensor:
    """Fit each digit back into MNIST's frame as the page does: the ink's box scaled so that its
    longest side is 20 px, then moved so that its centre of mass is at (14, 14)."""
    n, _, h, w = ink.shape
    mask = ink[:, 0] > 0.12
    ys = torch.arange(h, dtype=ink.dtype).view(1, h, 1)
    xs = torch.arange(w, dtype=ink.dtype).view(1, 1, w)
    big = float(h + w)
    any_ink = mask.flatten(1).any(1)
    x0 = torch.where(mask, xs, big).flatten(1).min(1).values
    x1 = torch.where(mask, xs, -big).flatten(1).max(1).values + 1
    y0 = torch.where(mask, ys, big).flatten(1).min(1).values
    y1 = torch.where(mask, ys, -big).flatten(1).max(1).values + 1
    side = torch.maximum(x1 - x0, y1 - y0).clamp(min=1)
    scale = DIGIT_BOX / side                                  # output px per input px
    mass = ink[:, 0].sum((1, 2)).clamp(min=1e-6)
    cy = (ink[:, 0] * ys).sum((1, 2)) / mass + 0.5
    cx = (ink[:, 0] * xs).sum((1, 2)) / mass + 0.5
    # output pixel p (centre at p + 0.5) reads input at c + (p + 0.5 - MASS_CENTRE) / scale
    half = FRAME / 2
    theta = torch.zeros(n, 2, 3)
    theta[:, 0, 0] = (1 / scale) * (half / (w / 2))
    theta[:, 1, 1] = (1 / scale) * (half / (h / 2))
    theta[:, 0, 2] = ((cx + (half - MASS_CENTRE) / scale) - w / 2) / (w / 2)
    theta[:, 1, 2] = ((cy + (half - MASS_CENTRE) / scale) - h / 2) / (h / 2)
    grid = F.affine_grid(theta.to(ink), [n, 1, FRAME, FRAME], align_corners=False)
    out = F.grid_sample(ink, grid, align_corners=False, padding_mode="zeros")
    peak = out.flatten(1).amax(1).clamp(min=1e-6).view(n, 1, 1, 1)
    out = (out / peak).clamp(0, 1)
    return torch.where(any_ink.view(n, 1, 1, 1), out, ink)


# --------------------------------------------------------------------------- no digit at all
def _walk(draw, rng: random.Random, pen: int) -> None:
    x, y, heading = rng.uniform(40, 240), rng.uniform(40, 240), rng.uniform(0, 2 * math.pi)
    pts = [(x, y)]
    for _ in range(rng.randint(100, 200)):
        heading += rng.gauss(0, 0.9)
        x = min(270, max(10, x + 7 * math.cos(heading)))
        y = min(270, max(10, y + 7 * math.sin(heading)))
        pts.append((x, y))
    draw.line(pts, fill=0, width=pen, joint="curve")


def _clutter(draw, rng: random.Random, pen: int) -> None:
    for _ in range(rng.randint(4, 9)):
        x, y = rng.uniform(20, 260), rng.uniform(20, 260)
        length, heading = rng.uniform(20, 80), rng.uniform(0, 2 * math.pi)
        draw.line([(x, y), (x + length * math.cos(heading), y + length * math.sin(heading))], fill=0, width=pen)


def _tangle(draw, rng: random.Random, pen: int) -> None:
    pts = [(rng.uniform(20, 260), rng.uniform(20, 260)) for _ in range(rng.randint(6, 11))]
    draw.line(pts + pts[:1], fill=0, width=pen, joint="curve")


def _pair(mnist: torch.Tensor | None, rng: random.Random) -> Image.Image | None:
    if mnist is None:
        return None
    a, b = (mnist[rng.randrange(len(mnist)), 0].numpy() for _ in range(2))
    both = np.concatenate([a, b], axis=1)                      # two digits side by side: 28 x 56
    image = Image.fromarray(255 - both).resize((260, 130), Image.BILINEAR)
    canvas = Image.new("L", (CANVAS, CANVAS), 255)
    canvas.paste(image, (10, rng.randint(10, 140)))
    return canvas


KINDS = ("walk", "clutter", "tangle", "pair")


def outlier_pool(n: int, seed: int = 7, mnist: torch.Tensor | None = None, kinds=KINDS) -> torch.Tensor:
    """(n, 1, 28, 28) uint8: canvases that are no digit, through the page's preprocessing."""
    rng = random.Random(seed)
    out = []
    while len(out) < n:
        kind = kinds[len(out) % len(kinds)]
        if kind == "pair":
            canvas = _pair(mnist, rng)
            if canvas is None:
                kind = "walk"
        if kind != "pair":
            canvas = Image.new("L", (CANVAS, CANVAS), 255)
            draw = ImageDraw.Draw(canvas)
            pen = rng.randint(6, 28)
            {"walk": _walk, "clutter": _clutter, "tangle": _tangle}[kind](draw, rng, pen)
        prepared = sketch_to_mnist(np.asarray(canvas))
        if prepared is not None:
            out.append(torch.from_numpy(prepared.seen.copy()))
    return torch.stack(out).unsqueeze(1)
