"""Longer recipes for the shipped checkpoints, driven by THE training loop (``training.loop``).

The Train tab's runs last minutes; a shipped checkpoint may train for an hour in the background.
What differs is only the data each epoch sees and what a learner does to a batch, so both recipes
here plug into ``training.loop`` (a ``Learner`` subclass, ``Hooks``) and end with
``finish.evaluate_and_save`` like every other run.

- ``flowers``: EfficientNet-Lite0 fine-tuned end to end (``finetune="all"``) on random resized
  crops taken from the 224-px photos at a smaller training size (cheaper on a CPU, and the
  objects come out about as large as the 224-px test view shows them: "FixRes"), flips, colour
  jitter, label smoothing, AdamW with a one-cycle schedule; then, at the test size (FixRes's
  second stage), three copies trained on with different seeds and their weights averaged.
- ``digits``: the MNIST CNN trained on MNIST redrawn the ways students draw (see cnnlab.core.handaug).

``digits`` keeps a seeded part of the training split out of training (``datasets.holdout``): the
temperature that makes the confidence honest is fitted there at the end of the run. ``flowers``
learns from every training photo: its 360 held-out photos could not tell any two variants apart
(1-3 photos), so they serve better as training data. Its temperature is fitted on one seeded half
of the test split and reported on the other (``calibration.splits_for``); its novelty check reads
the stock backbone, so its limit is set on a tenth of the training photos kept out of that fit
(``finish.fit_checkpoint``).
"""
from __future__ import annotations

import math
import sys
import time
from copy import deepcopy
from dataclasses import dataclass, replace

import torch
import torch.nn.functional as F
from torch import nn

from ..config import TrainConfig
from . import calibration, checkpoints, datasets, finish, handaug, hands, optimizers, training
from .nets.models import build_model


@dataclass
class FlowersRecipe:
    epochs: int = 6               # stage 1, at ``train_px``: held-out accuracy levels off after 3-5
    batch_size: int = 32          # BN statistics stay sane; ~0.3 GB of activations at 160 px
    train_px: int = 160           # random crops are resized to this; the test view stays 224 px
    min_crop: float = 0.30        # random resized crop: 30-100% of the photo's area
    lr: float = 6e-4              # AdamW peak (one-cycle); the new head learns 10x faster
    head_lr_mult: float = 10.0
    weight_decay: float = 0.02
    label_smoothing: float = 0.1
    jitter: float = 0.3           # brightness / contrast / saturation: +-30%
    holdout: int = 0              # photos kept out (360 before): 0 = learn from all 3,635
    seed: int = 0                 # data order, augmentation and the new head's first weights
    holdout_seed: int = 0         # which photos are kept out: the same for every stage and seed
    pct_start: float = 0.15       # one-cycle warm-up share
    # Stage 2 (FixRes): stage 1's network trained on at the test size, once per seed, and the
    # copies' weights averaged ("model soup": one network, so a photo costs what it did).
    refine_seeds: int = 3         # 0: stage 1 alone
    refine_epochs: int = 2
    refine_px: int = 224
    refine_min_crop: float = 0.40
    refine_lr: float = 1.5e-4
    refine_pct_start: float = 0.1
    init: str = ""                # a stage-1 checkpoint: skip stage 1 and refine it


