"""Training as plain functions plus ``fit``, a generator of events a UI can stream and stop.

Data sets are in-memory uint8 tensors (see datasets.py), so a batch is an index into a tensor:
no DataLoader, no PIL, which is what makes live training fast on a CPU laptop.
"""
from __future__ import annotations

import contextlib
import math
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field, replace

import torch
import torch.nn.functional as F
from torch import nn

from ..config import TrainConfig
from ..i18n import Text
from . import datasets, optimizers
from .cache import LRU, tensor_fingerprint
from .nets.models import build_model, trunk_frozen


def pick_device() -> torch.device:
    """CUDA, then Apple's MPS, then the CPU."""
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def augment_batch(images: torch.Tensor, generator: torch.Generator, photo: bool) -> torch.Tensor:
    """Random small affine changes, batched on the tensor (float, normalised, (N, C, H, W)).

    Digits/clothing: up to 10 degrees of rotation, 10% zoom and 2 px of shift. Photos: a random
    crop of 65-100% of the image and a horizontal flip.
    """
    n = images.shape[0]

    def u(lo, hi):
        return torch.rand(n, generator=generator) * (hi - lo) + lo

    if photo:
        scale, angle = u(0.65, 1.0), torch.zeros(n)
        shift = (1 - scale).unsqueeze(1) * (torch.rand(n, 2, generator=generator) * 2 - 1)
        flip = torch.where(torch.rand(n, generator=generator) < 0.5, -1.0, 1.0)
    else:
        scale, angle = u(0.9, 1.1), u(-10, 10) * math.pi / 180
        shift = (torch.rand(n, 2, generator=generator) * 2 - 1) * (2 * 2 / images.shape[-1])
        flip = torch.ones(n)
    cos, sin = torch.cos(angle) * scale, torch.sin(angle) * scale
    theta = torch.stack([torch.stack([cos * flip, -sin, shift[:, 0]], 1),
                         torch.stack([sin * flip, cos, shift[:, 1]], 1)], 1).to(images)
    grid = F.affine_grid(theta, list(images.shape), align_corners=False)
    background = images.amin(dim=(2, 3), keepdim=True)         # pad with the image's darkest value
    return F.grid_sample(images - background, grid, align_corners=False, padding_mode="zeros") + background


def batches(data: datasets.TensorData, batch_size: int, device: torch.device,
            generator: torch.Generator | None = None) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """(normalised images, labels) batches; shuffled when a generator is given."""
    n = len(data)
    order = torch.randperm(n, generator=generator) if generator is not None else torch.arange(n)
    for i in range(0, n, batch_size):
        idx = order[i:i + batch_size]
        x = data.images[idx].to(device)
        if x.dtype == torch.uint8:                    # images; cached features are used as they are
            x = datasets.normalize(x, data.spec)
        else:
            x = x.float()
        yield x, data.labels[idx].to(device)


# A frozen trunk's output for a data set: flowers5's training photos take minutes to read on a CPU,
# so a few are kept (keyed by the photos' content, not id(): a freed tensor's id can come back).
_features: LRU[datasets.TensorData] = LRU(4)


def extract_features(model: nn.Module, data: datasets.TensorData, device: torch.device,
                     flip: bool = False, batch_size: int = 64) -> Iterator[tuple[int, datasets.TensorData | None]]:
    """Backbone features of every image (and of its mirror image when ``flip``), cached per process.

    A frozen backbone gives the same features every epoch, so computing them once turns minutes
    per epoch into seconds. Yields (images done, None) as it goes and finally (n, features).
    """
    key = (data.spec.name, tensor_fingerprint(data.images), flip, type(model).__name__,
           getattr(model, "finetune", None))          # "head" and "top" cache different trunk outputs
    cached = _features.get(key)
    if cached is not None:
        yield len(cached), cached
        return
    model.eval()
    net = model.to(memory_format=torch.channels_last)
    chunks, done = [], 0
    views = (False, True) if flip else (False,)
    with torch.inference_mode():
        for mirrored in views:
            for x, _ in batches(data, batch_size, device):
                if mirrored:
                    x = x.flip(-1)
                chunks.append(net.trunk(x.contiguous(memory_format=torch.channels_last)).half().cpu())
                done += len(x)
                yield done, None
    labels = data.labels.repeat(len(views))
    features = datasets.TensorData(torch.cat(chunks), labels, data.spec)
    _features.put(key, features)
    yield len(features), features


