"""Steering a run: Pause holds the training thread at a gate between batches (and Stop still ends
it with the model so far), a new learning rate reaches every optimizer's parameter groups and is
marked on the curves, and only the teacher may do either. Threads are synchronised with events,
never with sleeps."""
from __future__ import annotations

import threading

import pytest
import torch

from cnnlab.config import TrainConfig
from cnnlab.core import datasets, optimizers, training
from cnnlab.core.steer import Steering, check_lr
from cnnlab.i18n import TeacherOnly
from cnnlab.server.classroom import TeacherKey
from cnnlab.server.jobs import TrainJob
from cnnlab.server.zoo import ModelZoo


def teacher_refusal(call) -> str:
    """The sentence of the TeacherOnly refusal that ``call()`` raises."""
    with pytest.raises(TeacherOnly) as refused:
        call()
    return str(refused.value)


def tiny_learner(steps: int) -> training.Learner:
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(784, 10))
    opt = optimizers.make("adam", model.parameters(), 3e-3)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=3e-3, total_steps=steps, pct_start=0.25)
    return training.Learner(model, opt, sched, "tiny")


@pytest.fixture(scope="module")
def digits(data_root):
    return datasets.load("mnist", "test", data_root).subset(640)


def test_a_new_learning_rate_reaches_the_optimizer_and_holds(digits):
    steering = Steering()
    learner = tiny_learner(20)
    seen = []

    def hook(learners, step, epoch):
        if step == 4:
            steering.request_lr(0.0123)                        # what the teacher's click does
        waited = steering(learners, step, epoch)
        seen.append(learners[0].optimizer.param_groups[0]["lr"])
        return waited

    events = list(training.loop([learner], digits, epochs=2, batch_size=64, generator=torch.Generator(),
                                device=torch.device("cpu"), hooks=training.Hooks(between_batches=hook)))
    assert events[-1].kind == "done" and events[-1].step == 20
    assert seen[4:] == [0.0123] * 16                           # from the next batch on, for good
    assert len(set(seen[:4])) > 1                              # before: the one-cycle warm-up
    assert learner.scheduler is None
    (marker,) = steering.markers
    assert marker.step == 4 and marker.epoch == 0.4 and marker.new_lr == 0.0123
    assert marker.old_lr == pytest.approx(3e-3)                # one-cycle's peak after 4 of 20 steps


def test_pause_holds_the_loop_between_batches_until_resumed(digits):
    steering = Steering()
    events, done = [], threading.Event()
    steps_at_gate = []

    def hook(learners, step, epoch):
        if step == 3:
            steering.pause()
        if steering.paused:
            steps_at_gate.append(step)
        return steering(learners, step, epoch)

    def run():
        for ev in training.loop([tiny_learner(10)], digits, epochs=1, batch_size=64,
                                generator=torch.Generator(), device=torch.device("cpu"), event_every_s=0,
                                hooks=training.Hooks(between_batches=hook)):
            events.append(ev)
        done.set()

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    assert steering.halted.wait(60), "the loop did not stop at the gate"
    assert [ev.step for ev in events] == [1, 2, 3]             # three batches, then it waits
    assert not done.is_set()
    steering.resume()
    assert done.wait(60)
    assert events[-1].kind == "done" and events[-1].step == 10 and steps_at_gate == [3]


def test_check_lr_says_what_is_wrong():
    assert check_lr(0.01) is None
    for bad in (0, -1, float("nan"), float("inf"), 11, "fast", None):
        assert "learning rate" in str(check_lr(bad)).lower()


def make_job(tmp_path, data_root, key=None) -> TrainJob:
    return TrainJob(ModelZoo(tmp_path / "none"), tmp_path / "runs", data_root, teacher=TeacherKey(key))


@pytest.mark.slow
def test_the_shared_run_pauses_takes_a_new_lr_resumes_and_marks_it(tmp_path, data_root):
    job = make_job(tmp_path, data_root, key="k")
    first_step = threading.Event()
    job.subscribe(lambda ev, model, config: first_step.set() if ev.kind == "step" and ev.step else None)
    assert "teacher key" in teacher_refusal(lambda: job.pause(None))
    assert str(job.pause("k")) == "No run is going."
    assert "started" in str(job.start(TrainConfig(train_size=2000, epochs=2, val_size=300, eval_every_s=60,
                                              event_every_s=0), "k"))
    assert first_step.wait(180), "no step within three minutes"
    assert "teacher key" in teacher_refusal(lambda: job.pause("wrong"))
    assert str(job.pause("k")).startswith("Paused")
    assert job._steering.halted.wait(60)
    snap = job.state()
    assert snap.state == "paused" and snap.running and "Resume" in str(snap.status)
    step = snap.step
    assert job.state().step == step                            # held at the gate
    assert "teacher key" in teacher_refusal(lambda: job.set_lr(0.001, None))
    assert "Learning rate" in str(job.set_lr(-1, "k"))
    assert "0.001" in str(job.set_lr(0.001, "k"))
    assert str(job.resume("k")) == "Resumed."
    assert job.wait(300)
    snap = job.state()
    assert snap.state == "finished" and snap.results["test_accuracy"] > 0.5
    ((epoch, old, new),) = snap.markers
    assert new == 0.001 and old != 0.001 and 0 < epoch < 2
    assert snap.to_dict()["markers"] == [{"epoch": epoch, "old_lr": old, "new_lr": 0.001}]


def test_stop_ends_a_paused_run_and_keeps_the_model(tmp_path, data_root):
    job = make_job(tmp_path, data_root)
    first_step = threading.Event()
    job.subscribe(lambda ev, model, config: first_step.set() if ev.kind == "step" and ev.step else None)
    job.start(TrainConfig(train_size=2000, epochs=3, val_size=300, eval_every_s=60, event_every_s=0))
    assert first_step.wait(180)
    job.pause()
    assert job._steering.halted.wait(60)
    assert str(job.stop()).startswith("Stopping")
    assert job.wait(120)
    snap = job.state()
    assert snap.state == "stopped" and snap.results["stopped"] and "test_accuracy" in snap.results
    assert snap.latest and job.zoo.get("latest").model_name == "cnn"
