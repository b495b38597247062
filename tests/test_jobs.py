"""The shared training job: one run at a time, live history for late viewers, Stop that acts
within a batch and leaves a usable model, the teacher key, the optimizer race, uploads."""
from __future__ import annotations

import os
import sys
import threading
from pathlib import Path

import pytest
import torch
from rungate import RunGate

from cnnlab.config import TrainConfig
from cnnlab.core import checkpoints, race, threads
from cnnlab.i18n import TeacherOnly
from cnnlab.server import jobs, runstate
from cnnlab.server.classroom import TeacherKey
from cnnlab.server.jobs import TrainJob
from cnnlab.server.zoo import LATEST, ModelZoo

# Small and quick: 2,000 training images (16 steps an epoch), frequent validation on 500 images.
QUICK = dict(train_size=2000, batch_size=128, lr=3e-3, epochs=1, val_size=500, eval_every_s=0.3)


def teacher_refusal(call) -> str:
    """The sentence of the TeacherOnly refusal that ``call()`` raises."""
    with pytest.raises(TeacherOnly) as refused:
        call()
    return str(refused.value)


def make_job(tmp_path, data_root, teacher_key=None) -> TrainJob:
    zoo = ModelZoo(tmp_path / "no-shipped-checkpoints")
    return TrainJob(zoo, tmp_path / "runs", data_root, teacher=TeacherKey(teacher_key))


@pytest.fixture(scope="module")
def finished(tmp_path_factory, data_root):
    """One short run that finished, with a listener that saw its events, and what a viewer
    joining mid-run got (taken while the run is held before its 5th batch)."""
    job = make_job(tmp_path_factory.mktemp("finished"), data_root)
    seen = []
    job.subscribe(lambda ev, model, config: seen.append((ev.kind, type(model).__name__, config.model)))
    config = TrainConfig(**QUICK)
    with RunGate(job, hold=[2, 3, 4, 5]) as gate:
        message = str(job.start(config))
        assert "started" in message
        gate.release_pointwise(3, config.event_every_s)   # batches 2-4: a loss point each
        gate.wait_held()
        middle = job.state()
        gate.release()
        assert job.wait(600), "the run did not finish in ten minutes"
    return job, seen, middle


@pytest.mark.slow
def test_run_finishes_with_curves_results_and_status(finished):
    job, seen, _ = finished
    snap = job.state()
    assert snap.state == "finished" and not job.is_running
    assert str(snap.status).startswith("Finished") and "test accuracy" in str(snap.status)
    assert len(snap.loss) >= 3 and {series for _, _, series in snap.loss} == {"train loss", "validation loss"}
    assert len(snap.accuracy) >= 1 and all(0 <= value <= 1 for _, value, _ in snap.accuracy)
    assert snap.step == snap.total_steps == 16
    r = snap.results
    assert r["test_accuracy"] > 0.5 and r["test_images"] == 10_000
    assert sum(map(sum, r["confusion_matrix"])) == 10_000
    assert len(r["mistakes"]["labels"]) == runstate.MISTAKES
    assert all(p != t for p, t in zip(r["mistakes"]["predictions"], r["mistakes"]["labels"]))
    grid = snap.grid
    assert len(grid.labels) == runstate.GRID_SIZE and len(grid.predictions) == runstate.GRID_SIZE
    assert set(grid.labels) == set(range(10))             # every digit is among the 16 pictures


@pytest.mark.slow
def test_listeners_hear_start_evals_and_done_with_the_model(finished):
    _, seen, _ = finished
    kinds = [k for k, _, _ in seen]
    assert kinds[0] == "start" and kinds[-1] == "done" and "eval" in kinds
    assert {"start", "eval", "done"} <= set(kinds) <= {"start", "step", "eval", "done"}
    assert all(name == "CNN" and model == "cnn" for _, name, model in seen)


@pytest.mark.slow
def test_finished_run_is_saved_and_published_as_latest(finished, data_root):
    job, _, _ = finished
    path = job.latest_path
    assert path.is_file() and job.state().latest == str(path)
    loaded = checkpoints.load(path)
    assert loaded.metrics["test_accuracy"] == job.state().results["test_accuracy"]
    assert len(loaded.metrics["confusion_matrix"]) == 10
    latest = job.zoo.get(LATEST)
    assert latest.model_name == "cnn" and latest.dataset == "mnist"
    with torch.no_grad():
        assert latest.model(torch.zeros(2, 1, 28, 28)).shape == (2, 10)


def test_a_late_viewer_sees_the_whole_history(finished):
    job, _, middle = finished
    after = job.state()
    # Mid-run a newcomer got every point so far; after the end, the whole run (not only news).
    assert len(middle.loss) >= 3 and middle.state == "running"
    before = [epoch for epoch, _, series in middle.loss if series == "train loss"]
    final = [epoch for epoch, _, series in after.loss if series == "train loss"]
    assert before == final[:len(before)]                   # the same points, in order
    assert max(final) > max(before)
    summary = after.to_dict()
    assert summary["state"] == "finished" and len(summary["loss"]) == len(after.loss)
    assert summary["results"]["test_accuracy"] == after.results["test_accuracy"]


