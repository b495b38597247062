"""ONNX export: ONNX Runtime gives the same probabilities as PyTorch on real test pictures."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from cnnlab.core import checkpoints, datasets, training
from cnnlab.core.nets import export
from cnnlab.core.nets.builder import build

ROOT = Path(__file__).resolve().parents[1]
ort = pytest.importorskip("onnxruntime")


def own_network(tmp_path) -> Path:
    torch.manual_seed(0)
    model = build([{"type": "conv", "channels": 6, "kernel": 3}, {"type": "batchnorm"}, {"type": "tanh"},
                   {"type": "avgpool", "size": 2}, {"type": "flatten"}, {"type": "dense", "units": 20},
                   {"type": "sigmoid"}, {"type": "dropout", "p": 0.2}], datasets.get_spec("mnist"))
    return checkpoints.save(tmp_path / "own.pt", model, "custom", "mnist")


def both_ways(loaded, onnx_file: Path, test: datasets.TensorData, n: int):
    """Probabilities of ``n`` test pictures from PyTorch and from ONNX Runtime, the true labels,
    and the ONNX Runtime session (for the file's metadata)."""
    x, labels = next(training.batches(test.subset(n), n, torch.device("cpu")))
    with torch.no_grad():
        ours = torch.softmax(loaded.model(x), 1).numpy()
    session = ort.InferenceSession(str(onnx_file), providers=["CPUExecutionProvider"])
    return ours, session.run(["probabilities"], {"image": x.numpy()})[0], labels, session


@pytest.mark.parametrize("source", ["mnist-cnn.pt", "mnist-mlp.pt", "fashion-cnn-deep.pt", "own"])
def test_onnx_runtime_gives_the_same_probabilities(source, tmp_path, data_root):
    path = own_network(tmp_path) if source == "own" else ROOT / "checkpoints" / source
    loaded = checkpoints.load(path)
    out = export.to_onnx(loaded, tmp_path / "model.onnx")
    ours, theirs, _, session = both_ways(loaded, out, datasets.load(loaded.dataset, "test", data_root), 200)
    assert theirs.shape == (200, 10)
    np.testing.assert_allclose(theirs, ours, atol=1e-4, rtol=0)
    assert (theirs.argmax(1) == ours.argmax(1)).all()
    meta = session.get_modelmeta().custom_metadata_map
    assert json.loads(meta["classes"]) == list(loaded.classes) and meta["model"] == loaded.model_name


@pytest.mark.slow
def test_the_flower_model_exports_whole_and_onnx_runtime_agrees(tmp_path, flowers_root):
    """The transfer model (pretrained EfficientNet + its new layer) goes out as one file."""
    loaded = checkpoints.load(ROOT / "checkpoints" / "flowers5-transfer.pt")
    out = export.to_onnx(loaded, tmp_path / "flowers.onnx")
    assert 5e6 < out.stat().st_size < 30e6
    ours, theirs, labels, session = both_ways(loaded, out, datasets.load("flowers5", "test", flowers_root), 24)
    assert theirs.shape == (24, 5)
    np.testing.assert_allclose(theirs, ours, atol=1e-4, rtol=0)
    assert (theirs.argmax(1) == labels.numpy()).mean() > 0.6          # it still knows its flowers
    assert json.loads(session.get_modelmeta().custom_metadata_map["classes"]) == list(loaded.classes)