class FlowerLearner(training.Learner):
    """One step on a batch of 224-px photos: random resized crop to ``train_px``, flip, colour
    jitter, then cross-entropy with label smoothing."""

    def __init__(self, model, optimizer, scheduler, recipe: FlowersRecipe, generator: torch.Generator):
        super().__init__(model, optimizer, scheduler, "flowers")
        self.recipe, self.generator = recipe, generator

    def augment(self, x: torch.Tensor) -> torch.Tensor:
        r, g, n = self.recipe, self.generator, x.shape[0]

        def u(lo, hi, *shape):
            return torch.rand(n, *shape, generator=g) * (hi - lo) + lo

        area = u(r.min_crop, 1.0)
        aspect = torch.exp(u(math.log(3 / 4), math.log(4 / 3)))
        sx = torch.sqrt(area * aspect).clamp(max=1.0)              # crop width / photo width
        sy = torch.sqrt(area / aspect).clamp(max=1.0)
        cx, cy = (1 - sx) * u(-1, 1), (1 - sy) * u(-1, 1)
        flip = torch.where(torch.rand(n, generator=g) < 0.5, -1.0, 1.0)
        zero = torch.zeros(n)
        theta = torch.stack([torch.stack([sx * flip, zero, cx], 1), torch.stack([zero, sy, cy], 1)], 1)
        grid = F.affine_grid(theta.to(x), [n, 3, r.train_px, r.train_px], align_corners=False)
        x = F.grid_sample(x, grid, mode="bilinear", padding_mode="reflection", align_corners=False)
        # colour jitter in [0, 1] space (the photos are scaled to [-1, 1])
        img = x * 0.5 + 0.5
        b, c, s = (u(1 - r.jitter, 1 + r.jitter, 1, 1, 1).to(x) for _ in range(3))
        img = img * b
        mean = img.mean(dim=(1, 2, 3), keepdim=True)
        img = (img - mean) * c + mean
        grey = img.mean(dim=1, keepdim=True)
        img = ((img - grey) * s + grey).clamp(0, 1)
        return (img - 0.5) / 0.5

    def step(self, x: torch.Tensor, y: torch.Tensor) -> float:
        x = self.augment(x).contiguous(memory_format=torch.channels_last)
        loss = F.cross_entropy(self.model(x), y, label_smoothing=self.recipe.label_smoothing)
        return self.update(loss)


@torch.no_grad()
def accuracy(model: nn.Module, data: datasets.TensorData, batch_size: int = 32, flip: bool = False) -> float:
    logits = calibration.collect_logits(model, data, batch_size=batch_size, flip=flip)
    return (logits.argmax(1) == data.labels).float().mean().item()


def fine_tune(model: nn.Module, recipe: FlowersRecipe, train: datasets.TensorData,
              held: datasets.TensorData | None, log=print, stage: str = "") -> list[float]:
    """``recipe.epochs`` of the whole network on ``train`` (AdamW, one-cycle, the head 10x faster);
    returns the held-out accuracy after each epoch (none when nothing was held out)."""
    generator = training.seed_everything(recipe.seed)
    model.train().to(memory_format=torch.channels_last)
    head = [p for n, p in model.named_parameters() if n.startswith("head.")]
    body = [p for n, p in model.named_parameters() if not n.startswith("head.")]
    optimizer = torch.optim.AdamW([{"params": body, "lr": recipe.lr},
                                   {"params": head, "lr": recipe.lr * recipe.head_lr_mult}],
                                  weight_decay=recipe.weight_decay)
    steps = math.ceil(len(train) / recipe.batch_size) * recipe.epochs
    scheduler = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=[recipe.lr, recipe.lr * recipe.head_lr_mult], total_steps=steps, pct_start=recipe.pct_start)
    learner = FlowerLearner(model, optimizer, scheduler, recipe, generator)
    start, history = time.perf_counter(), []
    for epoch in range(recipe.epochs):
        for ev in training.loop([learner], train, epochs=1, batch_size=recipe.batch_size,
                                generator=generator, device=torch.device("cpu"), augment=False,
                                event_every_s=60):
            log(f"{stage}epoch {epoch + ev.epoch:.2f} loss {ev.train_loss or 0:.4f} "
                f"{time.perf_counter() - start:.0f} s")
        if held is None:
            log(f"{stage}epoch {epoch + 1} ({time.perf_counter() - start:.0f} s)")
            continue
        history.append(round(accuracy(model, held), 4))
        log(f"{stage}epoch {epoch + 1}: held-out accuracy {history[-1]:.2%} ({time.perf_counter() - start:.0f} s)")
    return history


