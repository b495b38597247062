"""Checkpoints: a saved model comes back exactly, and every bad file is refused with a sentence
that says what is wrong, never a crash and never a half-loaded model."""
from __future__ import annotations

import json
import os

import pytest
import torch

from cnnlab.core import checkpoints, datasets
from cnnlab.core.checkpoints import CheckpointError
from cnnlab.core.nets.models import build_model

CONFIG = {"dataset": "mnist", "model": "cnn", "epochs": 1, "lr": 0.003}
METRICS = {"test_accuracy": 0.1234, "steps": 7}


pytestmark = pytest.mark.usefixtures("one_thread")


@pytest.fixture()
def model():
    torch.manual_seed(0)
    m = build_model("cnn", datasets.get_spec("mnist"))
    with torch.no_grad():                         # batch-norm statistics that are not the defaults
        for buf in m.buffers():
            if buf.is_floating_point():
                buf.uniform_(0.5, 1.5)
    return m.eval()


@pytest.fixture()
def saved(tmp_path, model):
    return checkpoints.save(tmp_path / "mnist-cnn.pt", model, "cnn", "mnist", CONFIG, METRICS)


def test_round_trip_gives_the_same_model(saved, model):
    loaded = checkpoints.load(saved)
    x = torch.randn(4, 1, 28, 28)
    with torch.no_grad():
        assert torch.equal(loaded.model(x), model(x))
    assert not loaded.model.training
    spec = datasets.get_spec("mnist")
    assert (loaded.model_name, loaded.dataset) == ("cnn", "mnist")
    assert loaded.classes == spec.classes
    assert (loaded.mean, loaded.std) == (spec.mean, spec.std)
    assert (loaded.input_size, loaded.channels) == (28, 1)
    assert loaded.config == CONFIG and loaded.metrics == METRICS
    assert loaded.spec is spec and loaded.path == str(saved)


def test_loads_from_bytes_as_an_upload_arrives(saved, model):
    payload = checkpoints.read_payload(saved.read_bytes())
    loaded = checkpoints.from_payload(payload)
    x = torch.randn(2, 1, 28, 28)
    with torch.no_grad():
        assert torch.equal(loaded.model(x), model(x))


@pytest.mark.parametrize("finetune, max_bytes", [("head", 100_000), ("top", 8_000_000), ("all", 15_000_000)])
def test_transfer_checkpoint_holds_only_what_learned(tmp_path, finetune, max_bytes):
    spec = datasets.get_spec("flowers5")
    torch.manual_seed(0)
    model = build_model("transfer", spec, finetune=finetune)
    with torch.no_grad():                         # as if training had changed the learning part
        for p in model.parameters():
            if p.requires_grad:
                p.add_(torch.randn_like(p) * 0.01)
    model.eval()
    path = checkpoints.save(tmp_path / "flowers.pt", model, "transfer", "flowers5")
    assert path.stat().st_size < max_bytes, ("the frozen ImageNet backbone comes from the installed package, "
                                             "and a weight two modules share is stored once")
    payload = checkpoints.read_payload(path)
    assert payload["finetune"] == finetune
    if finetune == "head":
        assert set(payload["state_dict"]) == {"head.1.weight", "head.1.bias"}
    loaded = checkpoints.load(path)
    x = torch.randn(1, 3, 224, 224)
    with torch.no_grad():
        assert torch.equal(loaded.model(x), model(x))