@contextlib.contextmanager
def eval_mode(model: nn.Module):
    """Eval mode for a moment, then every module back to its own mode (a frozen backbone stays in
    eval mode while its head trains, so restoring one flag for the whole model would be wrong)."""
    modes = [(m, m.training) for m in model.modules()]
    model.eval()
    try:
        yield model
    finally:
        for m, mode in modes:
            m.training = mode


@torch.no_grad()
def evaluate(model: nn.Module, data: datasets.TensorData, device: torch.device | None = None,
             batch_size: int = 500) -> dict:
    """Mean loss, accuracy, and the predictions and top probabilities for every image."""
    device = device or next(model.parameters()).device
    total_loss, preds, confs = 0.0, [], []
    with eval_mode(model):
        for x, y in batches(data, batch_size, device):
            logits = model(x)
            total_loss += F.cross_entropy(logits, y, reduction="sum").item()
            c, k = logits.softmax(1).max(1)
            preds.append(k.cpu())
            confs.append(c.cpu())
    preds = torch.cat(preds)
    return {"loss": total_loss / len(data), "accuracy": (preds == data.labels).float().mean().item(),
            "predictions": preds, "confidences": torch.cat(confs)}


@dataclass
class TrainEvent:
    """One moment of a run, as a UI shows it."""
    kind: str                        # "start" | "step" | "eval" | "done"
    step: int = 0
    total_steps: int = 0
    epoch: float = 0.0               # fractional epochs done
    elapsed_s: float = 0.0
    eta_s: float | None = None
    images_per_s: float = 0.0
    train_loss: float | None = None  # running mean over the last few steps (the first learner's)
    losses: dict = field(default_factory=dict)   # learner name -> running mean (the race has four)
    val_loss: float | None = None
    val_acc: float | None = None
    stopped: bool = False            # the run ended early (stop flag or time budget)
    message: str | Text = ""      # a Text where a viewer's page shows it (str() is English)
    model: nn.Module | None = field(default=None, repr=False)   # set on "done"
    metrics: dict = field(default_factory=dict)                 # set on "done": test metrics


@dataclass
class Learner:
    """One model with its optimizer. ``loop`` steps every learner on the same batches, so the
    optimizer race is four learners in one loop."""
    model: nn.Module
    optimizer: torch.optim.Optimizer
    scheduler: object = None                 # an lr scheduler stepped after every step, or None
    name: str = "model"

    def step(self, x: torch.Tensor, y: torch.Tensor) -> float:
        return self.update(F.cross_entropy(self.model(x), y))

    def update(self, loss: torch.Tensor) -> float:
        """One optimizer step on ``loss`` (and the schedule's); subclasses that compute their own
        loss end their ``step`` here."""
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        self.optimizer.step()
        if self.scheduler is not None:
            self.scheduler.step()
        return loss.item()


@dataclass
class Hooks:
    """What differs between the runs that share ``loop``."""
    # the data of each epoch (the board fine-tune mixes fresh MNIST digits into every pass)
    epoch_data: Callable[[int], datasets.TensorData] | None = None
    # called after the models are put in training mode (the fine-tune keeps batch norm frozen)
    train_mode: Callable[[nn.Module], None] | None = None
    # called before every batch with (learners, step, epochs done); may wait (a paused run) and
    # returns the seconds it waited, which the clocks leave out (see steer.Steering)
    between_batches: Callable[[Sequence[Learner], int, float], float] | None = None


def seed_everything(seed: int) -> torch.Generator:
    """Seeds the global generator (initial weights, dropout) and returns one for data order and
    augmentation."""
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


