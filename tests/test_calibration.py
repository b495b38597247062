"""Calibrated confidence (issue 19): the temperature is fitted right, stored safely in the
checkpoint, and every place that shows a probability uses it."""
from __future__ import annotations

import pytest
import torch

from cnnlab.config import TrainConfig
from cnnlab.core import calibration, checkpoints, datasets, finish, inference
from cnnlab.core.checkpoints import CheckpointError
from cnnlab.core.nets.models import build_model
from cnnlab.lessons.inside import stages

pytestmark = pytest.mark.usefixtures("one_thread")


def synthetic(t_true: float, n: int = 20000, k: int = 10, seed: int = 0):
    """Logits, and labels drawn from softmax(logits / t_true): a model whose honest temperature
    is exactly t_true (the oracle)."""
    g = torch.Generator().manual_seed(seed)
    logits = torch.randn(n, k, generator=g) * 4
    labels = torch.multinomial(torch.softmax(logits / t_true, 1), 1, generator=g).squeeze(1)
    return logits, labels


@pytest.mark.parametrize("t_true", [0.5, 1.0, 2.5])
def test_fitted_temperature_recovers_the_true_one(t_true):
    logits, labels = synthetic(t_true)
    assert calibration.fit_temperature(logits, labels) == pytest.approx(t_true, rel=0.05)


def test_ece_is_small_when_honest_and_large_when_overconfident():
    logits, labels = synthetic(2.0)
    honest = calibration.ece(calibration.probabilities(logits, 2.0), labels)
    boastful = calibration.ece(calibration.probabilities(logits, 1.0), labels)
    assert honest < 0.02 < 0.1 < boastful
    r = calibration.reliability(calibration.probabilities(logits, 2.0), labels)
    assert sum(r["counts"]) == len(labels) and len(r["counts"]) == calibration.BINS


def test_holdout_is_seeded_and_disjoint():
    data = datasets.TensorData(torch.arange(100, dtype=torch.uint8).view(100, 1, 1, 1).expand(100, 1, 2, 2).clone(),
                               torch.arange(100), datasets.get_spec("mnist"))
    rest, held = datasets.holdout(data, 10)
    again = datasets.holdout(data, 10)[1]
    assert len(held) == 10 and len(rest) == 90
    assert torch.equal(held.labels, again.labels)
    assert not set(held.labels.tolist()) & set(rest.labels.tolist())


def tiny_cnn():
    torch.manual_seed(0)
    return build_model("cnn", datasets.get_spec("mnist")).eval()


def test_temperature_travels_in_the_checkpoint(tmp_path):
    path = checkpoints.save(tmp_path / "m.pt", tiny_cnn(), "cnn", "mnist", {}, {}, temperature=1.7)
    assert checkpoints.load(path).temperature == pytest.approx(1.7)
    raw = torch.load(path, weights_only=True)         # a plain float: loads without pickled code
    assert isinstance(raw["temperature"], float)
    raw["temperature"] = -3.0
    torch.save(raw, tmp_path / "bad.pt")
    with pytest.raises(CheckpointError, match="temperature"):
        checkpoints.load(tmp_path / "bad.pt")
    del raw["temperature"]                            # a checkpoint from before: T = 1
    torch.save(raw, tmp_path / "old.pt")
    assert checkpoints.load(tmp_path / "old.pt").temperature == 1.0


def test_the_draw_answer_and_the_inside_walk_use_the_temperature(tmp_path):
    model = tiny_cnn()
    sketch = torch.full((280, 280), 255, dtype=torch.uint8).numpy()
    sketch[60:220, 130:150] = 0                       # a "1"
    answers = {}
    for t in (1.0, 4.0):
        loaded = checkpoints.load(checkpoints.save(tmp_path / f"t{t}.pt", model, "cnn", "mnist", {}, {},
                                                   temperature=t))
        a = inference.answer(loaded, sketch)
        with torch.no_grad():
            expected = torch.softmax(model(a.prepared.tensor) / t, 1)[0]
        assert torch.allclose(torch.tensor(list(a.probs.values())), expected, atol=1e-6)
        walk = stages.walk(loaded.model, a.prepared.tensor, loaded.temperature)
        assert torch.allclose(walk.probs, expected, atol=1e-5)
        answers[t] = a.confidence
    assert answers[4.0] < answers[1.0]                # a higher temperature sounds less sure


def test_end_of_run_fits_the_temperature_on_held_out_images(tmp_path):
    spec = datasets.get_spec("mnist")
    g = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (300, 1, 28, 28), dtype=torch.uint8, generator=g)
    labels = torch.randint(0, 10, (300,), generator=g)
    test = datasets.TensorData(images[:200], labels[:200], spec)
    held = datasets.TensorData(images[200:], labels[200:], spec)
    model = tiny_cnn()
    with torch.no_grad():
        model.head[1].weight.mul_(50)                 # a wildly over-confident random model
    path, metrics, r = finish.evaluate_and_save(tmp_path / "run.pt", model, TrainConfig(), test,
                                                  calibration_data=held)
    c = metrics["calibration"]
    assert c["temperature"] > 2                       # it must be cooled down a lot
    assert c["ece_after"] < c["ece_before"]
    assert checkpoints.load(path).temperature == c["temperature"]
    assert float(r["confidences"].max()) < 0.9        # the Train tab's mistakes show calibrated numbers


def test_not_sure_rule():
    assert calibration.is_sure([0.9, 0.05, 0.05], "digits")
    assert not calibration.is_sure([0.5, 0.3, 0.2], "digits")
    assert not calibration.is_sure([0.75, 0.2, 0.05], "digits")              # right < 4 times in 5
    assert not calibration.is_sure([0.62, 0.38, 0.0], "photo")          # runner-up too close


@pytest.mark.slow
def test_calibrate_command_stores_the_temperature_and_keeps_the_shipped_map(tmp_path, data_root):
    import shutil
    from pathlib import Path

    from cnnlab.__main__ import main
    from cnnlab.core import maps
    from cnnlab.core.cache import file_digest
    shipped = Path(__file__).resolve().parents[1] / "checkpoints"
    for suffix in (".pt", ".tsne.npz", ".metrics.json"):
        shutil.copy(shipped / f"mnist-mlp{suffix}", tmp_path / f"mnist-mlp{suffix}")
    path = tmp_path / "mnist-mlp.pt"
    assert main(["calibrate", str(path), "--data-dir", str(data_root)]) == 0
    loaded = checkpoints.load(path)
    c = loaded.metrics["calibration"]
    assert loaded.temperature == c["temperature"] and c["fitted_on"] == c["reported_on"] == 5000
    assert maps.TsneMap.load(maps.map_path(path)).checkpoint_digest == file_digest(path)