def average_weights(models: list[nn.Module]) -> nn.Module:
    """The first model, holding the mean of every model's weights and batch-norm statistics (the
    copies share stage 1's starting point, so their average is a network of the same basin)."""
    states = [m.state_dict() for m in models]
    mean = {k: torch.stack([s[k].float() for s in states]).mean(0).to(v.dtype) if v.is_floating_point() else v
            for k, v in states[0].items()}
    models[0].load_state_dict(mean)
    return models[0]


def train_flowers(recipe: FlowersRecipe, out: str, root=None, log=print) -> dict:
    """The flowers5 fine-tune: stage 1 at ``train_px``, then (``refine_seeds``) stage 2 at the test
    size once per seed and the copies averaged. Saves ``out`` (the recipe as configured, never
    picked on the test split) with its temperature, and returns its metrics."""
    spec = datasets.get_spec("flowers5")
    full = datasets.load("flowers5", "train", root)
    train, held = datasets.holdout(full, recipe.holdout, recipe.holdout_seed) if recipe.holdout else (full, None)
    start, history = time.perf_counter(), {}
    if recipe.init:
        model = checkpoints.load(recipe.init).model
    else:
        training.seed_everything(recipe.seed)
        model = build_model("transfer", spec, finetune="all")
        history["stage 1"] = fine_tune(model, recipe, train, held, log)
    if recipe.refine_seeds:
        second = replace(recipe, epochs=recipe.refine_epochs, train_px=recipe.refine_px, lr=recipe.refine_lr,
                         min_crop=recipe.refine_min_crop, pct_start=recipe.refine_pct_start)
        copies = []
        for seed in range(recipe.refine_seeds):
            copy = deepcopy(model)
            history[f"stage 2, seed {seed}"] = fine_tune(copy, replace(second, seed=seed), train, held, log,
                                                         f"stage 2, seed {seed}: ")
            copies.append(copy)
        model = average_weights(copies)
        if held is not None:
            history["average"] = [round(accuracy(model, held), 4)]
            log(f"the {len(copies)} copies averaged: held-out accuracy {history['average'][0]:.2%}")
    config = TrainConfig(dataset="flowers5", model="transfer", optimizer="adam", lr=recipe.lr,
                         batch_size=recipe.batch_size, epochs=recipe.epochs, augment=True,
                         weight_decay=recipe.weight_decay, finetune="all", seed=recipe.holdout_seed,
                         calib_size=recipe.holdout, dropout=None)   # calibrate/novelty read calib_size
    extra = {"recipe": "flowers", "recipe_settings": vars(recipe) | {}, "holdout_accuracy": history,
             "train_seconds": round(time.perf_counter() - start, 1), "epochs": recipe.epochs}
    test = datasets.load("flowers5", "test", root)
    path, metrics, _ = finish.evaluate_and_save(out, model.eval(), config, test, extra=extra,
                                                calibration_data=held)
    log(f"saved {path}: test accuracy {metrics['test_accuracy']:.2%} on one view")
    # Then as the Photo tab answers: the mirror image averaged in, the temperature fitted for that
    # (on the kept-out photos, or on half the test split), scored again, and the novelty check.
    calibrated = finish.calibrate_checkpoint(path, root, mirror=True)
    metrics = {**metrics, **finish.rescore(path, root), "calibration": calibrated,
               "novelty": finish.fit_checkpoint(path, root)}
    log(f"with the mirror image: test accuracy {metrics['test_accuracy']:.2%}, temperature "
        f"{calibrated['temperature']:.3f}, {metrics['novelty']['unfamiliar_share']:.1%} of test photos unfamiliar")
    return metrics


