"""The builder's additions to the Train tab through the app's API (gradio_client): the PyTorch
script of the current settings, the ONNX export of the latest run, and steering refused when no
run is going or without the teacher's say."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from gradio_client.exceptions import AppError

from cnnlab.core import checkpoints, datasets, training

ROOT = Path(__file__).resolve().parents[1]
# dataset, model, optimizer, lr, batch size, epochs, time budget (s), training images, augment
SETTINGS = ["fashion", "lenet", "momentum", 0.05, 64, 2, 0, 5000, True]


def value(update):
    """A component update comes back as {"value": ..., ...}."""
    return update["value"] if isinstance(update, dict) else update


def test_the_script_of_the_current_settings_is_shown_and_offered(client):
    code, path = map(value, client.predict(*SETTINGS, api_name="/train_code"))
    text = code
    assert "class Net(nn.Module):" in text and "datasets.FashionMNIST(" in text
    assert "momentum=0.8" in text and "RandomAffine" in text          # the course's Momentum
    assert "default=64)" in text and "default=5000," in text
    assert Path(path).name == "train_fashion_lenet.py" and Path(path).read_text().rstrip() == text.rstrip()


def test_a_script_for_a_model_it_cannot_write_gets_a_sentence(client):
    with pytest.raises(AppError, match="lstm model is not one of them"):
        client.predict("mnist", "lstm", *SETTINGS[2:], api_name="/train_code")


def test_the_latest_run_exports_to_onnx_that_onnx_runtime_runs(client, idle_job, data_root):
    ort = pytest.importorskip("onnxruntime")
    assert "Loaded" in str(idle_job.use_checkpoint(ROOT / "checkpoints" / "mnist-cnn.pt"))
    path = value(client.predict(api_name="/train_export_onnx"))
    session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    test = datasets.load("mnist", "test", data_root).subset(100)
    x, y = next(training.batches(test, 100, torch.device("cpu")))
    probs = session.run(None, {"image": x.numpy()})[0]
    assert (probs.argmax(1) == y.numpy()).mean() > 0.95
    with torch.no_grad():
        ours = torch.softmax(checkpoints.load(ROOT / "checkpoints" / "mnist-cnn.pt").model(x), 1).numpy()
    np.testing.assert_allclose(probs, ours, atol=1e-4, rtol=0)


def test_steering_without_a_run_says_so(client, idle_job):
    assert client.predict("", api_name="/train_pause") == "No run is going."
    assert client.predict("", api_name="/train_resume") == "No run is going."
    assert client.predict(0.01, "", api_name="/train_set_lr") == "No run is going."
