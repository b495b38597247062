"""The training engine: it learns, it stops when asked, it repeats itself for a seed, and it keeps
a watching UI informed. Small subsets of the real data, so each test takes a few seconds."""
from __future__ import annotations

import math
import threading

import pytest
import torch

from cnnlab.config import OPTIMIZERS, LimitError, TrainConfig
from cnnlab.core import datasets, optimizers, training
from cnnlab.core.cache import LRU
from cnnlab.core.checks import check_train
from cnnlab.core.nets.models import build_model

QUIET = dict(eval_every_s=1e9, val_size=500)     # no mid-epoch validation unless a test wants it


pytestmark = pytest.mark.usefixtures("one_thread")


def run(config: TrainConfig, root, **kwargs) -> list[training.TrainEvent]:
    return list(training.fit(config, root=root, final_eval=False, **kwargs))


def test_overfits_one_batch(data_root):
    batch = datasets.load("mnist", "train", data_root).subset(32)
    gen = training.seed_everything(0)
    model = build_model("cnn", batch.spec)
    before = training.evaluate(model, batch)
    optimizer = optimizers.make("adam", model.parameters(), lr=3e-3)
    learner = training.Learner(model, optimizer)
    losses = [learner.step(*next(training.batches(batch, 32, torch.device("cpu"), gen))) for _ in range(25)]
    after = training.evaluate(model.eval(), batch)
    assert losses[-1] < losses[0] / 10
    assert after["loss"] < 0.1 < before["loss"]
    assert after["accuracy"] == 1.0


def test_stop_flag_ends_the_run_within_one_batch(data_root):
    stop = threading.Event()
    config = TrainConfig(train_size=6000, batch_size=64, epochs=3, event_every_s=0.0, **QUIET)
    steps_when_set, after = None, []
    for ev in training.fit(config, root=data_root, stop=stop, final_eval=False):
        if steps_when_set is not None:
            after.append(ev)
        elif ev.kind == "step" and ev.step >= 3:
            steps_when_set = ev.step
            stop.set()                                  # as the Stop button does, from another place
    done = after[-1]
    assert done.kind == "done" and done.stopped and "stopped" in done.message
    assert done.step <= steps_when_set + 1, f"trained {done.step - steps_when_set} batches after Stop"
    assert [e.kind for e in after] == ["done"]
    assert isinstance(done.model, torch.nn.Module) and not done.model.training


def test_a_stop_before_the_first_batch_changes_nothing(data_root):
    stop = threading.Event()
    stop.set()
    events = run(TrainConfig(train_size=1000, **QUIET), data_root, stop=stop)
    assert events[-1].kind == "done" and events[-1].stopped and events[-1].step == 0


def test_same_seed_same_run(data_root):
    config = TrainConfig(train_size=1280, epochs=1, augment=True, event_every_s=0.0, **QUIET)

    def losses_and_weights(cfg, **kw):
        events = run(cfg, data_root, **kw)
        losses = [(e.step, e.train_loss) for e in events if e.kind == "step"]
        return losses, events[-1].model.state_dict()

    (a, wa), (b, wb) = losses_and_weights(config), losses_and_weights(config)
    assert len(a) >= 9
    assert a == b, "the same seed must give the very same loss curve"
    assert all(torch.equal(wa[k], wb[k]) for k in wa)
    other, _ = losses_and_weights(TrainConfig(**{**config.to_dict(), "seed": 1}), max_steps=4)
    assert other[:3] != a[:3], "another seed gives another run"


@pytest.mark.parametrize("train_size", [128, 512, 1024])
def test_very_short_runs_finish(data_root, train_size):
    events = run(TrainConfig(train_size=train_size, batch_size=128, epochs=1, **QUIET), data_root)
    assert events[-1].kind == "done" and not events[-1].stopped
    assert events[-1].step == train_size // 128


class BatchClock:
    """A stand-in for ``time`` in the engine: the clock moves only when the model runs, by
    ``per_forward`` seconds a forward pass (a batch, or a validation chunk). The engine's pacing
    (events, validation points, the time budget) is then checked exactly, whatever else the
    machine is doing."""

    def __init__(self, model, per_forward: float):
        self.now, self.per_forward = 1000.0, per_forward
        model.register_forward_pre_hook(lambda m, args: self.tick())

    def tick(self) -> None:
        self.now += self.per_forward

    def perf_counter(self) -> float:
        return self.now


def clocked(monkeypatch, config: TrainConfig, data_root, per_forward: float):
    model = build_model(config.model, datasets.get_spec(config.dataset))
    clock = BatchClock(model, per_forward)
    monkeypatch.setattr(training, "time", clock)
    return clock, model