@pytest.mark.slow
def test_second_start_is_refused_with_a_message_and_stop_acts_within_one_batch(tmp_path, data_root):
    job = make_job(tmp_path, data_root)
    try:
        with RunGate(job, hold=[3]) as gate:
            assert "started" in str(job.start(TrainConfig(train_size=5000, epochs=5, val_size=500)))
            gate.wait_held()                               # 2 batches done, the 3rd about to start
            second = str(job.start(TrainConfig()))
            assert "already in progress" in second and job.state().run_id == 1
            assert "already in progress" in str(job.start_race(TrainConfig()))
            assert "Stopping" in str(job.stop())
            gate.release()
            assert job.wait(600)
            assert gate.batches == 3                       # the batch under way when Stop came, no other
    finally:
        job.stop()
        assert job.wait(600)
    snap = job.state()
    assert snap.state == "stopped" and str(snap.status).startswith("Stopped") and snap.step == 3
    assert snap.results["stopped"] and snap.results["test_images"] == 500   # quick check after Stop
    # The model so far is kept, saved and usable everywhere.
    loaded = checkpoints.load(job.latest_path)
    assert loaded.metrics["stopped"] and loaded.metrics["steps"] == snap.step
    with torch.no_grad():
        probs = job.zoo.get(LATEST).model(torch.zeros(1, 1, 28, 28)).softmax(1)
    assert torch.isclose(probs.sum(), torch.tensor(1.0))
    assert "No run" in str(job.stop())
    assert "started" in str(job.start(TrainConfig(**QUICK, time_budget_s=0.5)))   # and it can train again
    assert job.wait(600) and job.state().run_id == 2


def test_teacher_key_is_needed_when_set(tmp_path, data_root):
    job = make_job(tmp_path, data_root, teacher_key="owl")
    assert "teacher key" in teacher_refusal(lambda: job.start(TrainConfig(**QUICK)))
    assert "teacher key" in teacher_refusal(lambda: job.start(TrainConfig(**QUICK), key="cat"))
    assert "teacher key" in teacher_refusal(lambda: job.start_race(TrainConfig(**QUICK)))
    assert not job.is_running and job.state().run_id == 0
    try:
        with RunGate(job, hold=[1]) as gate:
            assert "started" in str(job.start(TrainConfig(**QUICK), key="owl"))
            gate.wait_held()                               # the run cannot end while we try
            assert "teacher key" in teacher_refusal(lambda: job.stop())
            assert job.is_running
            assert "Stopping" in str(job.stop(key="owl"))
            gate.release()
            assert job.wait(600)
        assert job.state().state == "stopped"
    finally:
        job.stop(key="owl")
        assert job.wait(600)


def test_settings_that_do_not_fit_are_refused_before_starting(tmp_path, data_root):
    job = make_job(tmp_path, data_root)
    assert "does not fit" in str(job.start(TrainConfig(model="transfer")))
    assert str(job.start(TrainConfig(lr=0))) == "Learning rate must be between 1e-06 and 10; you asked for 0."
    assert "no data set called 'cifar'" in str(job.start(TrainConfig(dataset="cifar")))
    assert str(job.start(TrainConfig(batch_size=30000))) == \
        "Batch size must be between 1 and 1,024; you asked for 30,000."    # 9 GB of memory (issue 11)
    assert "finetune 'all'" in str(job.start(TrainConfig(dataset="flowers5", model="transfer", finetune="all")))
    assert "between 1 and 256; you asked for 512" in str(job.start(TrainConfig(dataset="flowers5", model="transfer",
                                                                           finetune="top", batch_size=512)))
    assert "MNIST or Fashion-MNIST" in str(job.start_race(TrainConfig(dataset="flowers5", model="transfer")))
    assert job.state().run_id == 0


def test_missing_data_ends_the_run_with_a_clear_status(tmp_path):
    job = make_job(tmp_path, tmp_path / "empty")
    assert "started" in str(job.start(TrainConfig(**QUICK)))
    assert job.wait(30)
    snap = job.state()
    assert snap.state == "failed" and "was not found" in str(snap.status) and "--data-dir" in str(snap.status)


@pytest.mark.slow
def test_a_failing_listener_does_not_end_the_run(tmp_path, data_root):
    job = make_job(tmp_path, data_root)

    def broken(ev, model, config):
        raise RuntimeError("listener bug")
    job.subscribe(broken)
    job.start(TrainConfig(**{**QUICK, "train_size": 1000}))
    assert job.wait(600)
    assert job.state().state == "finished"


