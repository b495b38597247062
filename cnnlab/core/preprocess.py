"""The one place where a drawing or a photo becomes model input. Training uses the same
normalisation (``datasets.normalize``), and every function here returns the image the model
actually sees, so the UI can show it.

Sketch -> 28x28 follows how MNIST was made (LeCun et al.): crop to the ink, scale the longest
side to 20 px keeping the aspect ratio (anti-aliased), then place the digit in a 28x28 frame so
that its centre of mass is at the centre. Students draw with any pen (a 1-px mouse line, a fat
finger), so the strokes are first redrawn about as wide as MNIST's pen.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image
from scipy import ndimage

from . import datasets
from .imageio import on_white

INK_THRESHOLD = 30         # grey levels (of 255) above which a pixel counts as ink / object
DIGIT_BOX = 20             # MNIST fits the digit into 20x20 ...
FRAME = 28                 # ... inside a 28x28 frame
STROKE_WIDTH_28 = 2.2      # MNIST's median stroke width in the 28x28 frame (5-95 %: 1.4-3.6 px)
MASS_CENTRE = 14.0         # MNIST's centre of mass: (14.0, 14.0) +- 0.3 px on its test set, i.e.
                           # whole-pixel shifts that bring it nearest to pixel 14 (not 13.5)
WORK_SIDE = 96             # a drawing's strokes are re-drawn at most this many pixels across
MIN_CONTRAST = 40.0        # grey levels: a photo's object must differ this much from its background


@dataclass
class Prepared:
    """Model input plus what the student should see of it."""
    tensor: torch.Tensor            # (1, C, H, W), normalised for the model
    seen: np.ndarray                # uint8 image the model sees: (28, 28) or (H, W, 3)
    # Where the seen image came from in the original: seen = (original - offset) * scale + shift
    offset: tuple[float, float] = (0.0, 0.0)    # (x, y) of the crop's top-left in the original
    scale: float = 1.0
    shift: tuple[float, float] = (0.0, 0.0)     # (x, y) where the crop's top-left lands in `seen`


def to_tensor(seen: np.ndarray, mean, std) -> torch.Tensor:
    """uint8 (H, W) or (H, W, 3) -> normalised float tensor (1, C, H, W)."""
    t = torch.from_numpy(np.ascontiguousarray(seen))
    t = t.unsqueeze(0) if t.ndim == 2 else t.permute(2, 0, 1)
    return datasets.normalize(t.unsqueeze(0), (mean, std))


def sketch_pixels(value) -> np.ndarray | None:
    """Grey ink-on-white pixels (H, W) uint8 from a Sketchpad value, an array or a PIL image.

    Accepts the editor's dict (its "composite"), numpy arrays in L/RGB/RGBA, or a PIL image;
    transparent pixels count as white paper. None when there is nothing to read.
    """
    if isinstance(value, dict):
        value = value.get("composite")
    if value is None:
        return None
    image = value if isinstance(value, Image.Image) else Image.fromarray(np.asarray(value))
    return np.asarray(on_white(image).convert("L"))


def _ink_box(ink: np.ndarray) -> tuple[int, int, int, int] | None:
    """(y0, y1, x0, x1) around the ink, or None when there is none."""
    ys, xs = np.nonzero(ink > INK_THRESHOLD)
    if len(xs) == 0:
        return None
    return int(ys.min()), int(ys.max()) + 1, int(xs.min()), int(xs.max()) + 1


def _stroke_width(mask: np.ndarray) -> float:
    """Typical pen width of a binary drawing (background around it), in pixels: twice the depth
    of the strokes' centre lines (the ridge of the distance to the edge), median over the ridge.
    (A line w px wide has its ridge at depth (w + 1) / 2 when w is odd, w / 2 when even.)"""
    depth = ndimage.distance_transform_edt(mask)
    ridge = mask & (depth >= ndimage.maximum_filter(depth, size=3))
    return 2.0 * float(np.median(depth[ridge])) - 0.5


def _normalise_stroke(ink: np.ndarray, width: float, target: float) -> np.ndarray:
    """Redraw ``ink`` (uint8, bright ink, background all round) with strokes ``target`` pixels
    wide instead of ``width``: thin strokes grow a halo, fat ones lose their outer layers down to
    their centre line. Both work on distances to the stroke's edge, so edges stay anti-aliased and
    the cost does not depend on the pen size."""
    mask = ink > 127
    change = (target - width) / 2                  # pixels to add (or remove) on each side
    if change > 0:
        distance = ndimage.distance_transform_edt(~mask)       # to the nearest ink pixel
        halo = np.clip(change + 0.5 - distance, 0.0, 1.0) * 255.0
        return np.maximum(ink, halo).astype(np.uint8)
    depth = ndimage.distance_transform_edt(mask)                # to the nearest paper pixel
    core = np.clip(depth + change + 0.5, 0.0, 1.0)
    centre = mask & (depth >= ndimage.maximum_filter(depth, size=3))   # never break a stroke
    return (np.maximum(core, centre) * 255.0).astype(np.uint8)


def sketch_to_mnist(value, mean=(0.1307,), std=(0.3081,),
                    stroke_width: float | None = STROKE_WIDTH_28) -> Prepared | None:
    """A drawing (dark ink on light paper) -> a 28x28 MNIST-style digit, or None if it is empty.

    ``stroke_width`` is the pen width wanted in the 28x28 frame (None draws with the student's own).
    """
    pixels = sketch_pixels(value)
    if pixels is None:
        return None
    ink = 255 - pixels                              # uint8: bright ink on black, like MNIST
    box = _ink_box(ink)
    if box is None:
        return None
    y0, y1, x0, x1 = box
    crop, origin, step = ink[y0:y1, x0:x1], (x0, y0), 1
    if stroke_width and (crop > 127).sum() >= 4:
        crop, origin, step = _restroke(crop, origin, stroke_width)
    scale = DIGIT_BOX / max(crop.shape)             # crop pixels -> seen pixels
    w, h = max(1, round(crop.shape[1] * scale)), max(1, round(crop.shape[0] * scale))
    small = np.asarray(Image.fromarray(crop).resize((w, h), Image.LANCZOS), dtype=np.float32)
    if small.sum() <= 0:
        return None
    # Centre of mass to MNIST's centre (whole pixels, as MNIST did), kept inside the frame.
    cy, cx = ndimage.center_of_mass(small)
    left = int(np.clip(round(MASS_CENTRE - cx), 0, FRAME - w))
    top = int(np.clip(round(MASS_CENTRE - cy), 0, FRAME - h))
    seen = np.zeros((FRAME, FRAME), np.float32)
    seen[top:top + h, left:left + w] = small
    seen = np.clip(seen * (255.0 / max(seen.max(), 1.0)), 0, 255).astype(np.uint8)
    return Prepared(to_tensor(seen, mean, std), seen, (float(origin[0]), float(origin[1])),
                    scale / step, (float(left), float(top)))


def _restroke(crop: np.ndarray, origin: tuple[int, int], stroke_width: float):
    """The cropped ink redrawn with a pen ``stroke_width`` px wide once it is 20 px tall.

    Works on a copy at most WORK_SIDE pixels across (block maximum, so a 1-px line survives), which
    is plenty for a 20-px result and keeps the distance transforms to a millisecond or two. A
    drawing whose pen is already about right (within MNIST's own spread) is returned as drawn.
    Returns (new crop, its top-left in the original, original pixels per crop pixel).
    """
    step = -(-max(crop.shape) // WORK_SIDE)
    work = crop
    if step > 1:
        h, w = crop.shape
        blocks = np.zeros((-(-h // step) * step, -(-w // step) * step), np.uint8)
        blocks[:h, :w] = crop
        rows = blocks.reshape(-1, step, blocks.shape[1]).max(axis=1)
        work = rows.reshape(rows.shape[0], -1, step).max(axis=2)
    margin = 2 + max(work.shape) // 8               # room for a thin stroke to grow
    padded = np.pad(work, margin)
    # Block maxima widen a line by (step - 1) / step of a block on average: take that off.
    width = _stroke_width(padded > 127) - (step - 1) / step
    # The pen width scales with the digit, whose size includes the pen: solve for the width here
    # that becomes ``stroke_width`` once the digit's longest side is 20 px.
    centre_line = max(max(work.shape) - width, 1.0)
    target = stroke_width * centre_line / (DIGIT_BOX - stroke_width)
    if 0.75 * target <= width <= 1.33 * target:     # already drawn like MNIST's pen: leave it
        return crop, origin, 1
    padded = _normalise_stroke(padded, width, target)
    box = _ink_box(padded)
    if box is None:                                  # cannot happen (the centre line stays)
        return crop, origin, 1
    py0, py1, px0, px1 = box
    return (padded[py0:py1, px0:px1],
            (origin[0] + (px0 - margin) * step, origin[1] + (py0 - margin) * step), step)


def _background(grey: np.ndarray, band: int) -> np.ndarray:
    """The background under the whole photo, estimated from its border: a smooth (quadratic)
    surface fitted to the border band, refitted without outliers (an object touching the edge),
    so uneven light across a sheet of paper or vignetting is not mistaken for the object."""
    h, w = grey.shape
    edge = np.zeros((h, w), bool)
    edge[:band], edge[-band:], edge[:, :band], edge[:, -band:] = True, True, True, True
    ys, xs = np.nonzero(edge)
    step = max(1, len(xs) // 4000)                  # a few thousand samples are plenty
    ys, xs = ys[::step], xs[::step]
    values = grey[ys, xs]
    if len(values) < 24:
        return np.full_like(grey, float(np.median(values)))
    basis = np.stack(_quadratic_terms(xs / w - 0.5, ys / h - 0.5), 1)
    keep = np.ones(len(values), bool)
    for _ in range(3):
        a = basis[keep]                             # normal equations: a 6x6 solve, no BLAS threads
        coef = np.linalg.solve(a.T @ a + 1e-6 * np.eye(a.shape[1]), a.T @ values[keep])
        resid = np.abs(values - basis @ coef)
        keep = resid <= max(10.0, 3.0 * 1.4826 * float(np.median(resid[keep])))
        if keep.sum() < 12:
            return np.full_like(grey, float(np.median(values)))
    gx = (np.arange(w, dtype=np.float32) / w - 0.5)[None, :]      # broadcasting builds (h, w)
    gy = (np.arange(h, dtype=np.float32) / h - 0.5)[:, None]
    surface = sum(c * t for c, t in zip(coef.astype(np.float32), _quadratic_terms(gx, gy)))
    return np.broadcast_to(surface, (h, w))


def _quadratic_terms(x, y) -> list:
    return [np.ones_like(x), x, y, x * x, y * y, x * y]


def photo_to_fashion(image: Image.Image, mean=(0.2860,), std=(0.3530,)) -> Prepared:
    """A photo of one piece of clothing -> a Fashion-MNIST-like 28x28: a light object on black,
    cropped to the object, padded to a square and resized so its longest side fills the frame."""
    grey = np.asarray(image.convert("L"), dtype=np.float32)
    h, w = grey.shape
    band = max(1, min(h, w) // 20)
    background = _background(grey, band)
    light = float(np.median(np.concatenate([grey[:band].ravel(), grey[-band:].ravel(),
                                            grey[:, :band].ravel(), grey[:, -band:].ravel()]))) > 127
    obj = np.clip((background - grey) if light else (grey - background), 0, None)
    # Stretch the object to full brightness, but never stretch mere noise (a photo of nothing).
    peak = max(float(np.percentile(obj, 99.5)), MIN_CONTRAST)
    obj = np.clip(obj / peak, 0, 1) * 255.0
    mask = obj > max(INK_THRESHOLD, 0.15 * 255)
    if min(h, w) > 8:
        mask = _main_parts(ndimage.binary_opening(mask, iterations=1))
    ys, xs = np.nonzero(mask)
    if len(xs):
        y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    else:
        y0, y1, x0, x1 = 0, h, 0, w
    crop = obj[y0:y1, x0:x1]
    side = max(crop.shape)
    square = np.zeros((side, side), np.float32)
    top, left = (side - crop.shape[0]) // 2, (side - crop.shape[1]) // 2
    square[top:top + crop.shape[0], left:left + crop.shape[1]] = crop
    seen = np.array(Image.fromarray(square.astype(np.uint8)).resize((FRAME, FRAME), Image.LANCZOS))
    scale = FRAME / side
    return Prepared(to_tensor(seen, mean, std), seen, (float(x0), float(y0)), scale,
                    (left * scale, top * scale))


def _main_parts(mask: np.ndarray) -> np.ndarray:
    """Keep the object's parts (connected regions at least a tenth the size of the largest);
    drop specks of dust or crumbs that would stretch the crop."""
    labels, n = ndimage.label(mask)
    if n <= 1:
        return mask
    sizes = ndimage.sum_labels(mask, labels, index=np.arange(1, n + 1))
    return np.isin(labels, 1 + np.flatnonzero(sizes >= 0.1 * sizes.max()))


def photo_to_model_input(image: Image.Image, size: int, mean, std) -> Prepared:
    """A photo -> the backbone's input: short side to ``size``, centre crop (as in training)."""
    image = image.convert("RGB")
    w, h = image.size
    seen = np.array(datasets.fit_square(image, size))
    scale = size / min(w, h)
    offset = ((w * scale - size) / 2 / scale, (h * scale - size) / 2 / scale)
    return Prepared(to_tensor(seen, mean, std), seen, offset, scale, (0.0, 0.0))


def prepare_for(loaded, source) -> Prepared | None:
    """Pick the preprocessing that fits a loaded checkpoint (cnnlab.core.checkpoints.Loaded)."""
    kind = loaded.spec.kind
    if kind == "digits":
        return sketch_to_mnist(source, loaded.mean, loaded.std)
    if kind == "clothing":
        return photo_to_fashion(source, loaded.mean, loaded.std)
    return photo_to_model_input(source, loaded.input_size, loaded.mean, loaded.std)