def test_time_budget_ends_the_run_at_the_first_batch_past_it(data_root, monkeypatch):
    config = TrainConfig(epochs=20, time_budget_s=1.5, event_every_s=0.0, **QUIET)   # minutes of work without it
    clock, model = clocked(monkeypatch, config, data_root, per_forward=0.125)
    events = run(config, data_root, model=model)
    done, steps = events[-1], [e for e in events if e.kind == "step"]
    steps_per_epoch = math.ceil((60_000 - config.calib_size) / config.batch_size)   # calib_size kept out
    assert done.kind == "done" and done.stopped and done.total_steps == 20 * steps_per_epoch
    assert done.step == 12                               # 12 x 0.125 s = 1.5 s: not one batch more
    assert all(e.elapsed_s < 1.5 for e in steps) and len(steps) == 11
    assert done.elapsed_s >= 1.5


def test_time_budget_on_the_real_clock(data_root):
    budget = 0.5
    events = run(TrainConfig(epochs=20, time_budget_s=budget, **QUIET), data_root)
    done = events[-1]
    assert done.kind == "done" and done.stopped
    assert 0 < done.step < done.total_steps and done.elapsed_s >= budget


def test_events_come_often_enough_for_a_live_ui(data_root, monkeypatch):
    """Between two events the engine does at most event_every_s of work plus one batch and one
    validation pass: with 0.04 s batches and a 1-chunk validation set, never more than 0.33 s
    without an event (counted on the engine's own clock, so a busy CPU changes nothing)."""
    config = TrainConfig(model="mlp", train_size=6000, epochs=2, eval_every_s=0.5, val_size=500)
    clock, model = clocked(monkeypatch, config, data_root, per_forward=0.04)
    stamps, kinds = [], []
    for ev in training.fit(config, root=data_root, model=model, final_eval=False):
        stamps.append(clock.now)
        kinds.append(ev.kind)
    gaps = [b - a for a, b in zip(stamps, stamps[1:])]
    assert kinds[0] == "start" and kinds[-1] == "done"
    assert kinds.count("eval") >= 4, "a validation point at the end of every epoch, and between"
    assert max(gaps) <= config.event_every_s + 2 * 0.04 + 1e-9, f"{max(gaps):.2f} s without an event"
    assert kinds.count("step") >= 3


@pytest.mark.parametrize("optimizer, lr", [("sgd", 0.05), ("momentum", 0.01), ("rmsprop", 1e-3), ("adam", 1e-3)])
@pytest.mark.slow
def test_every_optimizer_learns(data_root, optimizer, lr):
    assert optimizer in OPTIMIZERS
    subset = datasets.load("mnist", "train", data_root).subset(640)
    training.seed_everything(0)
    model = build_model("cnn", subset.spec)
    before = training.evaluate(model, subset)["loss"]
    config = TrainConfig(optimizer=optimizer, lr=lr, train_size=640, batch_size=32, epochs=2,
                         schedule="constant", **QUIET)
    run(config, data_root, model=model)
    after = training.evaluate(model, subset)["loss"]
    assert after < 0.6 * before, f"{optimizer}: loss {before:.3f} -> {after:.3f}"


def test_unknown_optimizer_is_named():
    with pytest.raises(KeyError, match="adamw.*sgd, momentum, rmsprop, adam"):
        optimizers.make("adamw", [torch.nn.Parameter(torch.zeros(1))], 0.1)


@pytest.mark.parametrize("channels, size, photo", [(1, 28, False), (3, 64, True)])
def test_augment_batch_keeps_shape_and_range(channels, size, photo):
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(8, channels, size, size, generator=gen) * 3 - 1       # normalised values in [-1, 2]
    x[:, :, :2] = -1                                                     # a dark border, as digits have
    out = training.augment_batch(x, torch.Generator().manual_seed(1), photo)
    assert out.shape == x.shape and out.dtype == x.dtype
    assert out.min() >= x.min() - 1e-5 and out.max() <= x.max() + 1e-5
    assert not torch.allclose(out, x), "augmentation should change the images"
    again = training.augment_batch(x, torch.Generator().manual_seed(1), photo)
    assert torch.equal(out, again), "same generator, same augmentation"


def test_augmented_digit_keeps_its_ink(data_root):
    digits = datasets.load("mnist", "test", data_root).subset(16)
    x = datasets.normalize(digits.images, digits.spec)
    out = training.augment_batch(x, torch.Generator().manual_seed(0), photo=False)
    background = x.amin()
    ink_before = (x - background).sum((1, 2, 3))
    ink_after = (out - background).sum((1, 2, 3))
    assert torch.allclose(ink_after, ink_before, rtol=0.3), "small shifts/zooms must not lose the digit"


