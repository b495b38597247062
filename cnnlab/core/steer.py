"""Steering a run while it trains: pause / resume, and a new learning rate.

``Steering`` is the loop's ``between_batches`` hook (``training.Hooks``): the training thread
calls it before every batch. It waits there while the run is paused (a ``threading.Event``, so a
pause costs no CPU and a Stop wakes it), and applies a learning rate the teacher asked for to every
optimizer's parameter groups, between two batches, recording a marker (when, from what, to what)
for the curves. A changed learning rate holds for the rest of the run: the schedule is switched
off, since a one-cycle schedule would overwrite it at the next step.
"""
from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass

from ..config import LIMITS, LimitError, check
from ..i18n import Text

MAX_LR = LIMITS["lr"].high  # a learning rate set mid-run has the same bounds as one set at the start


@dataclass(frozen=True)
class Marker:
    epoch: float            # fractional epochs done when it took effect
    step: int
    old_lr: float
    new_lr: float


def check_lr(lr) -> Text | None:
    """A sentence (a Text) saying what is wrong with a learning rate (config.LIMITS["lr"]), or None."""
    try:
        check("lr", lr)
    except LimitError as err:
        return err.args[0]
    return None


class Steering:
    """Thread-safe; one per run."""

    def __init__(self):
        self._go = threading.Event()
        self._go.set()
        self.halted = threading.Event()     # set while the training thread waits at the gate
        self._lock = threading.Lock()
        self._lr: float | None = None
        self.markers: list[Marker] = []

    @property
    def paused(self) -> bool:
        return not self._go.is_set()

    def pause(self) -> None:
        self._go.clear()

    def resume(self) -> None:
        self._go.set()

    def request_lr(self, lr: float) -> None:
        """Applied before the next batch (the latest request wins)."""
        with self._lock:
            self._lr = float(lr)

    def __call__(self, learners: Sequence, step: int, epoch: float) -> float:
        """The hook: wait while paused, apply a requested learning rate; returns the seconds spent
        paused (the loop leaves them out of its clocks)."""
        waited = 0.0
        if not self._go.is_set():
            start = time.perf_counter()
            self.halted.set()
            self._go.wait()
            self.halted.clear()
            waited = time.perf_counter() - start
        with self._lock:
            lr, self._lr = self._lr, None
        if lr is not None:
            old = learners[0].optimizer.param_groups[0]["lr"]
            for ln in learners:
                for group in ln.optimizer.param_groups:
                    group["lr"] = lr
                ln.scheduler = None
            with self._lock:
                self.markers.append(Marker(round(epoch, 4), step, float(old), lr))
        return waited
