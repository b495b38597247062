"""Training on the class's own classes in seconds: the flower model's pretrained backbone
(EfficientNet-Lite0, ImageNet) reads each picture once, and a small head learns on those features.

* ``FeatureCache``: the backbone's 1280 numbers per picture, kept in memory and on disk
  (``<runs_dir>/own/features/<digest>.npy``), keyed by the stored picture's digest: a picture is
  read through the backbone once, ever (even across restarts).
* ``FeatureWorker``: a background thread that reads new pictures as they arrive (at the training
  thread's low priority), so by the time the teacher clicks Train the features are ready.
* ``OwnRun``: one run of the shared job (``TrainJob.start_own``): splits the pictures into a
  training part and a held-out part (an honest accuracy), trains the head with the one loop
  (``training.loop``), and saves a normal transfer-model checkpoint whose class names are the
  class's own (``datasets.OWN``): the Photo and Inside tabs can use it as "latest".
"""
from __future__ import annotations

import math
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch

from ...config import LIMITS, TrainConfig, check
from ...core import checkpoints, datasets, finish, optimizers, training
from ...core.background import Background
from ...core.cache import LRU
from ...core.metrics import summarize
from ...core.nets.models import TransferNet, stock_backbone
from ...core.threads import configure_training_thread
from ...core.training import Learner, TrainEvent
from ...i18n import Text
from ...server.runstate import Grid, most_confident_mistakes
from .data import (
    MIN_PICTURES,
    RATE_BURST,
    RATE_PER_S,
    OwnDataError,
    PictureStore,
    RateLimit,
    joined,
    max_pictures,
    open_picture,
)

FEATURES = 1280                # the backbone's output per picture
HELD_OUT = 0.2                 # share of each class's pictures kept for the honest accuracy
BATCH = 32                     # the head's batch: a few hundred pictures make ~10 steps an epoch
EPOCHS = 40                    # passes over the cached features: under a second for 500 pictures
LR = 3e-3                      # AdamW on a linear head over normalised-ish features
WEIGHT_DECAY = 1e-3            # a little shrinkage: few pictures per class
FEATURE_BATCH = 16             # pictures read through the backbone at a time
MAP_SIDE = 64                  # the own pictures a t-SNE map keeps: hover pictures and the raw map need no more
MAP_MIN = 10                   # pictures a t-SNE map of the own classes needs
SEED = 0
MODEL_FILE = "model.pt"       # the own classes' latest model, in the store's folder


# --------------------------------------------------------------------------- the backbone
class Backbone:
    """The shared, frozen EfficientNet-Lite0 (``models.stock_backbone``) reading pictures."""

    def net(self) -> TransferNet:
        return stock_backbone()

    @torch.inference_mode()
    def features(self, images: list) -> np.ndarray:
        """(N, 1280) float16 features of PIL pictures, read the way the model reads a photo
        (short side to 224, centre crop, scaled to [-1, 1]: ``datasets.fit_square``)."""
        spec = datasets.own_spec()
        batch = torch.stack([torch.from_numpy(np.asarray(datasets.fit_square(im.convert("RGB"), spec.size)).copy())
                             .permute(2, 0, 1) for im in images])
        x = datasets.normalize(batch, spec).contiguous(memory_format=torch.channels_last)
        return self.net().trunk(x).float().numpy().astype(np.float16)