def loop(learners: Sequence[Learner], train: datasets.TensorData, *, epochs: int, batch_size: int,
         generator: torch.Generator, device: torch.device, stop: threading.Event | None = None,
         val: datasets.TensorData | None = None, augment: bool = False, max_steps: int = 0,
         time_budget_s: float = 0.0, eval_every_s: float = 3.0, event_every_s: float = 0.25,
         smooth: int = 20, started: float | None = None, hooks: Hooks | None = None) -> Iterator[TrainEvent]:
    """THE training loop: the live run, the optimizer race and the class-board fine-tune all run
    here. Every learner steps on the same (augmented) batch. Yields "step" events (at most every
    ``event_every_s``; 0 = every step), "eval" events (validation of the first learner every
    ``eval_every_s`` and at each epoch's end, when ``val`` is given) and one final "done" event
    (no test metrics: the caller measures what it needs). Ends early on ``stop``, ``max_steps``
    or ``time_budget_s`` (counted from ``started``, default now)."""
    hooks = hooks or Hooks()
    stop = stop or threading.Event()
    data_of = hooks.epoch_data or (lambda epoch: train)
    photo = train.spec.kind == "photo"
    first = learners[0]
    epoch_data = data_of(0)                            # every epoch has as many images as the first
    steps_per_epoch = max(1, math.ceil(len(epoch_data) / batch_size))
    total = steps_per_epoch * epochs
    if max_steps:
        total = min(total, max_steps)
    start = started if started is not None else time.perf_counter()
    train_start = last_event = last_eval = time.perf_counter()
    step = seen = 0
    recent: dict[str, list[float]] = {ln.name: [] for ln in learners}
    val_loss = val_acc = None
    ended_early = False

    def progress(kind: str, **extra) -> TrainEvent:
        training_time = time.perf_counter() - train_start
        eta = (total - step) * (training_time / step) if step else None
        means = {name: sum(r) / len(r) for name, r in recent.items() if r}
        return TrainEvent(kind, step=step, total_steps=total, epoch=step / steps_per_epoch,
                          elapsed_s=time.perf_counter() - start, eta_s=eta,
                          images_per_s=seen * len(learners) / max(training_time, 1e-9),
                          train_loss=means.get(first.name), losses=means, val_loss=val_loss,
                          val_acc=val_acc, **extra)

    def validate() -> TrainEvent:
        nonlocal val_loss, val_acc, last_eval
        r = evaluate(first.model, val, device)
        val_loss, val_acc, last_eval = r["loss"], r["accuracy"], time.perf_counter()
        return progress("eval")

    for epoch in range(epochs):
        for ln in learners:
            ln.model.train()
            if hooks.train_mode is not None:
                hooks.train_mode(ln.model)
        if epoch:
            epoch_data = data_of(epoch)
        for x, y in batches(epoch_data, batch_size, device, generator):
            if stop.is_set():
                break
            if hooks.between_batches is not None:
                waited = hooks.between_batches(learners, step, step / steps_per_epoch)
                if waited:                              # a pause is not training time
                    start, train_start = start + waited, train_start + waited
                    last_eval, last_event = last_eval + waited, last_event + waited
                if stop.is_set():
                    break
            if augment:
                x = augment_batch(x, generator, photo)
            if x.dim() == 4:
                x = x.contiguous(memory_format=torch.channels_last)
            for ln in learners:
                recent[ln.name] = (recent[ln.name] + [ln.step(x, y)])[-smooth:]
            step, seen = step + 1, seen + len(y)
            budget_over = bool(time_budget_s) and time.perf_counter() - start >= time_budget_s
            if step >= total or budget_over:
                ended_early = budget_over or (max_steps and step < steps_per_epoch * epochs)
                break
            now = time.perf_counter()
            if val is not None and now - last_eval >= eval_every_s:
                yield validate()
                last_event = time.perf_counter()
            elif now - last_event >= event_every_s:
                yield progress("step")
                last_event = now
        if stop.is_set() or ended_early:
            break
        if val is not None:
            yield validate()                           # a validation point at every epoch's end
        if step >= total:
            break
    for ln in learners:
        ln.model.eval()
    yield progress("done", stopped=stop.is_set() or bool(ended_early), model=first.model)


def test_model(model: nn.Module, test: datasets.TensorData, n: int = 0) -> dict:
    """``evaluate`` on ``test`` (or its usual random ``n``-image subset); a model with a frozen
    trunk is scored on the trunk's features of the whole set, cached while it trained."""
    device = next(model.parameters()).device
    if not trunk_frozen(model):
        return evaluate(model, test.subset(n), device)
    *_, (_, features) = extract_features(model, test, device)     # the last item holds them
    return evaluate(model.learner(), features.subset(n), device)


def held_out(config: TrainConfig, root=None) -> datasets.TensorData | None:
    """The training images ``fit`` kept out of training (to fit the temperature), or None."""
    size = getattr(config, "calib_size", 0)
    if not size:
        return None
    try:
        full = datasets.load(config.dataset, "train", root)
    except (datasets.DataMissingError, KeyError):
        return None
    return datasets.holdout(full, calib_count(size, len(full)), config.seed)[1]