def test_write_is_atomic_and_leaves_no_temporary_files(tmp_path, model, saved, monkeypatch):
    assert sorted(os.listdir(tmp_path)) == ["mnist-cnn.pt"]
    good = saved.read_bytes()

    def crash(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", crash)
    with pytest.raises(OSError, match="disk full"):
        checkpoints.save(saved, model, "cnn", "mnist")
    assert saved.read_bytes() == good, "a failed save must leave the old checkpoint intact"
    assert sorted(os.listdir(tmp_path)) == ["mnist-cnn.pt"], "no temporary file left behind"


def test_overwrite_and_metrics_json(saved):
    path = checkpoints.write_metrics(saved, {"test_accuracy": 0.5, "test_images": 10})
    assert path.name == "mnist-cnn.metrics.json"
    whole = {"test_accuracy": 0.5, "test_images": 10, "steps": 7}
    assert checkpoints.load(saved).metrics == whole
    assert json.loads(path.read_text()) == whole, "the JSON beside it says what the checkpoint holds"
    assert sorted(p.name for p in saved.parent.iterdir()) == ["mnist-cnn.metrics.json", "mnist-cnn.pt"]


def refused(path, *words):
    with pytest.raises(CheckpointError) as err:
        checkpoints.load(path)
    message = str(err.value)
    assert path.name in message or "checkpoint" in message, message
    for word in words:
        assert word in message, f"{word!r} not in: {message}"
    assert len(message) < 400 and "\n" not in message, "one readable sentence, not a dump"
    return message


def test_missing_file(tmp_path):
    refused(tmp_path / "nothing.pt", "Cannot open")


def test_empty_file(tmp_path):
    path = tmp_path / "empty.pt"
    path.write_bytes(b"")
    refused(path, "empty")


def test_truncated_checkpoint(saved):
    data = saved.read_bytes()
    saved.write_bytes(data[: len(data) // 2])
    refused(saved, "truncated or corrupted")


def test_random_bytes(tmp_path):
    path = tmp_path / "noise.pt"
    path.write_bytes(torch.randint(0, 256, (5000,), generator=torch.Generator().manual_seed(0),
                                   dtype=torch.uint8).numpy().tobytes())
    message = refused(path, "not")
    assert "Python objects" not in message


def test_text_file(tmp_path):
    path = tmp_path / "notes.pt"
    path.write_text("hello, these are not weights\n")
    refused(path, "not")


def test_foreign_torch_file(tmp_path):
    path = tmp_path / "foreign.pt"
    torch.save({"a": 1}, path)
    refused(path, "not a cnnlab checkpoint")


def test_bare_state_dict_is_not_a_checkpoint(tmp_path, model):
    path = tmp_path / "weights.pt"
    torch.save(model.state_dict(), path)
    refused(path, "not a cnnlab checkpoint")


def test_pickled_module_is_refused_for_safety(tmp_path, model):
    path = tmp_path / "whole-model.pt"
    torch.save(model, path)                       # the anti-pattern: a pickled nn.Module
    refused(path, "refused for safety")


def edited(saved, **changes):
    payload = checkpoints.read_payload(saved)
    for key, value in changes.items():
        if value is KeyError:
            del payload[key]
        else:
            payload[key] = value
    checkpoints.save_payload(saved, payload)
    return saved


def state_with(saved, change):
    state = dict(checkpoints.read_payload(saved)["state_dict"])
    change(state)
    return state


def test_missing_weight_is_refused(saved):
    state = state_with(saved, lambda s: s.pop("head.1.bias"))
    refused(edited(saved, state_dict=state), "do not match", "head.1.bias")


def test_extra_weight_is_refused(saved):
    state = state_with(saved, lambda s: s.update({"head.2.weight": torch.zeros(3)}))
    refused(edited(saved, state_dict=state), "do not match", "head.2.weight")


def test_mis_shaped_weight_is_refused(saved):
    state = state_with(saved, lambda s: s.update({"head.1.weight": torch.zeros(10, 99)}))
    refused(edited(saved, state_dict=state), "do not match", "head.1.weight")


def test_unknown_model_name(saved):
    refused(edited(saved, model="resnet9000"), "unknown model", "resnet9000")


def test_unknown_data_set(saved):
    refused(edited(saved, dataset="cifar"), "unknown data set", "cifar")


def test_wrong_class_count(saved):
    refused(edited(saved, classes=["a", "b", "c"]), "3 classes", "10")


def test_model_that_does_not_fit_its_data_set(saved):
    refused(edited(saved, dataset="flowers5", classes=list(datasets.get_spec("flowers5").classes)),
            "does not fit")


def test_newer_format_version(saved):
    refused(edited(saved, format_version=checkpoints.FORMAT_VERSION + 1), "newer cnnlab")


@pytest.mark.parametrize("key", ["state_dict", "classes", "model"])
def test_missing_field(saved, key):
    refused(edited(saved, **{key: KeyError}), "missing", key)


@pytest.mark.parametrize("key, value", [("format_version", "2"), ("classes", 10), ("config", None),
                                        ("state_dict", "weights"), ("input_size", "big")])
def test_field_of_the_wrong_type(saved, key, value):
    refused(edited(saved, **{key: value}), key)
