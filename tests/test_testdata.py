"""A newcomer's first test run (README): with no data in the data root, MNIST and Fashion-MNIST are
fetched there once through torchvision when the machine is online; offline, the run ends with one
sentence; tests that need the flowers5 photos are skipped, saying what to copy where. Downloads
are simulated (tests/fake_download.py copies from the shared data): nothing leaves the machine."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import fake_download
import pytest
from testdata import DataUnavailable, ensure_downloadable_sets, flowers_missing

from cnnlab.core import datasets

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture()
def downloads(tmp_path, monkeypatch):
    """torchvision's download, simulated; returns the log of (download_root, filename) calls."""
    log = tmp_path / "downloads.log"
    monkeypatch.setenv(fake_download.LOG_ENV, str(log))
    monkeypatch.delenv(fake_download.SOURCE_ENV, raising=False)
    fake_download.install(monkeypatch)
    return lambda: [tuple(line.split("\t")) for line in log.read_text().splitlines()] if log.exists() else []


def test_offline_without_data_is_one_clear_sentence(tmp_path, downloads):
    empty = tmp_path / "data"
    with pytest.raises(DataUnavailable) as err:
        ensure_downloadable_sets(empty)
    message = str(err.value)
    assert message.count(". ") == 0 and message.endswith(".")              # one sentence
    assert str(empty) in message and "CNNLAB_DATA" in message and "MNIST/" in message
    assert downloads() and all(root == str(empty / "MNIST" / "raw") for root, _ in downloads())


def test_online_the_sets_are_fetched_into_the_data_root_once(tmp_path, downloads, monkeypatch, data_root):
    monkeypatch.setenv(fake_download.SOURCE_ENV, str(data_root))          # "online"
    fresh = tmp_path / "data"
    assert ensure_downloadable_sets(fresh) == ["mnist", "fashion"]
    roots = {root for root, _ in downloads()}
    assert roots == {str(fresh / "MNIST" / "raw"), str(fresh / "FashionMNIST" / "raw")}
    assert len(downloads()) == 8                                           # 4 files each
    assert (fresh / "FashionMNIST" / "raw" / "t10k-labels-idx1-ubyte").is_file()
    assert ensure_downloadable_sets(fresh) == [] and len(downloads()) == 8  # the second time: nothing


def test_flowers_tests_say_what_to_copy_where(tmp_path, data_root):
    folder = datasets.get_spec("flowers5").folder
    assert flowers_missing(data_root) is None or not (data_root / folder).is_dir()
    reason = flowers_missing(tmp_path)
    assert "cannot be downloaded" in reason and str(tmp_path / folder) in reason


def run_pytest(data: Path, *args: str, online: bool) -> subprocess.CompletedProcess:
    env = {**os.environ, "CNNLAB_DATA": str(data), "PYTHONPATH": str(ROOT / "tests")}
    env.pop(fake_download.SOURCE_ENV, None)
    if online:
        env[fake_download.SOURCE_ENV] = os.environ["CNNLAB_DATA"]
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "fake_download", "-p", "no:cacheprovider",
                           "-q", "-rs", *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)


@pytest.mark.slow
def test_a_newcomer_offline_gets_one_error_not_hundreds(tmp_path, data_root):
    run = run_pytest(tmp_path / "data", "tests/test_datasets.py", online=False)
    out = run.stdout + run.stderr
    assert run.returncode != 0
    assert out.count("could not be downloaded") == 1, out[-3000:]
    assert "Traceback" not in out and " error" not in out.lower().replace("could not be downloaded", "")


@pytest.mark.slow
def test_a_newcomer_online_gets_the_data_and_a_reason_for_each_flowers_skip(tmp_path, data_root):
    data = tmp_path / "data"
    run = run_pytest(data, "tests/test_datasets.py", online=True)
    out = run.stdout + run.stderr
    assert run.returncode == 0, out[-3000:]
    assert (data / "MNIST" / "raw" / "train-images-idx3-ubyte").is_file()
    folder = datasets.get_spec("flowers5").folder
    reason = f"copy the {folder} folder (train/ and test/, one folder per class) to {data / folder}"
    assert "SKIPPED" in out and reason in out
    assert "failed" not in out and "error" not in out.lower()
