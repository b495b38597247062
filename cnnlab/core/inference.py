"""Answers for one input: probabilities, the image the model saw, and optional saliency.

Pure functions over a loaded checkpoint (cnnlab.core.checkpoints.Loaded), shared by the Draw and
Photo tabs and their benchmarks.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from . import novelty, saliency
from .preprocess import Prepared, prepare_for


@dataclass
class Answer:
    probs: dict[str, float]        # class name -> probability, every class
    top: str                       # the most likely class name
    top_index: int
    confidence: float
    prepared: Prepared             # what the model saw and where it came from
    saliency: np.ndarray | None = None    # (H, W) in [0, 1] over the seen image
    strangeness: float | None = None      # distance from the training images / its limit (cnnlab.core.novelty)

    @property
    def unfamiliar(self) -> bool:
        """The input lies farther from every training class than almost all real ones do."""
        return self.strangeness is not None and self.strangeness > 1.0


def scores(loaded, x: torch.Tensor, measure: bool = True) -> tuple[torch.Tensor, torch.Tensor | None]:
    """(logits, strangeness or None) for a batch, the way the app answers: averaged with the mirror
    images when the checkpoint asks for it (``mirror``), and (``measure``) measured against the
    training images' features when it carries a novelty model (on the network's own features:
    one pass for both; or on the stock backbone's: a second one)."""
    model = loaded.model
    novel = loaded.novelty if measure else None
    if not (loaded.mirror or novel is not None):
        return model(x), None
    n = len(x)
    features = model.embed(torch.cat([x, x.flip(-1)]) if loaded.mirror else x)
    logits = model.head(features)
    if loaded.mirror:
        logits = (logits[:n] + logits[n:]) / 2
    strangeness = None
    if novel is not None:
        seen = novelty.features_for(novel, model, x) if novel.stock else features[:n]
        strangeness = novel.strangeness(seen)
    return logits, strangeness


class AsAnswered(nn.Module):
    """A checkpoint's network as ``scores`` uses it (mirror averaging included, the novelty
    measure left out), for code that wants a module: scoring a checkpoint the way the app answers."""

    def __init__(self, loaded):
        super().__init__()
        self.net = loaded.model
        self._loaded = [loaded]                       # not a submodule

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return scores(self._loaded[0], x, measure=False)[0]


def as_answered(loaded) -> nn.Module:
    """The module that scores ``loaded`` as the app answers: its own network unless it averages
    in the mirror image (so a frozen trunk's cached features still serve the plain case)."""
    return AsAnswered(loaded) if loaded.mirror else loaded.model


def answer(loaded, source, with_saliency: bool = False) -> Answer | None:
    """Classify ``source`` (a sketch value or a PIL photo); None when there is nothing to see."""
    prepared = prepare_for(loaded, source)
    if prepared is None:
        return None
    with torch.inference_mode():      # the checkpoint's temperature: confidence that means what it says
        logits, strangeness = scores(loaded, prepared.tensor)
        probs = torch.softmax(logits / loaded.temperature, dim=1)[0]
    k = int(probs.argmax())
    sal = saliency.saliency_map(loaded.model, prepared.tensor, k) if with_saliency else None
    return Answer({c: float(p) for c, p in zip(loaded.classes, probs)}, loaded.classes[k], k,
                  float(probs[k]), prepared, sal, None if strangeness is None else float(strangeness[0]))
