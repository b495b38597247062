"""Numbers about a trained model on a test split: accuracy, per-class accuracy, confusion."""
from __future__ import annotations

import numpy as np
from sklearn.metrics import confusion_matrix as _sklearn_confusion


def confusion_matrix(labels, predictions, num_classes: int) -> np.ndarray:
    """(num_classes, num_classes) counts: rows are the true class, columns the predicted class.
    Takes tensors, arrays or lists."""
    labels, predictions = np.asarray(labels, dtype=np.int64), np.asarray(predictions, dtype=np.int64)
    return _sklearn_confusion(labels, predictions, labels=np.arange(num_classes)).astype(np.int64)


def summarize(labels, predictions, classes, loss: float | None = None) -> dict:
    labels, predictions = np.asarray(labels, dtype=np.int64), np.asarray(predictions, dtype=np.int64)
    cm = confusion_matrix(labels, predictions, len(classes))
    per_class = cm.diagonal() / np.maximum(cm.sum(1), 1)
    out = {"test_accuracy": round(float((labels == predictions).mean()), 6),
           "test_images": int(len(labels)),
           "per_class_accuracy": {c: round(float(a), 6) for c, a in zip(classes, per_class)},
           "confusion_matrix": cm.tolist()}
    if loss is not None:
        out["test_loss"] = round(loss, 6)
    return out
