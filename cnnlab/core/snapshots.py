"""How the map formed: the fixed sample's last-layer features during the class's training run, and
their maps (each started from the previous one), made in the background once the run has ended,
in a child process (``snapshot_maps``)."""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field, replace

import numpy as np
import torch
from torch import nn

from ..i18n import Refusal, Text
from . import datasets
from .background import Background
from .nets.models import embedding_fixed
from .snapshot_maps import map_away, reduced, snapshot_map
from .threads import TRAIN_NICE, lower_thread_priority
from .tsne import DEFAULT_PERPLEXITY, PCA_DIMS, SEED, Progress, balanced_sample, embed, quiet

SNAPSHOT_N = 1000            # sample size for the training snapshots (fast to embed and to map)
SNAPSHOT_EVERY_S = 3.0       # at most one snapshot this often during a run ...
MAX_SNAPSHOTS = 24           # ... and at most this many (when full, every other one is dropped)


class NothingYet(Refusal, LookupError):
    """No snapshot (or map) to show yet; its Text says why (no run, recording, a new run)."""


# --------------------------------------------------------------------------- how it learned
@dataclass(frozen=True)
class FeatureSnapshot:
    """The sample's last-layer features at one moment of a run (PCA-reduced, float16)."""
    uid: int
    step: int
    epoch: float
    seconds: float
    val_acc: float | None
    features: np.ndarray             # (n, k) float16: the raw features until the mapper reduces them (PCA)
    preds: np.ndarray                # (n,) int16

    @property
    def accuracy_text(self) -> Text | str:
        """"before training", "validation accuracy 80.0%" (a Text), or "" (no validation yet)."""
        return Text("tsne.before_training") if self.step == 0 else (
            Text("tsne.val_accuracy", accuracy=self.val_acc) if self.val_acc is not None else "")


@dataclass(frozen=True)
class Recording:
    """What has been recorded of the current run (a consistent copy for readers)."""
    run_id: int = 0
    dataset: str = ""
    model: str = ""
    classes: tuple[str, ...] = ()
    indices: np.ndarray | None = None
    labels: np.ndarray | None = None
    snapshots: tuple[FeatureSnapshot, ...] = ()
    note: Text = field(default_factory=lambda: Text("tsne.no_run"))   # said in the reader's language