def calib_count(calib_size: int, n_train: int) -> int:
    """How many training images a run keeps out for its temperature: ``calib_size``, at most a tenth."""
    return min(int(calib_size), n_train // 10)


def set_dropout(model: nn.Module, p: float) -> nn.Module:
    """Every dropout layer of ``model`` drops a share ``p`` from now on (it has no weights)."""
    for m in model.modules():
        if isinstance(m, nn.Dropout):
            m.p = float(p)
    return model


def fit(config: TrainConfig, root=None, stop: threading.Event | None = None,
        device: torch.device | None = None, model: nn.Module | None = None,
        max_steps: int = 0, download: bool = False, final_eval: bool = True,
        hooks: Hooks | None = None) -> Iterator[TrainEvent]:
    """Train by ``config`` and yield events: "start", "step" (at most every event_every_s),
    "eval" (validation every eval_every_s and at each epoch end) and one final "done" (with the
    test accuracy when ``final_eval``).

    ``max_steps`` (>0) ends the run early: the CLI's --dry-run uses it.
    """
    device = device or pick_device()
    spec = datasets.get_spec(config.dataset)
    generator = seed_everything(config.seed)
    train = datasets.load(config.dataset, "train", root, download)
    if config.calib_size:                 # kept out of training: evaluate_and_save fits the temperature on it
        train, _ = datasets.holdout(train, calib_count(config.calib_size, len(train)), config.seed)
    train = train.subset(config.train_size)
    test = datasets.load(config.dataset, "test", root, download)
    val = test.subset(config.val_size)
    model = (model or build_model(config.model, spec, finetune=config.finetune,
                                 layers=config.layers)).to(device)
    if config.dropout is not None and config.layers is None:       # a student's stack keeps its own
        set_dropout(model, config.dropout)
    stop = stop or threading.Event()
    start = time.perf_counter()
    learner = model
    frozen = trunk_frozen(model)
    steps_per_epoch = math.ceil(len(train) * (2 if frozen and config.augment else 1) / config.batch_size)
    total = steps_per_epoch * config.epochs
    if max_steps:
        total = min(total, max_steps)
    yield TrainEvent("start", total_steps=total, message=f"training {config.model} on {spec.title}")
    if frozen:
        # Only the top learns: read every photo through the frozen trunk once, then train on that.
        learner = model.learner()
        todo = len(train) * (2 if config.augment else 1) + len(test)
        parts, base, last_event = [], 0, start
        for part, flip in ((train, config.augment), (test, False)):
            for n, features in extract_features(model, part, device, flip):
                if stop.is_set():
                    break
                if features is not None:
                    parts.append(features)
                elif time.perf_counter() - last_event >= config.event_every_s:
                    last_event = time.perf_counter()
                    yield TrainEvent("step", elapsed_s=last_event - start,
                                     message=Text("training.reading_photos", done=base + n, todo=todo))
            base += len(part) * (2 if flip else 1)
        if stop.is_set() or len(parts) < 2:
            yield TrainEvent("done", stopped=True, model=model.eval(), elapsed_s=time.perf_counter() - start,
                             message="stopped while reading photos; the model is unchanged")
            return
        train, test = parts
        val = test.subset(config.val_size)
    if device.type == "cpu" and any(isinstance(m, nn.Conv2d) for m in learner.modules()):
        learner.to(memory_format=torch.channels_last)   # oneDNN's convolutions: ~1.35x faster on a CPU
    optimizer = optimizers.make(config.optimizer, learner.parameters(), config.lr, config.weight_decay)
    scheduler = None
    # A warm-up needs a few steps (and OneCycleLR divides by zero at exactly 4): tiny runs use a constant lr.
    if config.schedule == "onecycle" and total >= 8:
        scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=config.lr, total_steps=max(total, 1),
                                                        pct_start=0.25)
    done = None
    for ev in loop([Learner(learner, optimizer, scheduler, config.model)], train, epochs=config.epochs,
                   batch_size=config.batch_size, generator=generator, device=device, stop=stop, val=val,
                   augment=config.augment and learner is model, max_steps=max_steps,
                   time_budget_s=config.time_budget_s, eval_every_s=config.eval_every_s,
                   event_every_s=config.event_every_s, started=start, hooks=hooks):
        if ev.kind != "done":
            yield ev
        else:
            done = ev
    metrics = {}
    if final_eval:
        r = evaluate(learner, test, device)
        metrics = {"test_accuracy": r["accuracy"], "test_loss": r["loss"], "steps": done.step,
                   "epochs": round(done.epoch, 3), "train_seconds": round(done.elapsed_s, 1)}
    model.eval()
    how = "stopped" if done.stopped else "finished"
    acc = f", test accuracy {metrics['test_accuracy']:.2%}" if metrics else ""
    yield replace(done, model=model, metrics=metrics,
                  message=f"{how} after {done.step} steps ({done.elapsed_s:.0f} s){acc}")
