"""The live view during the class's training run: ``LiveInside`` listens to the shared job and,
about once a second, copies the first layer's weights and the maps of one fixed test picture into
a locked slot that every viewer reads (``snapshot``), so the class watches edge and stroke
detectors emerge from noise while the run trains.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass

import numpy as np
from torch import nn

from ...core import datasets
from ...i18n import Text
from .filters import templates
from .stages import shape_text, walk

LIVE_EVERY_S = 1.0          # the live view's pictures are taken at most this often


@dataclass(frozen=True)
class LiveView:
    """What the class sees of the running model at one moment (numpy copies, read-only)."""
    version: int
    run: int
    model: str
    dataset: str
    step: int
    epoch: float
    kind: str                  # the event that took it
    picture: np.ndarray        # the fixed test picture (H, W) uint8
    label: str
    filters: np.ndarray | None           # (C, kh, kw) first convolution, raw weights
    filter_title: Text | str             # said in the reader's language (cnnlab.i18n)
    maps: tuple                # ((title (a Text or a name), shape, values (C, H, W) float32), ...)
    probs: np.ndarray
    classes: tuple[str, ...]
    note: str = ""


class LiveInside:
    """Listener for the shared job (``TrainJob.listeners``): about once a second (and at start and
    end), in the training thread, copies the first layer's weights and the maps of one fixed test
    picture (the first of the test set) into a locked slot that every viewer polls.

    Cost to the run: one forward pass of one picture per second (about a millisecond) plus the
    copies; ``bench/inside_latency.py`` measures it.
    """

    def __init__(self, data_root=None, every_s: float = LIVE_EVERY_S):
        self.data_root = data_root
        self.every_s = every_s
        self._lock = threading.Lock()
        self._view: LiveView | None = None
        self._version = 0
        self._run = 0
        self._last = 0.0
        self._x = None
        self._picture = None
        self._label = ""
        self._note = ""
        self.taken = 0                      # pictures taken (tests, bench)
        self.seconds = 0.0                  # time spent taking them, in the training thread

    def snapshot(self) -> tuple[int, LiveView | None, str]:
        with self._lock:
            return self._version, self._view, self._note

    def __call__(self, event, model: nn.Module, config) -> None:
        kind = getattr(event, "kind", "")
        if kind == "start":
            self._start(model, config)
        if self._x is None:
            return
        now = time.perf_counter()
        if kind in ("start", "done") or now - self._last >= self.every_s:
            self._last = now
            self._take(event, model, config)

    def _start(self, model: nn.Module, config) -> None:
        self._x = None
        spec = datasets.get_spec(config.dataset)
        with self._lock:
            self._run += 1
            self._view = None
            self._version += 1
            if spec.kind == "photo":
                self._note = "photo"
                return
            self._note = ""
        test = datasets.load(config.dataset, "test", self.data_root)
        self._picture = test.images[0, 0].numpy().copy()
        self._label = spec.classes[int(test.labels[0])]
        self._x = datasets.normalize(test.images[:1], spec)
        self._classes = tuple(spec.classes)

    def _take(self, event, model: nn.Module, config) -> None:
        t0 = time.perf_counter()
        device = next(model.parameters()).device
        w = walk(model, self._x.to(device))
        convs = w.convs
        if convs:
            first = next(m for m in model.modules() if isinstance(m, nn.Conv2d))
            filters = first.weight.detach().float().cpu().mean(1).numpy().copy()
            title = Text("inside.live_conv_filters", n=first.out_channels, shape=shape_text(first.kernel_size))
        else:
            t = templates(model, None, size=self._picture.shape[-1], n=16)
            filters = t.weights.copy() if t is not None else None
            title = Text("inside.live_unit_weights", units=t.layer_units) if t is not None else ""
        maps = tuple((s.title, s.shape, s.value.numpy().copy()) for s in w.stages
                     if s.is_map and s.kind != "input")
        with self._lock:
            self._version += 1
            self._view = LiveView(self._version, self._run, config.model, config.dataset,
                                  int(getattr(event, "step", 0)), float(getattr(event, "epoch", 0.0)),
                                  getattr(event, "kind", ""), self._picture, self._label, filters, title,
                                  maps, w.probs.numpy().copy(), self._classes)
        self.taken += 1
        self.seconds += time.perf_counter() - t0