# --------------------------------------------------------------------------- the feature cache
class FeatureCache:
    """digest -> (1280,) float16 features, on disk and the most recent in memory (2.5 kB each)."""

    def __init__(self, folder: str | Path, backbone: Backbone | None = None):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self.backbone = backbone or Backbone()
        self._memory: LRU[np.ndarray] = LRU(max_pictures())

    def get(self, digest: str) -> np.ndarray | None:
        found = self._memory.get(digest)
        if found is not None:
            return found
        path = self.folder / f"{digest}.npy"
        if path.is_file():
            try:
                f = np.load(path, allow_pickle=False)
            except (OSError, ValueError):
                return None
            if f.shape == (FEATURES,):
                return self._memory.put(digest, f)
        return None

    def put(self, digest: str, features: np.ndarray) -> None:
        features = np.asarray(features, np.float16).reshape(FEATURES)
        fd, tmp = tempfile.mkstemp(dir=self.folder, prefix=".f.", suffix=".npy")
        with os.fdopen(fd, "wb") as f:
            np.save(f, features, allow_pickle=False)
        os.replace(tmp, self.folder / f"{digest}.npy")
        self._memory.put(digest, features)

    def missing(self, paths: list[Path]) -> list[Path]:
        return [p for p in paths if self.get(p.stem) is None]

    def compute(self, paths: list[Path], stop: threading.Event | None = None) -> Iterator[int]:
        """Read the pictures not cached yet through the backbone; yields how many are done."""
        todo = self.missing(paths)
        done = 0
        for i in range(0, len(todo), FEATURE_BATCH):
            if stop is not None and stop.is_set():
                return
            chunk, images = [], []
            for p in todo[i:i + FEATURE_BATCH]:
                try:
                    images.append(open_picture(p))
                    chunk.append(p)
                except (OSError, ValueError):             # deleted meanwhile, or damaged on disk
                    continue
            if images:
                for p, f in zip(chunk, self.backbone.features(images)):
                    self.put(p.stem, f)
            done += len(todo[i:i + FEATURE_BATCH])
            yield done

    def clear_unused(self, keep: set[str]) -> int:
        """Delete cached features of pictures that no longer exist."""
        gone = 0
        for path in self.folder.glob("*.npy"):
            if path.stem not in keep:
                path.unlink(missing_ok=True)
                gone += 1
        self._memory.retain(lambda k: k in keep)
        return gone


class FeatureWorker:
    """Reads new pictures through the backbone in the background (``core.background``), one batch
    at a time, at the training thread's low priority. ``wake()`` after pictures arrive: it finds
    them itself, and pictures that arrive during a pass get a pass of their own."""

    def __init__(self, store: PictureStore, cache: FeatureCache, thread_policy: str = "nice"):
        self.store, self.cache = store, cache
        self._work = Background("cnnlab-own-features", setup=lambda: configure_training_thread(thread_policy))

    @property
    def busy(self) -> bool:
        """Pictures are being read now."""
        return self._work.running

    def wake(self) -> None:
        self._work.kick(self._read_new)

    def stop(self) -> None:
        """End the pass going on at its next batch (the class cleared its pictures)."""
        self._work.stop()

    def _read_new(self, stop) -> None:
        paths = [p for _, files in self.store.snapshot() for p in files]
        for _ in self.cache.compute(paths, stop):
            pass

    def pending(self) -> int:
        return len(self.cache.missing([p for _, files in self.store.snapshot() for p in files]))


# --------------------------------------------------------------------------- a run
def check_ready(snapshot) -> None:
    """Nothing when the pictures can train; else an ``OwnDataError`` saying why (a Text with the
    counts needed)."""
    with_pictures = [(c, files) for c, files in snapshot]
    need_classes = int(LIMITS["own_classes"].low)
    if len(with_pictures) < need_classes:
        raise OwnDataError(Text("own.too_few_classes", n=need_classes, have=len(with_pictures)))
    lacking = [Text("own.lacking", name=c.name, have=len(files), more=MIN_PICTURES - len(files))
               for c, files in with_pictures if len(files) < MIN_PICTURES]
    if lacking:
        raise OwnDataError(Text("own.too_few_pictures", need=MIN_PICTURES, lacking=joined(lacking, "own.join_items")))


def split(snapshot, share: float = HELD_OUT, seed: int = SEED):
    """(train, held_out) lists of (path, label): every class gives round(share * n) pictures, at
    least one, to the held-out part, picked at random (always the same for the same pictures)."""
    rng = np.random.default_rng(seed)
    train, held = [], []
    for label, (_, files) in enumerate(snapshot):
        order = rng.permutation(len(files))
        k = max(1, round(share * len(files)))
        held += [(files[i], label) for i in order[:k]]
        train += [(files[i], label) for i in order[k:]]
    return train, held


