"""Which pixels pushed the model toward its answer, drawn over the student's own image.

Gradient x input: the gradient of the chosen class's logit with respect to the input pixels,
multiplied by the input (so blank paper never lights up), keeping the positive part, smoothed
a little. Cheap (one backward pass) and faithful for small CNNs.
"""
from __future__ import annotations

import numpy as np
import torch
from PIL import Image
from scipy import ndimage

from .preprocess import Prepared


def saliency_map(model: torch.nn.Module, x: torch.Tensor, target: int | None = None) -> np.ndarray:
    """(H, W) float map in [0, 1] for input ``x`` of shape (1, C, H, W)."""
    model.eval()
    x = x.detach().clone().requires_grad_(True)
    with torch.enable_grad():
        if hasattr(model, "learner"):                     # transfer model: bypass its no_grad trunk
            logits = model.learner()(model.trunk(x))
        else:
            logits = model(x)
        k = int(logits.argmax(1)) if target is None else int(target)
        # autograd.grad leaves the shared model's .grad untouched: safe with concurrent users.
        (grad,) = torch.autograd.grad(logits[0, k], x)
    contribution = (grad * (x - x.detach().amin())).sum(1)[0]     # positive where ink helped
    sal = contribution.clamp(min=0).detach().numpy()
    sal = ndimage.gaussian_filter(sal, sigma=max(0.6, sal.shape[0] / 40))
    peak = sal.max()
    return sal / peak if peak > 0 else sal


def to_original(sal: np.ndarray, prepared: Prepared, shape: tuple[int, int]) -> np.ndarray:
    """Map a saliency map of the seen image back onto the original image's pixels."""
    h, w = shape
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    sx = (xs + 0.5 - prepared.offset[0]) * prepared.scale + prepared.shift[0] - 0.5
    sy = (ys + 0.5 - prepared.offset[1]) * prepared.scale + prepared.shift[1] - 0.5
    return ndimage.map_coordinates(sal, [sy, sx], order=1, mode="constant", cval=0.0)


def overlay(original: np.ndarray, sal: np.ndarray, prepared: Prepared, strength: float = 0.75) -> np.ndarray:
    """The original image (grey or RGB uint8) with the saliency as a warm heat overlay (RGB uint8)."""
    base = np.asarray(original)
    if base.ndim == 2:
        base = np.stack([base] * 3, -1)
    base = base[..., :3].astype(np.float32)
    heat = to_original(sal, prepared, base.shape[:2])[..., None] * strength
    warm = np.array([0.0, 114.0, 178.0])                   # blue: a push toward the answer is positive
    return np.clip(base * (1 - heat) + warm * heat, 0, 255).astype(np.uint8)


def enlarge(seen: np.ndarray, size: int = 280) -> np.ndarray:
    """The small image the model sees, enlarged with visible pixels (nearest neighbour)."""
    return np.asarray(Image.fromarray(seen).resize((size, size), Image.NEAREST))
