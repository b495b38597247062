"""Answers for one input: probabilities, the image the model saw, and optional saliency.

Pure functions over a loaded checkpoint (cnnlab.checkpoints.Loaded), shared by the Draw and
Photo tabs and their benchmarks.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from . import saliency
from .preprocess import Prepared, prepare_for


@dataclass
class Answer:
    probs: dict[str, float]        # class name -> probability, every class
    top: str                       # the most likely class name
    top_index: int
    confidence: float
    prepared: Prepared             # what the model saw and where it came from
    saliency: np.ndarray | None = None    # (H, W) in [0, 1] over the seen image


def answer(loaded, source, with_saliency: bool = False) -> Answer | None:
    """Classify ``source`` (a sketch value or a PIL photo); None when there is nothing to see."""
    prepared = prepare_for(loaded, source)
    if prepared is None:
        return None
    with torch.inference_mode():      # the checkpoint's temperature: confidence that means what it says
        probs = torch.softmax(loaded.model(prepared.tensor) / getattr(loaded, "temperature", 1.0), dim=1)[0]
    k = int(probs.argmax())
    sal = saliency.saliency_map(loaded.model, prepared.tensor, k) if with_saliency else None
    return Answer({c: float(p) for c, p in zip(loaded.classes, probs)}, loaded.classes[k], k,
                  float(probs[k]), prepared, sal)