def default_config(epochs: int = EPOCHS, lr: float = LR) -> TrainConfig:
    """The shared run's settings for the own classes (what the Train tab's status line shows)."""
    return TrainConfig(dataset=datasets.OWN, model="transfer", optimizer="adam", lr=float(check("own_lr", lr)),
                       batch_size=BATCH, epochs=int(check("own_epochs", epochs)), weight_decay=WEIGHT_DECAY,
                       schedule="onecycle", finetune="head", eval_every_s=0.5, event_every_s=0.1, seed=SEED,
                       dropout=None)        # the head keeps its own: few photos per class


@dataclass
class OwnResult:
    path: Path
    metrics: dict
    results: dict                 # what the Train tab's results view reads (RunState.results)


class OwnRun:
    """One training run on the own classes, driven by ``TrainJob.start_own``."""

    def __init__(self, store: PictureStore, cache: FeatureCache, config: TrainConfig | None = None):
        self.store, self.cache = store, cache
        self.config = config or default_config()
        self.snapshot = store.snapshot()
        check_ready(self.snapshot)
        self.classes = tuple(c.name for c, _ in self.snapshot)
        self.spec = datasets.own_spec(self.classes)
        self.train_files, self.held_files = split(self.snapshot)
        self.title = Text("own.title", classes=len(self.classes), n=sum(len(f) for _, f in self.snapshot))
        self.model: TransferNet | None = None
        self.grid = self._grid()
        self._val: datasets.TensorData | None = None

    def _grid(self) -> Grid:
        """Up to 16 held-out pictures (every class in turn): the pictures viewers watch turn right."""
        by_class: dict[int, list[Path]] = {}
        for p, label in self.held_files:
            by_class.setdefault(label, []).append(p)
        picks, depth = [], 0
        while len(picks) < 16 and any(depth < len(v) for v in by_class.values()):
            for label in sorted(by_class):
                if depth < len(by_class[label]) and len(picks) < 16:
                    picks.append((by_class[label][depth], label))
            depth += 1
        self._grid_paths = [p for p, _ in picks]
        images = np.stack([np.asarray(datasets.fit_square(open_picture(p), 96)) for p, _ in picks])
        return Grid(images, [label for _, label in picks], self.classes)

    def _tensor(self, files) -> datasets.TensorData:
        feats = torch.from_numpy(np.stack([self.cache.get(p.stem) for p, _ in files]).astype(np.float32))
        labels = torch.tensor([label for _, label in files], dtype=torch.long)
        return datasets.TensorData(feats, labels, self.spec)

    def events(self, stop: threading.Event, hooks: training.Hooks | None = None) -> Iterator[TrainEvent]:
        """"step" events while the missing features are read, then the loop's events ("step",
        "eval", and the final "done" with the trained model)."""
        start = time.perf_counter()
        paths = [p for p, _ in self.train_files + self.held_files]
        todo = len(self.cache.missing(paths))
        if todo:
            last = 0.0
            for done in self.cache.compute(paths, stop):
                if time.perf_counter() - last >= self.config.event_every_s:
                    last = time.perf_counter()
                    yield TrainEvent("step", elapsed_s=last - start,
                                     message=Text("own.reading", done=done, total=todo))
        if stop.is_set():
            yield TrainEvent("done", stopped=True, elapsed_s=time.perf_counter() - start)
            return
        self.train_files = [(p, y) for p, y in self.train_files if self.cache.get(p.stem) is not None]
        self.held_files = [(p, y) for p, y in self.held_files if self.cache.get(p.stem) is not None]
        train, self._val = self._tensor(self.train_files), self._tensor(self.held_files)
        generator = training.seed_everything(self.config.seed)
        self.model, learner = self._head(len(train))
        config = self.config
        yield from training.loop([learner], train, epochs=config.epochs, batch_size=config.batch_size,
                                 generator=generator, device=torch.device("cpu"), stop=stop, val=self._val,
                                 eval_every_s=config.eval_every_s, event_every_s=config.event_every_s,
                                 started=start, hooks=hooks)

    def _head(self, pictures: int) -> tuple[TransferNet, Learner]:
        """A new head on the shared, read-only backbone, and its learner (AdamW, one-cycle over
        ``self.config.epochs`` passes of ``pictures``). Seed first: the head's first weights are drawn here."""
        model = TransferNet(num_classes=len(self.classes), finetune="head", pretrained=False)
        model.backbone = model.features = self.cache.backbone.net().backbone
        learner = model.learner()
        config = self.config
        total = math.ceil(pictures / config.batch_size) * config.epochs
        optimizer = optimizers.make(config.optimizer, learner.parameters(), config.lr, config.weight_decay)
        scheduler = (torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=config.lr, total_steps=total,
                                                         pct_start=0.25) if total >= 8 else None)
        return model, Learner(learner, optimizer, scheduler, "head")

    def _refit(self) -> TransferNet:
        """The same training on every picture, held-out ones included: the model the class keeps.
        The accuracy shown was measured before, by the head that had not seen the held-out
        pictures. With ~30 pictures a class, the fifth held out is worth learning from: over 100
        draws of 3 flower classes x 30 photos, 0.9 points more of other photos right (+-0.2)."""
        data = self._tensor(self.train_files + self.held_files)
        generator = training.seed_everything(self.config.seed)
        model, learner = self._head(len(data))
        for _ in training.loop([learner], data, epochs=self.config.epochs, batch_size=self.config.batch_size,
                               generator=generator, device=torch.device("cpu"), event_every_s=60):
            pass
        return model.eval()

    @torch.no_grad()
    def predict_grid(self, grid: Grid) -> Grid:
        """The head's current guesses for the grid pictures (their features are cached)."""
        if self.model is None or self._val is None:
            return grid
        files = self._grid_paths
        x = torch.from_numpy(np.stack([self.cache.get(p.stem) for p in files]).astype(np.float32))
        with training.eval_mode(self.model):
            conf, pred = self.model.head(x).softmax(1).max(1)
        return replace(grid, predictions=pred.tolist(), confidences=conf.tolist())

    def finish(self, path: str | Path, done: TrainEvent) -> OwnResult:
        """Score the head on the held-out pictures, save the checkpoint (the head's weights and the
        class names), and say what the Train tab's results view shows."""
        model = self.model
        results = {"stopped": bool(done.stopped), "steps": done.step, "seconds": round(done.elapsed_s, 1),
                   "classes": list(self.classes)}
        metrics = {"steps": done.step, "epochs": round(done.epoch, 3), "train_seconds": round(done.elapsed_s, 1),
                   "stopped": bool(done.stopped), "train_images": len(self.train_files)}
        if model is None:
            return OwnResult(Path(path), metrics, results)
        r = training.evaluate(model.learner(), self._val, torch.device("cpu"))
        metrics.update(summarize(self._val.labels, r["predictions"], self.classes, r["loss"]))
        model.eval()
        kept = model if done.stopped else self._refit()     # a stopped run keeps what it learned so far
        metrics["model_images"] = len(self.train_files) + (0 if done.stopped else len(self.held_files))
        saved = checkpoints.save(path, kept, "transfer", datasets.OWN, self.config.to_dict(), metrics,
                                 classes=self.classes)
        finish.write_metrics(saved, metrics)
        own_copy = self.store.root / MODEL_FILE      # the tab's own model: the "latest run" moves on
        tmp = own_copy.with_suffix(".tmp")
        shutil.copyfile(saved, tmp)
        os.replace(tmp, own_copy)
        held = self._held_pictures()
        results.update(test_accuracy=metrics["test_accuracy"], test_images=metrics["test_images"],
                       confusion_matrix=metrics["confusion_matrix"],
                       mistakes=most_confident_mistakes(held, r["predictions"], r["confidences"]))
        return OwnResult(saved, metrics, results)

    def _held_pictures(self) -> datasets.TensorData:
        """The held-out pictures as small uint8 images (for the 'most confidently wrong' view)."""
        images = torch.stack([torch.from_numpy(np.asarray(datasets.fit_square(open_picture(p), 96)).copy())
                              .permute(2, 0, 1) for p, _ in self.held_files])
        return datasets.TensorData(images, self._val.labels, self.spec)