@dataclass
class DigitsRecipe:
    model: str = "cnn"            # the shipped Draw-tab model
    epochs: int = 12              # the shipped CNN's 12 epochs (README)
    batch_size: int = 128
    lr: float = 3e-3              # Adam(W), one-cycle, as the Train tab's default run
    weight_decay: float = 1e-4
    strength: float = 1.0         # how hard handaug.augment redraws the digits (0 = MNIST as it is)
    augment_share: float = 0.5    # this share of each batch is redrawn; the rest stays as MNIST drew it
    outliers: int = 8000          # non-digit drawings (handaug.outlier_pool); 0 = no outlier exposure
    outlier_kinds: str = "walk,clutter,tangle,pair"   # which (handaug.KINDS)
    outlier_batch: int = 32       # of them in every batch ...
    outlier_weight: float = 0.5   # ... pulled toward "every digit equally likely" with this weight
    hands: int = 400              # drawings per digit in many hands (cnnlab.core.hands: flagged 1s,
                                  # crossed 7s, closed 4s, small-loop 9s, thick pens), never the test set's
    hands_batch: int = 32         # of them in every batch, beside the MNIST digits
    calib_size: int = 1000        # training digits kept out: the temperature is fitted on them
    init: str = ""                # start from this checkpoint (a fine-tune): it saw every training
                                  # digit, so the temperature is fitted on half the test split instead
    seed: int = 0


class DigitLearner(training.Learner):
    """One step: the MNIST batch redrawn (handaug.augment) plus a few non-digits, cross-entropy on
    the digits and, on the non-digits, cross-entropy to the uniform distribution."""

    def __init__(self, model, optimizer, scheduler, recipe: DigitsRecipe, generator: torch.Generator,
                 outliers: torch.Tensor | None, hands: tuple[torch.Tensor, torch.Tensor] | None = None):
        super().__init__(model, optimizer, scheduler, "digits")
        self.recipe, self.generator, self.outliers, self.hands = recipe, generator, outliers, hands
        spec = datasets.get_spec("mnist")
        self.mean, self.std = spec.mean[0], spec.std[0]

    def step(self, x: torch.Tensor, y: torch.Tensor) -> float:
        r, g = self.recipe, self.generator
        ink = (x * self.std + self.mean).clamp(0, 1)
        k = int(round(len(ink) * r.augment_share)) if r.strength > 0 else 0
        parts = [torch.cat([handaug.augment(ink[:k], g, r.strength), ink[k:]]) if k else ink]
        if self.hands is not None and r.hands_batch:        # drawings in other hands, as digits
            pick = torch.randint(len(self.hands[1]), (r.hands_batch,), generator=g)
            drawn = self.hands[0][pick].float() / 255
            parts[0] = torch.cat([parts[0], handaug.augment(drawn, g, 0.5 * r.strength) if r.strength > 0 else drawn])
            y = torch.cat([y, self.hands[1][pick]])
        if self.outliers is not None and r.outlier_batch:
            pick = torch.randint(len(self.outliers), (r.outlier_batch,), generator=g)
            odd = self.outliers[pick].float() / 255
            parts.append(handaug.augment(odd, g, 0.5 * r.strength) if r.strength > 0 else odd)
        batch = (torch.cat(parts) - self.mean) / self.std
        logits = self.model(batch.contiguous(memory_format=torch.channels_last))
        loss = F.cross_entropy(logits[:len(y)], y)
        if len(parts) > 1:
            loss = loss - r.outlier_weight * F.log_softmax(logits[len(y):], 1).mean()
        return self.update(loss)


