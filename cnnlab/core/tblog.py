"""TensorBoard logs of a run, as the course writes them with ``SummaryWriter``: scalars (train
loss, validation loss and accuracy, images per second, the test accuracy at the end), a few test
images, the model graph, and the last layer's features of some test images for TensorBoard's
Embedding Projector (with each image's class as metadata and the image itself as a sprite).

``TensorBoardLogger`` is a job subscriber (``TrainJob.subscribe``): one folder per run under its
log dir (``run-<n>-<dataset>-<model>``), opened at "start", closed at "done". It does nothing while
``enabled`` is False (the teacher's switch in the Train tab turns it on). The CLI
(``python -m cnnlab train --tensorboard DIR``) calls it with every event of its run. Then
``tensorboard --logdir DIR`` shows it.

tensorboard is imported only when a run is logged, so the app starts without it.
"""
from __future__ import annotations

import json
import logging
import re
import threading
from pathlib import Path

import torch

from . import datasets
from .training import eval_mode

log = logging.getLogger(__name__)

IMAGES = 16                 # test pictures shown in the Images tab
EMBED_N = 500               # test pictures in the projector (200 photos: they go through a big network)
EMBED_PHOTOS = 200
SPRITE_SIDE = 28            # each picture's side in the projector's sprite


class TensorBoardLogger:
    def __init__(self, logdir: str | Path, data_root=None, enabled: bool = True, embed_n: int = EMBED_N):
        self.logdir = Path(logdir)
        self.data_root = data_root
        self.enabled = enabled
        self.embed_n = embed_n
        self._lock = threading.Lock()
        self._writer = None
        self._test = None
        self.last_dir: Path | None = None

    def set_enabled(self, on: bool) -> None:
        with self._lock:
            self.enabled = bool(on)

    def __call__(self, event, model, config) -> None:
        if event.kind == "start":
            with self._lock:
                if not self.enabled:
                    self._writer = None
                    return
            self._start(model, config)
            return
        writer = self._writer
        if writer is None:
            return
        step = int(event.step)
        if event.train_loss is not None and step:
            writer.add_scalar("loss/train", event.train_loss, step)
            writer.add_scalar("speed/images_per_s", event.images_per_s, step)
        if event.kind == "eval" and event.val_acc is not None:
            writer.add_scalar("loss/validation", event.val_loss, step)
            writer.add_scalar("accuracy/validation", event.val_acc, step)
        if event.kind == "done":
            self._finish(event, model, config)

    # ---- a run's folder
    def _start(self, model, config) -> None:
        from torch.utils.tensorboard import SummaryWriter

        spec = datasets.get_spec(config.dataset)
        name = re.sub(r"[^A-Za-z0-9_.-]", "-", f"{config.dataset}-{config.model}")
        folder = self.logdir / f"run-{self._next_number()}-{name}"
        writer = SummaryWriter(str(folder))
        writer.add_text("settings", "```\n" + json.dumps(config.to_dict(), indent=1, default=str) + "\n```")
        test = datasets.load(config.dataset, "test", self.data_root)
        n = EMBED_PHOTOS if spec.kind == "photo" else self.embed_n
        idx = torch.linspace(0, len(test) - 1, min(n, len(test))).long()
        self._test = (test.images[idx], test.labels[idx], spec)
        pictures = test.images[idx[:IMAGES]].float() / 255.0
        writer.add_images("test pictures", pictures, 0)
        device = next(model.parameters()).device
        x = datasets.normalize(test.images[idx[:2]], spec).to(device)
        try:
            with eval_mode(model):
                writer.add_graph(model, x)
        except Exception:                              # a graph TensorBoard cannot trace must not stop the run
            log.exception("could not write the model graph for %s", config.model)
        writer.flush()
        self._writer, self.last_dir = writer, folder

    def _next_number(self) -> int:
        """One more than the highest run-<n> already in the log dir (a restart goes on counting)."""
        numbers = [int(m.group(1)) for p in self.logdir.glob("run-*")
                   if (m := re.match(r"run-(\d+)-", p.name))] if self.logdir.is_dir() else []
        return max(numbers, default=0) + 1

    @torch.no_grad()
    def _finish(self, event, model, config) -> None:
        writer, self._writer = self._writer, None
        try:
            acc = (event.metrics or {}).get("test_accuracy")
            if acc is not None:
                writer.add_scalar("accuracy/test", acc, int(event.step))
            images, labels, spec = self._test
            device = next(model.parameters()).device
            feats = []
            with eval_mode(model):
                for i in range(0, len(images), 100):
                    feats.append(model.embed(datasets.normalize(images[i:i + 100], spec).to(device)).float().cpu())
            sprite = torch.nn.functional.interpolate(images.float() / 255.0, size=(SPRITE_SIDE, SPRITE_SIDE),
                                                     mode="area")
            writer.add_embedding(torch.cat(feats).flatten(1), metadata=[spec.classes[k] for k in labels.tolist()],
                                 label_img=sprite, global_step=int(event.step), tag="last_layer")
        finally:
            writer.close()
            self._test = None
