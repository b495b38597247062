"""Numbers about a trained model on a test split: accuracy, per-class accuracy, confusion."""
from __future__ import annotations

import torch


def confusion_matrix(labels: torch.Tensor, predictions: torch.Tensor, num_classes: int) -> torch.Tensor:
    """Rows are the true class, columns the predicted class."""
    index = labels.long() * num_classes + predictions.long()
    return torch.bincount(index, minlength=num_classes ** 2).reshape(num_classes, num_classes)


def summarize(labels: torch.Tensor, predictions: torch.Tensor, classes, loss: float | None = None) -> dict:
    cm = confusion_matrix(labels, predictions, len(classes))
    per_class = (cm.diag().float() / cm.sum(1).clamp(min=1).float()).tolist()
    out = {"test_accuracy": round((labels == predictions).float().mean().item(), 6),
           "test_images": int(len(labels)),
           "per_class_accuracy": {c: round(a, 6) for c, a in zip(classes, per_class)},
           "confusion_matrix": cm.tolist()}
    if loss is not None:
        out["test_loss"] = round(loss, 6)
    return out
