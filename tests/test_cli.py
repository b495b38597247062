"""The command line: `python -m cnnlab train | evaluate`, as CI and the README use it."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from cnnlab.__main__ import main
from cnnlab.config import TrainConfig
from cnnlab.core import checkpoints, datasets
from cnnlab.core.training import fit

ROOT = Path(__file__).resolve().parents[1]


pytestmark = pytest.mark.usefixtures("one_thread")


def cli(*args, cwd) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "cnnlab", *args], cwd=cwd, env=env, stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=300)


@pytest.mark.slow
def test_dry_run_trains_two_batches_and_saves_nothing(tmp_path, data_root, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)                 # a function call: `python -m cnnlab` is tested below
    assert main(["train", "--dry-run"]) in (0, None)
    assert "dry run" in capsys.readouterr().out
    assert list(tmp_path.iterdir()) == [], "a dry run writes no checkpoint"


@pytest.mark.slow
def test_unknown_model_is_a_clear_error(tmp_path, data_root):
    result = cli("train", "--model", "resnet9000", "--dry-run", cwd=tmp_path)
    assert result.returncode == 2
    assert "unknown model 'resnet9000'" in result.stderr and "cnn" in result.stderr
    assert "Traceback" not in result.stderr


def test_missing_data_is_a_clear_error(tmp_path, capsys):
    assert main(["train", "--dry-run", "--data-dir", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "MNIST" in err and str(tmp_path) in err


@pytest.mark.parametrize("args, words", [
    (["train", "--dataset", "cifar", "--dry-run"], ["unknown data set 'cifar'", "mnist"]),
    (["train", "--model", "transfer", "--dry-run"], ["does not fit", "cnn"]),
    (["train", "--optimizer", "adagrad", "--dry-run"], ["unknown optimizer 'adagrad'", "adam"]),
])
def test_bad_choices_are_clear_errors(data_root, capsys, args, words):
    assert main(args) == 2
    err = capsys.readouterr().err
    assert all(w in err for w in words), err


def test_help_shows_every_default(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["train", "--help"])
    assert exit_.value.code == 0
    out = " ".join(capsys.readouterr().out.split())        # argparse wraps long lines
    defaults = TrainConfig()
    for name, value in defaults.to_dict().items():
        flag = "--" + name.replace("_", "-")
        assert flag in out
        assert f"(default: {value})" in out, f"{flag} does not show its default {value}"
    assert "--dry-run" in out and "--data-dir" in out


@pytest.fixture(scope="module")
def small_checkpoint(tmp_path_factory):
    """A CNN trained for a few seconds on 2,000 images (about 90% on the test set)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)                     # and back after: later tests need both cores
    config = TrainConfig(train_size=2000, epochs=1, eval_every_s=1e9, val_size=100)
    done = list(fit(config, final_eval=False))[-1]
    torch.set_num_threads(threads)
    path = tmp_path_factory.mktemp("cli") / "small.pt"
    return checkpoints.save(path, done.model, config.model, config.dataset, config.to_dict(), {})


@pytest.mark.slow
def test_evaluate_writes_a_metrics_json(small_checkpoint, data_root, capsys):
    assert main(["evaluate", str(small_checkpoint)]) == 0
    out = capsys.readouterr().out
    written = small_checkpoint.with_suffix(".metrics.json")
    metrics = json.loads(written.read_text())
    classes = datasets.get_spec("mnist").classes
    assert 0.7 < metrics["test_accuracy"] <= 1.0
    assert metrics["test_images"] == 10000
    assert list(metrics["per_class_accuracy"]) == list(classes)
    cm = torch.tensor(metrics["confusion_matrix"])
    assert cm.shape == (10, 10) and cm.sum() == 10000
    assert cm.diag().sum().item() / 10000 == pytest.approx(metrics["test_accuracy"], abs=1e-6)
    per_class = cm.diag().float() / cm.sum(1).float()
    assert per_class.tolist() == pytest.approx(list(metrics["per_class_accuracy"].values()), abs=1e-6)
    test = datasets.load("mnist", "test", data_root)
    assert cm.sum(1).tolist() == torch.bincount(test.labels, minlength=10).tolist(), "rows are the true class"
    assert checkpoints.load(small_checkpoint).metrics["test_accuracy"] == metrics["test_accuracy"]
    assert f"{metrics['test_accuracy']:.2%}" in out and str(written) in out


def test_evaluate_a_bad_file_is_a_clear_error(tmp_path, capsys):
    bad = tmp_path / "broken.pt"
    bad.write_bytes(b"not a checkpoint")
    assert main(["evaluate", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "broken.pt" in err
    assert not bad.with_suffix(".metrics.json").exists()


def test_a_built_network_trains_from_a_json_file_and_a_bad_one_is_a_clear_error(tmp_path, data_root, capsys):
    stack = tmp_path / "mine.json"
    stack.write_text('[{"type": "conv", "channels": 4, "kernel": 3}, {"type": "relu"}, {"type": "flatten"}]')
    out = tmp_path / "mine.pt"
    assert main(["train", "--model", "custom", "--layers", str(stack), "--train-size", "256", "--batch-size", "64",
                 "--epochs", "1", "--val-size", "200", "--out", str(out)]) == 0
    loaded = checkpoints.load(out)
    assert loaded.model_name == "custom" and loaded.model.layers[0]["channels"] == 4
    assert main(["train", "--model", "custom", "--layers", '[{"type": "dense", "units": 8}]', "--dry-run"]) == 2
    assert "add a flatten layer before it" in capsys.readouterr().err
