"""Export a trained model as ONNX, so it runs outside PyTorch (ONNX Runtime, a phone, a browser).

The file maps a batch of normalised pictures, shape (N, C, H, W) as the checkpoint's
``mean``/``std`` describe, to class probabilities (N, classes): the softmax is part of the graph.
The class names and the normalisation go into the file's metadata. A transfer model (the flower
model, or one trained on the class's own pictures) is exported whole: the pretrained EfficientNet
and its new layer in one file of about 14 MB.
"""
from __future__ import annotations

import json
import warnings
from pathlib import Path

import torch
from torch import nn

from ...i18n import Refusal, Text
from ..checkpoints import Loaded

OPSET = 17                  # supported by every ONNX Runtime of the last years


class ExportError(Refusal, ValueError):
    """A model that cannot be exported; its argument is a Text (cnnlab.i18n) saying why."""


class _Probabilities(nn.Module):
    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.softmax(self.model(x), dim=1)


def to_onnx(loaded: Loaded, path: str | Path) -> Path:
    """Write ``loaded``'s model as an ONNX file at ``path`` (a dynamic batch size)."""
    try:
        import onnx
    except ImportError:
        raise ExportError(Text("export.no_onnx")) from None
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    net = _Probabilities(loaded.model).eval().cpu()
    example = torch.zeros(1, loaded.channels, loaded.input_size, loaded.input_size)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")          # the TorchScript exporter announces its deprecation
        torch.onnx.export(net, (example,), str(path), dynamo=False, opset_version=OPSET,
                          input_names=["image"], output_names=["probabilities"],
                          dynamic_axes={"image": {0: "batch"}, "probabilities": {0: "batch"}})
    model = onnx.load(str(path))
    meta = {"classes": json.dumps(list(loaded.classes)), "mean": json.dumps(list(loaded.mean)),
            "std": json.dumps(list(loaded.std)), "model": loaded.model_name, "dataset": loaded.dataset}
    for key, value in meta.items():
        entry = model.metadata_props.add()
        entry.key, entry.value = key, value
    onnx.checker.check_model(model)
    onnx.save(model, str(path))
    return path
