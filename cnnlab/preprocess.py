"""The one place where a drawing or a photo becomes model input. Training uses the same
normalisation (``datasets.normalize``), and every function here returns the image the model
actually sees, so the UI can show it.

Sketch -> 28x28 follows how MNIST was made (LeCun et al.): crop to the ink, scale the longest
side to 20 px keeping the aspect ratio (anti-aliased), then place the digit in a 28x28 frame so
that its centre of mass is at the centre.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image
from scipy import ndimage

from . import datasets

INK_THRESHOLD = 30         # grey levels (of 255) above which a pixel counts as ink / object
DIGIT_BOX = 20             # MNIST fits the digit into 20x20 ...
FRAME = 28                 # ... inside a 28x28 frame
STROKE_WIDTH_28 = 2.6      # typical MNIST stroke width in pixels of the 28x28 frame
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
    if image.mode in ("RGBA", "LA", "P", "PA"):
        image = image.convert("RGBA")
        paper = Image.new("RGBA", image.size, (255, 255, 255, 255))
        image = Image.alpha_composite(paper, image)
    return np.asarray(image.convert("L"))


def _normalise_stroke(ink: np.ndarray, target_width: float) -> np.ndarray:
    """Thicken thin strokes or thin fat ones toward ``target_width`` pixels (in the original)."""
    mask = ink > 127
    if mask.sum() < 4:
        return ink
    # For a stroke of width w the mean distance-to-edge over its pixels is about w / 4.
    width = 4.0 * ndimage.distance_transform_edt(mask)[mask].mean()
    radius = int(round((target_width - width) / 2))
    if radius > 0:
        grown = ndimage.grey_dilation(ink, footprint=_disk(radius))
        return grown
    if radius < 0:
        thinned = ndimage.grey_erosion(ink, footprint=_disk(-radius))
        if (thinned > 127).sum() >= 0.3 * mask.sum():      # never erase the drawing
            return thinned
    return ink


def _disk(r: int) -> np.ndarray:
    y, x = np.ogrid[-r:r + 1, -r:r + 1]
    return x * x + y * y <= r * r


def sketch_to_mnist(value, mean=(0.1307,), std=(0.3081,)) -> Prepared | None:
    """A drawing (dark ink on light paper) -> a 28x28 MNIST-style digit, or None if it is empty."""
    pixels = sketch_pixels(value)
    if pixels is None:
        return None
    ink = 255 - pixels.astype(np.int16)
    ink = np.clip(ink, 0, 255).astype(np.uint8)
    ys, xs = np.nonzero(ink > INK_THRESHOLD)
    if len(xs) == 0:
        return None
    y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    crop = ink[y0:y1, x0:x1]
    scale = DIGIT_BOX / max(crop.shape)
    crop = _normalise_stroke(np.pad(crop, 1), STROKE_WIDTH_28 / scale)[1:-1, 1:-1]
    w, h = max(1, round(crop.shape[1] * scale)), max(1, round(crop.shape[0] * scale))
    small = np.asarray(Image.fromarray(crop).resize((w, h), Image.LANCZOS), dtype=np.float32)
    # Centre of mass to the middle of the frame (whole pixels, as MNIST did), kept inside it.
    total = small.sum()
    if total <= 0:
        return None
    cy, cx = ndimage.center_of_mass(small)
    left = int(np.clip(round((FRAME - 1) / 2 - cx), 0, FRAME - w))
    top = int(np.clip(round((FRAME - 1) / 2 - cy), 0, FRAME - h))
    seen = np.zeros((FRAME, FRAME), np.float32)
    seen[top:top + h, left:left + w] = small
    seen = np.clip(seen * (255.0 / max(seen.max(), 1.0)), 0, 255).astype(np.uint8)
    return Prepared(to_tensor(seen, mean, std), seen, (float(x0), float(y0)), scale,
                    (float(left), float(top)))


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
        coef = np.linalg.lstsq(basis[keep], values[keep], rcond=None)[0]
        resid = np.abs(values - basis @ coef)
        keep = resid <= max(10.0, 3.0 * 1.4826 * float(np.median(resid[keep])))
        if keep.sum() < 12:
            return np.full_like(grey, float(np.median(values)))
    gy, gx = np.mgrid[0:h, 0:w].astype(np.float32)
    return sum(c * t for c, t in zip(coef.astype(np.float32), _quadratic_terms(gx / w - 0.5, gy / h - 0.5)))


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
    seen = np.asarray(datasets.fit_square(image, size))
    scale = size / min(w, h)
    offset = ((w * scale - size) / 2 / scale, (h * scale - size) / 2 / scale)
    return Prepared(to_tensor(seen, mean, std), seen, offset, scale, (0.0, 0.0))


def prepare_for(loaded, source) -> Prepared | None:
    """Pick the preprocessing that fits a loaded checkpoint (cnnlab.checkpoints.Loaded)."""
    kind = loaded.spec.kind
    if kind == "digits":
        return sketch_to_mnist(source, loaded.mean, loaded.std)
    if kind == "clothing":
        return photo_to_fashion(source, loaded.mean, loaded.std)
    return photo_to_model_input(source, loaded.input_size, loaded.mean, loaded.std)
