"""What every network in cnnlab is: a ``Classifier`` (the registry's models and the builder's
networks alike), so Draw, t-SNE, saliency and Inside work on any of them."""
from __future__ import annotations

import torch
from torch import nn


class Classifier(nn.Module):
    """``features`` turns an image into a vector, ``head`` turns that vector into logits."""

    features: nn.Module
    head: nn.Module

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        return self.features(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.embed(x))