@pytest.fixture()
def tiny_photos(monkeypatch):
    """16 random 224x224 'photos' in 5 classes instead of flowers5, so the transfer run takes seconds."""
    spec = datasets.get_spec("flowers5")
    gen = torch.Generator().manual_seed(0)
    labels = torch.arange(16) % 5
    colours = torch.tensor([[220, 40, 40], [40, 220, 40], [40, 40, 220], [220, 220, 40], [40, 220, 220]])
    noise = torch.randint(-40, 40, (16, 3, 224, 224), generator=gen)
    images = (colours[labels].view(16, 3, 1, 1) + noise).clamp(0, 255).to(torch.uint8)   # a tint per class
    fake = datasets.TensorData(images, labels, spec)
    monkeypatch.setattr(datasets, "load", lambda name, split="train", *a, **k: fake)
    monkeypatch.setattr(training, "_features", LRU(4))              # no features of other tests' data
    return fake


def transfer_run(model, finetune="head", augment=False, epochs=15):
    config = TrainConfig(dataset="flowers5", model="transfer", finetune=finetune, batch_size=8, epochs=epochs,
                         augment=augment, lr=1e-2 if finetune == "head" else 3e-3, val_size=16,
                         event_every_s=0.0, eval_every_s=1e9)
    return list(training.fit(config, model=model, final_eval=True))


def top_part(key: str, model) -> bool:
    """The last MBConv block and the 1x1 head convolution with its batch norm: what "top" trains."""
    last = len(model.backbone._blocks) - 1
    return key.startswith((f"_blocks.{last}.", "_conv_head.", "_bn1."))


@pytest.mark.parametrize("finetune, augment", [("head", False), ("head", True), ("top", False)])
@pytest.mark.slow
def test_frozen_transfer_model_trains_only_its_top(tiny_photos, finetune, augment):
    training.seed_everything(0)
    model = build_model("transfer", tiny_photos.spec, finetune=finetune)
    backbone = {k: v.clone() for k, v in model.backbone.state_dict().items()}
    head = {k: v.clone() for k, v in model.head.state_dict().items()}
    events = transfer_run(model, finetune, augment)
    done = events[-1]
    reading = [e for e in events if str(e.message).startswith("reading photos")]
    assert reading, "the class sees progress while the photos go through the backbone"
    assert done.kind == "done" and not done.stopped
    assert done.step == (4 if augment else 2) * 15
    changed = {k for k, v in model.backbone.state_dict().items() if not torch.equal(v, backbone[k])}
    if finetune == "head":
        assert not changed, "the ImageNet backbone stays as it was"
    else:
        assert changed and all(top_part(k, model) for k in changed), sorted(changed)[:5]
    assert any(not torch.equal(v, head[k]) for k, v in model.head.state_dict().items())
    losses = [e.train_loss for e in events if e.train_loss is not None]
    assert losses[-1] < losses[0] / 3, "16 tinted photos are easy to learn"
    if finetune == "head":       # (a learning top block's batch norm needs more than 30 batches of 8 to settle)
        assert done.metrics["test_accuracy"] > 0.9


@pytest.mark.slow
def test_one_process_can_train_each_transfer_mode_in_turn(tiny_photos):
    """The app trains head-only, then the top block, on the same photos: no stale cached features."""
    for finetune in ("head", "top", "head"):
        training.seed_everything(0)
        done = transfer_run(build_model("transfer", tiny_photos.spec, finetune=finetune), finetune, epochs=1)[-1]
        assert done.kind == "done" and not done.stopped


@pytest.mark.slow
def test_stop_while_reading_photos(tiny_photos):
    stop = threading.Event()
    config = TrainConfig(dataset="flowers5", model="transfer", event_every_s=0.0)
    events = []
    for ev in training.fit(config, stop=stop):
        events.append(ev)
        if str(ev.message).startswith("reading photos"):
            stop.set()
    assert events[-1].kind == "done" and events[-1].stopped and events[-1].step == 0


@pytest.mark.parametrize("dropout, p", [(0.0, 0.0), (0.5, 0.5), (None, 0.25)])
def test_the_runs_dropout_reaches_every_dropout_layer(data_root, dropout, p):
    model = build_model("cnn", datasets.get_spec("mnist"))
    run(TrainConfig(train_size=256, dropout=dropout, **QUIET), data_root, model=model, max_steps=1)
    assert [m.p for m in model.modules() if isinstance(m, torch.nn.Dropout)] == [p]


def test_a_dropout_out_of_range_is_refused_with_a_sentence():
    with pytest.raises(LimitError, match="Dropout probability"):
        check_train(TrainConfig(dropout=1.5))
