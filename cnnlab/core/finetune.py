"""The correction loop: fine-tune a copy of a digits model on the class's own drawings.

The class draws, the network gets some of their digits wrong, the teacher fine-tunes for a few
seconds and the class sees accuracy on their drawings before and after, next to accuracy on the
MNIST test set before and after. The drawings the model trains on are the ones it is scored on,
so the first number nearly always rises; whether the second falls is the lesson on overfitting.
Mixing some MNIST training digits into each pass (``mnist_mix``) is the usual remedy to try next.

The model in the zoo is shared and read-only: fine-tuning works on a deep copy, and ``publish``
saves the result as a normal checkpoint and makes it the zoo's "latest" model.
"""
from __future__ import annotations

import copy
import dataclasses
import threading
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..config import check_finetune
from ..i18n import DEFAULT, Text, tr
from . import checkpoints, datasets, optimizers, training
from .checkpoints import Loaded

MIN_DRAWINGS = 5             # fewer than this is not worth a fine-tune (and says nothing)


@dataclass
class FinetuneConfig:
    epochs: int = 10              # passes over the drawings: a class makes a few dozen to a few hundred
    lr: float = 3e-4              # small: adjust the trained network, do not retrain it
    batch_size: int = 16          # small batches, since there are few drawings
    time_budget_s: float = 8.0    # the class is waiting: training stops after this many seconds
    augment: bool = True          # light random shifts, zooms and rotations of every drawing
    mnist_mix: int = 0            # MNIST training digits mixed into every pass (0 = only the class's)
    test_size: int = 2000         # MNIST test digits for the before/after check (all 10,000 take ~5 s)
    seed: int = 0                 # same drawings and seed, same fine-tuned model


@dataclass
class FinetuneResult:
    model: nn.Module = dataclasses.field(repr=False)
    drawings: int                 # how many class drawings it trained on
    epochs: int                   # passes completed
    steps: int
    seconds: float
    drawings_before: float        # accuracy on the class's drawings
    drawings_after: float
    test_before: float            # accuracy on the first ``test_size`` MNIST test digits
    test_after: float
    test_size: int
    stopped_early: bool           # the time budget ran out before all epochs

    def rows(self, lang: str = DEFAULT) -> list[list]:
        """Before/after as table rows (what the board shows), in ``lang``."""
        def pct(v):
            return f"{v:.1%}"
        return [[tr(lang, "board.ft_row_drawings", n=self.drawings), pct(self.drawings_before),
                 pct(self.drawings_after), f"{self.drawings_after - self.drawings_before:+.1%}"],
                [tr(lang, "board.ft_row_mnist", n=self.test_size), pct(self.test_before), pct(self.test_after),
                 f"{self.test_after - self.test_before:+.1%}"]]


Progress = Callable[[float, Text], None]     # (fraction done, what it is doing as a Text)


def drawings_data(images, labels, loaded: Loaded) -> datasets.TensorData:
    """The class's drawings (N, 28, 28) uint8, white ink on black, as a data set that is
    normalised with the checkpoint's own mean/std."""
    x = torch.as_tensor(np.asarray(images), dtype=torch.uint8)
    if x.ndim == 3:
        x = x.unsqueeze(1)                                    # (N, 1, 28, 28)
    y = torch.as_tensor(np.asarray(labels), dtype=torch.long)
    if x.ndim != 4 or x.shape[1:] != (loaded.channels, loaded.input_size, loaded.input_size) or len(x) != len(y):
        raise ValueError(Text("board.ft_bad_drawings", size=loaded.input_size))
    spec = dataclasses.replace(loaded.spec, mean=tuple(loaded.mean), std=tuple(loaded.std))
    return datasets.TensorData(x, y, spec)


def _freeze_batchnorm(model: nn.Module) -> None:
    """Keep batch-norm statistics as MNIST set them: a few dozen drawings in batches of 16 would
    otherwise replace them with noisy ones and hurt every other digit."""
    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            m.eval()