def configure(thread_policy: str = "nice") -> None:
    """For scripts that run OwnRun outside the job's thread."""
    configure_training_thread(thread_policy)


# --------------------------------------------------------------------------- the app's own-classes space
class OwnSpace:
    """Everything the Own classes tab shares between users: the store, the feature cache and its
    worker, the upload rate limits and the own classes' latest model (read from disk when it changes)."""

    def __init__(self, runs_dir: str | Path, thread_policy: str = "nice"):
        root = Path(runs_dir) / "own"
        self.store = PictureStore(root)
        self.cache = FeatureCache(root / "features")
        self.worker = FeatureWorker(self.store, self.cache, thread_policy)
        self.rate = RateLimit()                                          # per browser session
        self.host_rate = RateLimit(burst=5 * RATE_BURST, per_s=5 * RATE_PER_S)   # per device
        self._lock = threading.Lock()
        self._model: tuple[tuple, checkpoints.Loaded] | None = None

    @property
    def model_path(self) -> Path:
        return self.store.root / MODEL_FILE

    def model(self) -> checkpoints.Loaded | None:
        """The latest model trained on the own classes (None before the first run)."""
        path = self.model_path
        try:
            stat = path.stat()
        except FileNotFoundError:
            return None
        stamp = (stat.st_mtime_ns, stat.st_size)
        with self._lock:
            if self._model is not None and self._model[0] == stamp:
                return self._model[1]
        loaded = checkpoints.load(path)
        with self._lock:
            self._model = (stamp, loaded)
        return loaded

    def pictures_added(self) -> None:
        self.worker.wake()

    def map_pictures(self, classes) -> tuple[datasets.TensorData, np.ndarray]:
        """What the t-SNE tab maps for a model trained on the own classes: the stored pictures of
        ``classes`` (the names the model knows, in its order), small, labelled by the model's class
        numbers, with the features the cache already holds for them (the same numbers the model's
        last layer gives: its backbone is the shared, frozen one). Pictures still waiting for the
        feature worker are read now."""
        classes = tuple(classes)
        picked = [(p, classes.index(c.name)) for c, files in self.store.snapshot() if c.name in classes
                  for p in files]
        list(self.cache.compute([p for p, _ in picked]))
        images, labels, features = [], [], []
        for p, label in picked:
            f = self.cache.get(p.stem)
            if f is None:
                continue
            try:
                images.append(np.asarray(datasets.fit_square(open_picture(p), MAP_SIDE)).transpose(2, 0, 1))
            except (OSError, ValueError):             # deleted meanwhile
                continue
            labels.append(label)
            features.append(f)
        if len(labels) < MAP_MIN:
            raise ValueError(Text("own.map_too_few", n=len(labels), need=MAP_MIN))
        data = datasets.TensorData(torch.from_numpy(np.stack(images)), torch.tensor(labels, dtype=torch.long),
                                   datasets.own_spec(classes))
        return data, np.stack(features).astype(np.float32)


_spaces: dict[str, OwnSpace] = {}
_spaces_lock = threading.Lock()


def space_for(runs_dir: str | Path) -> OwnSpace:
    """One OwnSpace per runs folder in this process (two apps on one folder share it)."""
    key = str(Path(runs_dir).resolve())
    with _spaces_lock:
        if key not in _spaces:
            _spaces[key] = OwnSpace(runs_dir)
        return _spaces[key]