class SnapshotRecorder:
    """Subscribes to the shared training job (``TrainJob.subscribe``) and keeps the fixed sample's
    last-layer features at the start, at most every SNAPSHOT_EVERY_S seconds at an "eval" event,
    and at the end. The subscriber only embeds 1,000 small images (tens of milliseconds for the
    small CNNs); a background thread maps the snapshots, each started from the previous map and
    turned to match it, so points move only as much as the network's view of them changes.

    The maps wait for the run to end: mapping beside the training took 40% of a 2-core laptop and
    made every phone's Train tab tick wait seconds (bench/class_load.py, 60 phones: p95 3.2 s
    mapping during the run, 0.16 s without). A viewer who asks for a map before it is made
    computes it on demand (``map_at``, with progress)."""

    def __init__(self, data_root=None, n: int = SNAPSHOT_N, every_s: float = SNAPSHOT_EVERY_S,
                 max_snapshots: int = MAX_SNAPSHOTS, perplexity: float = DEFAULT_PERPLEXITY,
                 seed: int = SEED):
        self.data_root = data_root
        self.n, self.every_s, self.max_snapshots = n, every_s, max_snapshots
        self.perplexity, self.seed = perplexity, seed
        self._lock = threading.Lock()            # the recording (held briefly by the trainer)
        self._compute = threading.Lock()         # map computations (never held by the trainer)
        self._rec = Recording()
        self._images: torch.Tensor | None = None
        self._stats = None
        self._last = 0.0
        self._every = every_s
        self._uid = 0
        self._maps: dict[int, np.ndarray] = {}
        # Maps the run's snapshots once it has ended, below the training thread's priority, so the
        # slider works soon after (the first look used to wait for every map); mapping beside the
        # training starved the server, and mapping in a thread after it too (``snapshot_maps``).
        # A new run stops it.
        self._mapper = Background("cnnlab-snapshot-maps", setup=lambda: lower_thread_priority(TRAIN_NICE + 5))

    # ---- the trainer side
    def __call__(self, event, model: nn.Module, config) -> None:
        """The job subscriber: (TrainEvent, model, TrainConfig), called in the training thread."""
        if event.kind == "start":
            self._mapper.stop()
            self._start(model, config)
        elif self._images is not None and event.kind in ("eval", "done"):
            now = time.perf_counter()
            if event.kind == "done" or now - self._last >= self._every:
                self._take(event, model)
            if event.kind == "done":
                self._mapper.kick(self._map_all)

    @property
    def mapping(self) -> bool:
        """The background mapper is making the finished run's maps now."""
        return self._mapper.running

    def wait_for_maps(self, timeout: float | None = None) -> bool:
        """Block until the background mapper is idle (tests, scripts); True when it is."""
        return self._mapper.wait(timeout)

    def _start(self, model: nn.Module, config) -> None:
        spec = datasets.get_spec(config.dataset)
        with self._lock:
            run_id = self._rec.run_id + 1
            self._maps = {}
            self._images = None
            self._every = self.every_s
        if spec.kind == "photo" or hasattr(model, "backbone"):
            why = Text("tsne.why_frozen" if embedding_fixed(model) else "tsne.why_slow")
            with self._lock:
                self._rec = Recording(run_id, config.dataset, config.model, spec.classes,
                                      note=Text("tsne.no_photo_snapshots", why=why))
            return
        test = datasets.load(config.dataset, "test", self.data_root)
        indices = balanced_sample(test.labels.numpy(), self.n, self.seed)
        with self._lock:
            self._images = test.images[indices]
            self._stats = spec
            self._rec = Recording(run_id, config.dataset, config.model, spec.classes, indices,
                                  test.labels.numpy()[indices].astype(np.int64), (),
                                  note=Text("tsne.recording"))
        self._take(None, model)

    def _take(self, event, model: nn.Module) -> None:
        # Only the forward pass happens here, in the training thread; the PCA (a third of a second
        # or more, holding Python's lock in parts) is the mapper's, below the trainer's priority.
        feats, preds = embed(model, self._images, self._stats)
        with self._lock:
            self._uid += 1
            snap = FeatureSnapshot(self._uid, int(getattr(event, "step", 0) or 0),
                            float(getattr(event, "epoch", 0.0) or 0.0),
                            float(getattr(event, "elapsed_s", 0.0) or 0.0),
                            getattr(event, "val_acc", None), feats.astype(np.float16), preds.astype(np.int16))
            snaps = self._rec.snapshots + (snap,)
            if len(snaps) > self.max_snapshots:          # keep the first, the last and every other
                snaps = snaps[:-1][::2] + snaps[-1:]
                self._every *= 2
            done = event is not None and event.kind == "done"
            note = Text("tsne.snapshots_done" if done else "tsne.snapshots_recording", n=len(snaps))
            self._rec = Recording(self._rec.run_id, self._rec.dataset, self._rec.model, self._rec.classes,
                                  self._rec.indices, self._rec.labels, snaps, note)
            self._last = time.perf_counter()

    def _map_all(self, stop) -> None:
        """Every snapshot's map not made yet, in a child process (the maps made are a prefix:
        ``map_at`` makes a snapshot's map after those before it)."""
        with self._compute:
            rec = self.recording()
            with self._lock:
                made = [self._maps.get(s.uid) for s in rec.snapshots]
            first = next((k for k, m in enumerate(made) if m is None), None)
            if first is None:
                return
            todo = rec.snapshots[first:]
            done = map_away([s.features for s in todo], self.perplexity, self.seed,
                            made[first - 1] if first else None, stop)
            if done is None:
                return
            with self._lock:
                if self._rec.run_id == rec.run_id:
                    self._keep_reduced({s.uid: replace(s, features=f) for s, f in zip(todo, done[0])})
                    self._maps.update({s.uid: m for s, m in zip(todo, done[1])})

    # ---- the viewer side
    def recording(self) -> Recording:
        with self._lock:
            return self._rec

    def mapped(self) -> int:
        """How many snapshots of the current recording have their map already."""
        with self._lock:
            return sum(s.uid in self._maps for s in self._rec.snapshots)

    def map_at(self, i: int, progress: Progress = quiet,
               stop=None) -> tuple[Recording, FeatureSnapshot, np.ndarray]:
        """The aligned map (n, 2) of snapshot ``i`` of the current recording (computing the maps
        of the snapshots before it first, each started from the one before). ``stop()`` is asked
        before each map: True ends the work with ``NothingYet`` (the maps made so far are kept)."""
        rec = self.recording()
        if not rec.snapshots:
            raise NothingYet(rec.note)
        i = int(min(max(i, 0), len(rec.snapshots) - 1))
        with self._compute:
            rec = self._reduce(rec)
            prev = None
            todo = [s for s in rec.snapshots[:i + 1] if s.uid not in self._maps]
            done = 0
            for s in rec.snapshots[:i + 1]:
                coords = self._maps.get(s.uid)
                if coords is None and stop is not None and stop():
                    raise NothingYet(Text("tsne.new_run"))
                if coords is None:
                    def step(f, t, base=done / max(len(todo), 1), k=done + 1):
                        progress(base + f / max(len(todo), 1), Text("tsne.progress_map", k=k, n=len(todo), step=t))
                    coords = snapshot_map(s.features, self.perplexity, self.seed, prev, step)
                    with self._lock:
                        if self._rec.run_id == rec.run_id:
                            self._maps[s.uid] = coords
                    done += 1
                prev = coords
        return rec, rec.snapshots[i], prev

    def _reduce(self, rec: Recording) -> Recording:
        """``rec`` with every snapshot's features reduced to PCA_DIMS numbers (kept so: the raw
        features of a 1,000-image sample are 3 MB a snapshot)."""
        if all(s.features.shape[1] <= PCA_DIMS for s in rec.snapshots):
            return rec
        small = {s.uid: replace(s, features=reduced(s.features, self.seed))
                 for s in rec.snapshots if s.features.shape[1] > PCA_DIMS}
        with self._lock:
            if self._rec.run_id == rec.run_id:
                self._keep_reduced(small)
        return replace(rec, snapshots=tuple(small.get(s.uid, s) for s in rec.snapshots))

    def _keep_reduced(self, small: dict[int, FeatureSnapshot]) -> None:
        """The current recording with these snapshots (by uid) in their reduced form (caller
        holds the lock and has checked the recording is the one they came from)."""
        self._rec = replace(self._rec, snapshots=tuple(small.get(s.uid, s) for s in self._rec.snapshots))

    def all_maps(self, progress: Progress = quiet) -> tuple[Recording, list[np.ndarray]]:
        rec = self.recording()
        if not rec.snapshots:
            raise NothingYet(rec.note)
        rec, *_ = self.map_at(len(rec.snapshots) - 1, progress)
        with self._lock:
            maps = [self._maps.get(s.uid) for s in rec.snapshots]
        if any(m is None for m in maps):            # a new run started meanwhile
            raise NothingYet(Text("tsne.new_run"))
        return rec, maps