def train_digits(recipe: DigitsRecipe, out: str, root=None, log=print) -> dict:
    """The Draw tab's CNN trained on MNIST redrawn the ways students draw, made unsure about
    drawings that are no digit; saves ``out`` with its temperature and returns its metrics."""
    spec = datasets.get_spec("mnist")
    generator = training.seed_everything(recipe.seed)
    config = TrainConfig(dataset="mnist", model=recipe.model, optimizer="adam", lr=recipe.lr,
                         batch_size=recipe.batch_size, epochs=recipe.epochs, augment=True,
                         weight_decay=recipe.weight_decay, calib_size=recipe.calib_size, seed=recipe.seed,
                         dropout=None)
    full = datasets.load("mnist", "train", root)
    train = full
    if not recipe.init:
        train, _ = datasets.holdout(full, training.calib_count(recipe.calib_size, len(full)), recipe.seed)
    test = datasets.load("mnist", "test", root)
    outliers = None
    if recipe.outliers:
        t0 = time.perf_counter()
        outliers = handaug.outlier_pool(recipe.outliers, seed=7 + recipe.seed, mnist=train.images,
                                        kinds=tuple(recipe.outlier_kinds.split(",")))
        log(f"{len(outliers)} non-digit drawings made in {time.perf_counter() - t0:.0f} s")
    pool = None
    if recipe.hands:
        t0 = time.perf_counter()
        pool = hands.training_pool(recipe.hands, recipe.seed)
        log(f"{len(pool[1])} drawings in many hands made in {time.perf_counter() - t0:.0f} s")
    model = build_model(recipe.model, spec)
    if recipe.init:
        model = checkpoints.load(recipe.init).model
        config.calib_size = 0
    model = model.to(memory_format=torch.channels_last)
    optimizer = optimizers.make("adam", model.parameters(), recipe.lr, recipe.weight_decay)
    steps = math.ceil(len(train) / recipe.batch_size) * recipe.epochs
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=recipe.lr, total_steps=steps, pct_start=0.25)
    learner = DigitLearner(model, optimizer, scheduler, recipe, generator, outliers, pool)
    start = time.perf_counter()
    for ev in training.loop([learner], train, epochs=recipe.epochs, batch_size=recipe.batch_size,
                            generator=generator, device=torch.device("cpu"), val=test.subset(2000),
                            augment=False, eval_every_s=1e9, event_every_s=60):
        if ev.kind == "eval":
            log(f"epoch {ev.epoch:.2f}: loss {ev.train_loss:.4f}, validation accuracy {ev.val_acc:.2%} "
                f"({time.perf_counter() - start:.0f} s)")
    extra = {"recipe": "digits", "recipe_settings": vars(recipe) | {},
             "train_seconds": round(time.perf_counter() - start, 1), "epochs": recipe.epochs,
             **({"init": recipe.init} if recipe.init else {})}
    path, metrics, _ = finish.evaluate_and_save(out, model, config, test, extra=extra, root=root)
    if recipe.init:                                   # fitted on one half of the test split, reported on the other
        metrics = {**metrics, "calibration": finish.calibrate_checkpoint(path, root)}
    log(f"saved {path}: test accuracy {metrics['test_accuracy']:.2%}, temperature "
        f"{metrics['calibration']['temperature']:.3f}")
    return metrics


RECIPES = {"flowers": (FlowersRecipe, train_flowers), "digits": (DigitsRecipe, train_digits)}


def main(argv=None) -> int:
    import argparse
    import dataclasses
    parser = argparse.ArgumentParser(description="train a shipped checkpoint with a longer recipe")
    parser.add_argument("recipe", choices=list(RECIPES))
    parser.add_argument("--out", required=True)
    parser.add_argument("--data-dir", default=None)
    parser.add_argument("--threads", type=int, default=0,
                        help="torch threads (default: torch's own); 1 is faster on a busy 2-core machine")
    args, rest = parser.parse_known_args(argv)
    cls, fn = RECIPES[args.recipe]
    if args.threads:
        torch.set_num_threads(args.threads)
    sub = argparse.ArgumentParser()
    for f in dataclasses.fields(cls):
        sub.add_argument("--" + f.name.replace("_", "-"), type=type(f.default), default=f.default)
    recipe = replace(cls(), **vars(sub.parse_args(rest)))
    fn(recipe, args.out, args.data_dir, log=lambda s: print(s, flush=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