def finetune(loaded: Loaded, images, labels, root=None, config: FinetuneConfig | None = None,
             progress: Progress | None = None, stop: threading.Event | None = None,
             device: torch.device | None = None) -> FinetuneResult:
    """Fine-tune a copy of ``loaded.model`` on the drawings (``training.loop`` with batch norm
    frozen and, optionally, fresh MNIST digits mixed into every pass) and measure before and
    after. Same drawings, config and seed: the same model."""
    config = check_finetune(config or FinetuneConfig())       # limits: cnnlab.config.LIMITS
    say = progress or (lambda fraction, text: None)
    if loaded.spec.kind != "digits":
        raise ValueError(Text("board.ft_not_digits", model=loaded.model_name,
                              dataset=Text(f"datasets.{loaded.spec.name}")))
    drawings = drawings_data(images, labels, loaded)
    if len(drawings) < MIN_DRAWINGS:
        raise ValueError(Text("board.ft_too_few", least=MIN_DRAWINGS, n=len(drawings)))
    device = device or training.pick_device()
    test = datasets.load(loaded.dataset, "test", root).subset(config.test_size)
    test = datasets.TensorData(test.images, test.labels, drawings.spec)
    mix = datasets.load(loaded.dataset, "train", root) if config.mnist_mix else None
    generator = training.seed_everything(config.seed)      # the global seed drives dropout

    model = copy.deepcopy(loaded.model).to(device).eval()
    say(0.0, Text("board.ft_measuring_before"))
    drawings_before = training.evaluate(model, drawings)["accuracy"]
    test_before = training.evaluate(model, test)["accuracy"]

    def with_mnist(epoch: int) -> datasets.TensorData:
        pick = torch.randperm(len(mix), generator=generator)[:config.mnist_mix]
        return datasets.TensorData(torch.cat([drawings.images, mix.images[pick]]),
                                   torch.cat([drawings.labels, mix.labels[pick]]), drawings.spec)

    learner = training.Learner(model, optimizers.make("adam", model.parameters(), config.lr))
    hooks = training.Hooks(epoch_data=with_mnist if mix is not None else None, train_mode=_freeze_batchnorm)
    done = None
    for ev in training.loop([learner], drawings, epochs=config.epochs, batch_size=config.batch_size,
                            generator=generator, device=device, stop=stop, augment=config.augment,
                            time_budget_s=config.time_budget_s, event_every_s=0, hooks=hooks):
        if ev.kind == "done":
            done = ev
        elif ev.epoch == int(ev.epoch):                   # the end of a pass
            say(0.1 + 0.7 * ev.epoch / config.epochs, Text("board.ft_pass", n=int(ev.epoch), of=config.epochs))
    say(0.85, Text("board.ft_measuring_after"))
    drawings_after = training.evaluate(model, drawings)["accuracy"]
    test_after = training.evaluate(model, test)["accuracy"]
    say(1.0, Text("board.ft_done"))
    return FinetuneResult(model.cpu(), len(drawings), int(done.epoch), done.step, done.elapsed_s, drawings_before,
                          drawings_after, test_before, test_after, len(test), done.stopped)


def publish(result: FinetuneResult, source: Loaded, source_key: str, zoo, runs_dir,
            config: FinetuneConfig | None = None, board: str = "") -> Loaded:
    """Save the fine-tuned model as a checkpoint under ``runs_dir`` and make it the zoo's latest
    model, so the Draw tab can try it at once."""
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    path = Path(runs_dir) / "finetuned" / f"board-{source.model_name}-{stamp}.pt"
    settings = {**source.config, "finetuned_from": source_key, "finetuned_on": board or "class board",
                "board_finetune": asdict(config or FinetuneConfig())}
    metrics = {"test_accuracy": result.test_after, "test_images": result.test_size,
               "test_accuracy_before": result.test_before, "board_drawings": result.drawings,
               "board_accuracy_before": result.drawings_before, "board_accuracy_after": result.drawings_after,
               "finetune_seconds": round(result.seconds, 2), "finetune_steps": result.steps}
    checkpoints.save(path, result.model, source.model_name, source.dataset, settings, metrics)
    loaded = checkpoints.load(path)
    zoo.set_latest(loaded, how="zoo.board_finetuned")
    return loaded