@pytest.mark.slow
def test_optimizer_race_overlays_four_optimizers_on_the_same_batches(tmp_path, data_root, monkeypatch):
    monkeypatch.setattr(race, "RACE_STEPS", 12)
    monkeypatch.setattr(jobs, "RACE_STEPS", 12)
    job = make_job(tmp_path, data_root)
    assert "started" in str(job.start_race(TrainConfig(train_size=2000, val_size=500)))
    assert "already in progress" in str(job.start(TrainConfig()))
    assert job.wait(600)
    snap = job.state()
    assert snap.mode == "race" and snap.state == "finished" and str(snap.status).startswith("Optimizer race finished")
    names = {race.lane_label(name, lr) for name, lr in race.RACE_OPTIMIZERS}
    assert {lane for _, _, lane in snap.race} == names
    per = {lane: max(step for step, _, name in snap.race if name == lane) for lane in names}
    assert set(per.values()) == {12}                       # all four ran the same steps
    finals = snap.results["race"]
    assert sorted(f["optimizer"] for f in finals) == sorted(n for n, _ in race.RACE_OPTIMIZERS)
    assert not job.latest_path.exists()                    # a race does not replace the latest run


def test_an_uploaded_checkpoint_becomes_latest_and_a_bad_one_is_refused(finished, tmp_path, data_root):
    trained, _, _ = finished
    job = make_job(tmp_path, data_root)
    bad = tmp_path / "notes.pt"
    bad.write_bytes(b"this is not a checkpoint")
    with pytest.raises(checkpoints.CheckpointError, match=r"notes\.pt .*not a .*checkpoint"):
        job.use_checkpoint(bad)
    assert not job.latest_path.exists()
    message = str(job.use_checkpoint(trained.latest_path))
    assert "Loaded" in message and "latest run" in message
    assert job.latest_path.is_file() and job.zoo.get(LATEST).model_name == "cnn"
    locked = make_job(tmp_path / "locked", data_root, teacher_key="owl")
    assert "teacher key" in teacher_refusal(lambda: locked.use_checkpoint(trained.latest_path))


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="per-thread nice is Linux-only")
@pytest.mark.slow
def test_training_thread_steps_back_for_requests(tmp_path, data_root):
    job = make_job(tmp_path, data_root)
    niceness = []
    job.subscribe(lambda ev, m, c: niceness.append(os.getpriority(os.PRIO_PROCESS, threading.get_native_id())))
    job.start(TrainConfig(**{**QUICK, "train_size": 500, "val_size": 200}))
    assert job.wait(600)
    here = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    assert niceness and min(niceness) == min(19, here + threads.TRAIN_NICE)
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == here   # the server is untouched


def in_a_new_thread(fn):
    out = []
    t = threading.Thread(target=lambda: out.append(fn()))
    t.start()
    t.join()
    return out[0]


def test_requests_get_one_thread_and_training_keeps_its_own(tmp_path, data_root):
    here = torch.get_num_threads()
    default = in_a_new_thread(torch.get_num_threads)
    try:
        make_job(tmp_path, data_root)
        assert in_a_new_thread(torch.get_num_threads) == threads.REQUEST_THREADS   # a new server thread
        assert torch.get_num_threads() == here                                  # this thread is untouched

        def training_thread():
            n = threads.configure_training_thread("fewer")
            return n, torch.get_num_threads()
        n, seen = in_a_new_thread(training_thread)
        assert n == seen == max(1, threads.cpu_cores() - 1)
        assert in_a_new_thread(torch.get_num_threads) == threads.REQUEST_THREADS   # the default is back
    finally:
        threads.set_default_threads(default)


def test_thin_keeps_every_series_short_and_its_last_point():
    rows = [(i, float(i), "a") for i in range(1000)] + [(i, 0.0, "b") for i in range(10)]
    out = runstate.thin(rows, max_points=100)
    a = [r for r in out if r[2] == "a"]
    assert len(a) == 100 and a[0][0] == 0 and a[-1][0] == 999
    assert len([r for r in out if r[2] == "b"]) == 10


@pytest.mark.slow
def test_a_finished_run_is_calibrated_and_the_train_tab_draws_its_reliability_diagram(finished, tmp_path):
    from cnnlab.ui.train_views import SharedPictures
    job, _, _ = finished
    snap = job.state()
    c = snap.results["calibration"]
    assert c["fitted_on"] == 1000 and c["reported_on"] == 10_000       # held-out training digits, then the test split
    assert sum(c["reliability"]["counts"]) == 10_000
    assert c["ece_after"] <= c["ece_before"] + 0.005
    assert checkpoints.load(snap.latest).temperature == c["temperature"]
    cm, mistakes, reliability = SharedPictures(tmp_path).results(snap)
    assert cm and mistakes and reliability and Path(reliability).stat().st_size > 10_000
