"""The one shared training job: the teacher starts it, every screen watches the same run.

``TrainJob`` owns one background thread at a time. ``start`` trains with ``cnnlab.training.fit``,
``start_race`` trains the same model with four optimizers on the same batches, ``stop`` sets a
``threading.Event`` that the engine checks between batches, and ``snapshot`` gives any viewer
(however late it joins) the whole run so far. A finished or stopped run is saved to
``<runs_dir>/latest.pt`` and published as the zoo's "latest run" for the Draw, Photo and t-SNE
tabs. ``listeners`` are called in the training thread on "start", every "eval" and "done".

Threads (issue 5, point 6). Training and thirty students' predictions share one laptop, so:

* Requests get one intra-op thread each. ``TrainJob(ctx)`` sets PyTorch's default thread count
  to 1 for every thread created afterwards (Gradio's worker threads). One sketch is far too
  small a job to split across cores: during a run its forward pass took p50 0.75 ms / p95 1.1 ms
  on one thread against p50 1.0-4.4 ms / p95 7-11 ms on two, because a two-thread OpenMP team
  waits for its slower member to get a core. Many one-thread requests run side by side instead.
* The training thread takes every core for itself (``torch.set_num_threads(cores)`` in that
  thread only) and lowers its own scheduling priority (Linux: ``nice`` +10 for that thread; the
  OpenMP workers it starts inherit it). With nobody drawing it trains at full speed; when a
  request wakes up, the kernel gives it a core at once, and training waits a few milliseconds.

Measured with ``bench/train_during_draw.py`` (2 busy cores, 20 draws a second, p95 of a whole
draw: preprocessing + forward): this choice kept the draws' p95 at 0.7-1.1x idle during a run;
PyTorch's defaults gave 1.4-1.7x, training on all cores at normal priority 1.6-2.5x, and
training on one core fewer ("fewer") 2.3-3.4x while training at half speed.

How: PyTorch keeps the thread count in one process-wide variable that each thread copies into
its own OpenMP setting the first time it runs an operator; ``torch.set_num_threads`` sets both
the variable and the calling thread's own setting. So the training thread sets its own count and
a short helper thread puts the variable back (``set_default_threads``), which leaves every other
thread's count alone. Where per-thread priorities do not exist (macOS, Windows) "nice" falls
back to "fewer".
"""
from __future__ import annotations

import copy
import logging
import math
import os
import sys
import threading
import time
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd
import torch
from torch import nn

from . import checkpoints, datasets, training
from .config import OPTIMIZERS, TrainConfig
from .metrics import summarize
from .models import build_model, models_for
from .training import TrainEvent, eval_mode

log = logging.getLogger(__name__)

GRID_SIZE = 16              # fixed test images whose predicted labels the class watches change
MISTAKES = 8                # most confidently wrong test images shown at the end
MAX_POINTS = 200            # points per curve sent to a viewer (longer histories are thinned)
TRAIN_NICE = 10             # how much the training thread steps back for the students' requests
# The optimizer race (seed 001): each optimizer with its textbook default learning rate (Keras /
# common practice), a constant rate, the same initial weights and the same batches.
RACE_OPTIMIZERS = (("sgd", 0.01), ("momentum", 0.01), ("rmsprop", 1e-3), ("adam", 1e-3))
RACE_STEPS = 300            # steps per optimizer at most ...
RACE_BUDGET_S = 30.0        # ... or this many seconds for the whole race
RACE_TRAIN_SIZE = 12_000    # a train subset: the race is about the first few hundred steps
RACE_SMOOTH = 10            # running mean over this many steps for the race curves
THREAD_POLICIES = ("nice", "fewer", "share")

Listener = Callable[[TrainEvent, nn.Module, TrainConfig], None]


# --------------------------------------------------------------------------- thread policy
REQUEST_THREADS = 1         # intra-op threads for every other thread (students' requests)


def cpu_cores() -> int:
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def set_default_threads(n: int) -> None:
    """The intra-op thread count that threads created from now on start with, leaving the
    calling thread's own count as it is (see the module docstring)."""
    torch.get_num_threads()                  # the caller takes its own count now, if it had none
    helper = threading.Thread(target=torch.set_num_threads, args=(max(1, int(n)),), name="cnnlab-threads")
    helper.start()
    helper.join()


def configure_training_thread(policy: str = "nice") -> int:
    """Call first thing in the training thread: sets this thread's torch threads and priority,
    leaves the default for other threads as it was. Returns this thread's intra-op thread count.

    "nice":  all cores, lower priority (Linux per-thread nice); elsewhere as "fewer".
    "fewer": one core fewer than the machine has (at least one), normal priority.
    "share": all cores, normal priority (training and requests compete as equals).
    """
    if policy not in THREAD_POLICIES:
        raise ValueError(f"thread policy must be one of {', '.join(THREAD_POLICIES)}, not {policy!r}")
    default = torch.get_num_threads()        # a new thread starts with the process default
    fewer = policy == "fewer" or (policy == "nice" and not _lower_thread_priority(TRAIN_NICE))
    n = max(1, cpu_cores() - 1) if fewer else cpu_cores()
    torch.set_num_threads(n)
    set_default_threads(default)
    return n


def _lower_thread_priority(nice: int) -> bool:
    """Linux only: a thread is a task with its own nice value, and threads it creates (PyTorch's
    OpenMP workers) inherit it. Elsewhere the same call would name a whole process."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        tid = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, tid, min(19, os.getpriority(os.PRIO_PROCESS, tid) + nice))
        return True
    except (OSError, AttributeError):
        return False


# --------------------------------------------------------------------------- state for viewers
@dataclass
class Grid:
    """The fixed test images and the model's current guesses for them."""
    images: np.ndarray                  # uint8 (16, H, W) or (16, H, W, 3)
    labels: list[int]
    classes: tuple[str, ...]
    predictions: list[int] | None = None
    confidences: list[float] | None = None

    @property
    def right(self) -> int:
        return sum(p == t for p, t in zip(self.predictions or [], self.labels))


@dataclass
class Snapshot:
    """Everything a viewer draws, at one moment. Shared by all viewers: do not modify."""
    version: int = 0                    # bumps on every change (viewers skip redraws)
    run_id: int = 0                     # bumps on every start
    mode: str = ""                      # "train" | "race" | "" (nothing yet)
    state: str = "idle"                 # idle | running | stopping | finished | stopped | failed
    status: str = "No run yet. Choose the settings and click Train."
    config: dict = field(default_factory=dict)
    step: int = 0
    total_steps: int = 0
    epoch: float = 0.0
    epochs: int = 0
    elapsed_s: float = 0.0
    images_per_s: float = 0.0
    eta_s: float | None = None
    val_acc: float | None = None
    loss: pd.DataFrame = field(default_factory=lambda: _frame([], ("epoch", "value", "series")))
    accuracy: pd.DataFrame = field(default_factory=lambda: _frame([], ("epoch", "value", "series")))
    race: pd.DataFrame = field(default_factory=lambda: _frame([], ("step", "loss", "optimizer")))
    evals: list[dict] = field(default_factory=list)     # {"seconds", "epoch", "val_loss", "val_acc"}
    grid: Grid | None = None
    results: dict | None = None         # set when a run ends (see TrainJob._finish_training)
    latest: str | None = None           # path of the latest checkpoint file, when there is one

    @property
    def running(self) -> bool:
        return self.state in ("running", "stopping")

    def to_dict(self) -> dict:
        """A JSON-friendly summary (what the app's snapshot API returns)."""
        out = {k: getattr(self, k) for k in ("version", "run_id", "mode", "state", "status", "config",
                                             "step", "total_steps", "epoch", "epochs", "elapsed_s",
                                             "images_per_s", "eta_s", "val_acc", "evals", "latest")}
        out["running"] = self.running
        out["loss"] = self.loss.to_dict("records")
        out["accuracy"] = self.accuracy.to_dict("records")
        out["race"] = self.race.to_dict("records")
        if self.grid is not None:
            out["grid"] = {"labels": self.grid.labels, "predictions": self.grid.predictions,
                           "classes": list(self.grid.classes), "right": self.grid.right}
        if self.results is not None:
            out["results"] = {k: v for k, v in self.results.items() if k != "mistakes"}
        return out


def _frame(rows, columns) -> pd.DataFrame:
    """Numbers in the first two columns, names in the third, even when empty (gr.LinePlot picks
    its axis types from the dtypes: an empty object column would give a category axis)."""
    x, y, series = columns
    if not rows:
        return pd.DataFrame({x: pd.Series(dtype="float64"), y: pd.Series(dtype="float64"),
                             series: pd.Series(dtype="str")})
    return pd.DataFrame(rows, columns=list(columns)).astype({x: "float64", y: "float64"})


def thin(rows: list[tuple], key: int = 2, max_points: int = MAX_POINTS) -> list[tuple]:
    """At most ``max_points`` rows per series (column ``key``), evenly spaced, last point kept."""
    by_series: dict = {}
    for row in rows:
        by_series.setdefault(row[key], []).append(row)
    out = []
    for series in by_series.values():
        if len(series) > max_points:
            idx = np.linspace(0, len(series) - 1, max_points).round().astype(int)
            series = [series[i] for i in sorted(set(idx.tolist()))]
        out.extend(series)
    return out


def grid_indices(labels: torch.Tensor, num_classes: int, n: int = GRID_SIZE) -> list[int]:
    """``n`` fixed test images, every class as evenly as possible (first of each class, then the
    second of each, ...): the same images for every run on a data set."""
    per_class = [torch.nonzero(labels == c).flatten().tolist() for c in range(num_classes)]
    out, depth = [], 0
    while len(out) < n and any(depth < len(p) for p in per_class):
        for p in per_class:
            if depth < len(p) and len(out) < n:
                out.append(p[depth])
        depth += 1
    return out




def _as_pictures(images: torch.Tensor) -> np.ndarray:
    """uint8 (N, C, H, W) -> (N, H, W) for grey, (N, H, W, 3) for colour."""
    arr = images.cpu().numpy()
    return arr[:, 0] if arr.shape[1] == 1 else arr.transpose(0, 2, 3, 1)


# --------------------------------------------------------------------------- the job
class TrainJob:
    """The shared run. Thread-safe; every public method returns quickly."""

    def __init__(self, ctx, thread_policy: str = "nice", request_threads: int | None = REQUEST_THREADS):
        """``request_threads``: torch threads for every thread created from now on (None: leave
        PyTorch's default); ``thread_policy``: how the training thread runs (THREAD_POLICIES)."""
        if thread_policy not in THREAD_POLICIES:
            raise ValueError(f"thread policy must be one of {', '.join(THREAD_POLICIES)}")
        self.ctx = ctx
        self.thread_policy = thread_policy
        if request_threads:
            set_default_threads(request_threads)
        self.listeners: list[Listener] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._snap = Snapshot()
        self._loss: list[tuple] = []
        self._acc: list[tuple] = []
        self._race: list[tuple] = []
        self._last_train_epoch = None
        self._frames_version = -1
        latest = self.latest_path
        if latest.is_file():
            self._snap.latest = str(latest)

    # ---- what viewers call
    @property
    def latest_path(self) -> Path:
        return Path(self.ctx.config.runs_dir) / "latest.pt"

    @property
    def is_running(self) -> bool:
        with self._lock:
            return self._snap.running

    def snapshot(self) -> Snapshot:
        """The run so far; the same object for every viewer until something changes."""
        with self._lock:
            if self._frames_version != self._snap.version:
                self._snap = replace(
                    self._snap,
                    loss=_frame(thin(self._loss), ("epoch", "value", "series")),
                    accuracy=_frame(thin(self._acc), ("epoch", "value", "series")),
                    race=_frame(thin(self._race), ("step", "loss", "optimizer")))
                self._frames_version = self._snap.version
            return self._snap

    # ---- what the teacher calls
    def start(self, config: TrainConfig, key: str | None = None) -> str:
        """Start a run, or say why not (a run is going, wrong key, settings that do not fit)."""
        problem = self._check(config, key)
        if problem:
            return problem
        return self._launch("train", config, self._run_training)

    def start_race(self, config: TrainConfig, key: str | None = None) -> str:
        """The optimizer race: ``config``'s data set, model, batch size and seed; each optimizer at
        its usual learning rate (RACE_OPTIMIZERS) for RACE_STEPS steps or RACE_BUDGET_S seconds."""
        problem = self._check(config, key)
        if problem:
            return problem
        if datasets.get_spec(config.dataset).kind == "photo":
            return ("The optimizer race runs on MNIST or Fashion-MNIST (photos would take minutes); "
                    "choose one of those.")
        return self._launch("race", config, self._run_race)

    def stop(self, key: str | None = None) -> str:
        if not self.ctx.teacher_ok(key):
            return "Stopping the run needs the teacher key: type it in the teacher key box."
        with self._lock:
            if not self._snap.running:
                return "No run is going."
            self._stop.set()
            if self._snap.state == "running":
                self._set(state="stopping", status="Stopping after this batch…")
        return "Stopping: the model so far is kept."

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the current run has ended (tests, scripts); True if nothing is running."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout)
        return not self.is_running

    def use_checkpoint(self, path: str | Path, key: str | None = None) -> str:
        """Make an uploaded checkpoint the latest run. Raises CheckpointError for a bad file."""
        if not self.ctx.teacher_ok(key):
            return "Loading a checkpoint for everyone needs the teacher key: type it in the teacher key box."
        if self.is_running:
            return "A run is going: load the checkpoint once it has finished or been stopped."
        payload = checkpoints.read_payload(path)
        loaded = checkpoints.from_payload(payload, str(path))   # refuse before replacing anything
        saved = checkpoints.save_payload(self.latest_path, payload)
        self.ctx.zoo.set_latest(replace(loaded, path=str(saved)), label="uploaded")
        acc = loaded.metrics.get("test_accuracy")
        text = (f"Loaded {Path(path).name}: {loaded.model_name} on {loaded.spec.title}"
                + (f" ({acc:.1%} test accuracy)" if acc else "")
                + ". The Draw, Photo and t-SNE tabs can use it as 'latest run'.")
        with self._lock:
            self._set(latest=str(saved), status=text)
        return text

    # ---- internals
    def _check(self, config: TrainConfig, key: str | None) -> str | None:
        if not self.ctx.teacher_ok(key):
            return "Training needs the teacher key: type it in the teacher key box."
        if self.is_running:
            snap = self.snapshot()
            return f"A run is already in progress; you are watching it. ({snap.status})"
        from .config import train_problem                   # every setting in range (config.LIMITS)
        return train_problem(config)

    def _launch(self, mode: str, config: TrainConfig, target) -> str:
        with self._lock:
            if self._snap.running:                               # lost a race with another click
                return f"A run is already in progress; you are watching it. ({self._snap.status})"
            self._stop.clear()
            self._loss, self._acc, self._race = [], [], []
            self._last_train_epoch = None
            run_id = self._snap.run_id + 1
            spec = datasets.get_spec(config.dataset)
            what = ("Optimizer race" if mode == "race" else f"Training {config.model}") + f" on {spec.title}"
            self._snap = Snapshot(version=self._snap.version + 1, run_id=run_id, mode=mode,
                                  state="running", status=f"{what}: loading the data…",
                                  config=config.to_dict(), epochs=config.epochs, latest=self._snap.latest)
            self._thread = threading.Thread(target=self._guarded, args=(target, config, run_id),
                                            name=f"cnnlab-{mode}-{run_id}", daemon=True)
            self._thread.start()
        return f"{what} started. Everyone sees it live."

    def _set(self, **changes) -> None:
        """Change the snapshot (caller holds the lock)."""
        self._snap = replace(self._snap, version=self._snap.version + 1, **changes)

    def _guarded(self, target, config: TrainConfig, run_id: int) -> None:
        configure_training_thread(self.thread_policy)
        try:
            target(config, run_id)
        except Exception as err:                                 # the thread must never die silently
            log.exception("training run %s failed", run_id)
            message = err.args[0] if isinstance(err, (datasets.DataMissingError, KeyError, ValueError)) \
                and err.args else f"{type(err).__name__}: {err}"
            with self._lock:
                self._set(state="failed", status=f"The run failed: {message}")
        finally:
            with self._lock:
                if self._snap.running:                           # a path that did not set an end
                    self._set(state="stopped", status="The run ended.")

    def _notify(self, event: TrainEvent, model: nn.Module, config: TrainConfig) -> None:
        for listener in list(self.listeners):
            try:
                listener(event, model, config)
            except Exception:                                    # a viewer's add-on must not end the run
                log.exception("training listener %r failed on %s", listener, event.kind)

    # ---- a normal run
    def _run_training(self, config: TrainConfig, run_id: int) -> None:
        root, download = self.ctx.data_root, self.ctx.config.allow_download
        spec = datasets.get_spec(config.dataset)
        test = datasets.load(config.dataset, "test", root, download)
        idx = grid_indices(test.labels, spec.num_classes)
        grid_x = datasets.normalize(test.images[idx], spec)
        grid = Grid(_as_pictures(test.images[idx]), test.labels[idx].tolist(), spec.classes)
        training.seed_everything(config.seed)                    # same seed, same initial weights
        model = build_model(config.model, spec, finetune=config.finetune)
        grid_features = None
        title = f"{config.model} on {spec.title} with {config.optimizer}"
        with self._lock:
            self._set(grid=grid, status=f"Training {title}: starting…")
        for ev in training.fit(config, root=root, stop=self._stop, model=model, download=download,
                               final_eval=False):
            if ev.kind == "done":
                self._finish_training(ev, model, config, test, title)
                return
            if ev.kind == "start" and training.frozen_backbone(model):
                grid_features = self._grid_features(model, grid_x)
            grid = self._predict_grid(model, grid, grid_x, grid_features)
            self._record(ev, config, grid, title)
            if ev.kind in ("start", "eval"):
                self._notify(ev, model, config)

    @staticmethod
    @torch.no_grad()
    def _grid_features(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
        """A frozen trunk's output for the 16 images, computed once per run."""
        with eval_mode(model):
            return model.trunk(x.to(next(model.parameters()).device))

    @staticmethod
    @torch.no_grad()
    def _predict_grid(model: nn.Module, grid: Grid, x: torch.Tensor, features) -> Grid:
        """The model's guesses for the 16 images (a few ms)."""
        with eval_mode(model):
            device = next(model.parameters()).device
            logits = model.learner()(features) if features is not None else model(x.to(device))
            conf, pred = logits.softmax(1).max(1)
        return replace(grid, predictions=pred.cpu().tolist(), confidences=conf.cpu().tolist())

    def _record(self, ev: TrainEvent, config: TrainConfig, grid: Grid, title: str) -> None:
        eta = ev.eta_s
        if config.time_budget_s and eta is not None:
            eta = min(eta, max(0.0, config.time_budget_s - ev.elapsed_s))
        with self._lock:
            if ev.train_loss is not None and ev.step and ev.epoch != self._last_train_epoch:
                self._loss.append((ev.epoch, ev.train_loss, "train loss"))
                self._last_train_epoch = ev.epoch
            evals = self._snap.evals
            if ev.kind == "eval" and ev.val_acc is not None:
                self._loss.append((ev.epoch, ev.val_loss, "validation loss"))
                self._acc.append((ev.epoch, ev.val_acc, "validation accuracy"))
                evals = evals + [{"seconds": round(ev.elapsed_s, 2), "epoch": round(ev.epoch, 3),
                                  "val_loss": ev.val_loss, "val_acc": ev.val_acc}]
            state = self._snap.state
            if state == "stopping":
                status = "Stopping after this batch…"
            elif ev.message and not ev.step:
                status = f"{ev.message[:1].upper()}{ev.message[1:]}…"
            else:
                status = progress_line(title, ev, config, eta, grid)
            self._set(step=ev.step, total_steps=ev.total_steps, epoch=ev.epoch, elapsed_s=ev.elapsed_s,
                      images_per_s=ev.images_per_s, eta_s=eta, val_acc=ev.val_acc, evals=evals,
                      grid=grid, status=status)

    def _finish_training(self, ev: TrainEvent, model: nn.Module, config: TrainConfig,
                         test: datasets.TensorData, title: str) -> None:
        """Final evaluation, checkpoint, publish as 'latest', tell the listeners, show results.

        After a Stop the test set is the validation subset (a fraction of a second), so a stopped
        run settles at once; a finished run (or one ended by its time budget) uses the whole set.
        The validation curves get their last point here, at the very end of the training.
        """
        user_stop = self._stop.is_set()
        with self._lock:
            self._set(status=f"{'Stopped' if user_stop else 'Finished'} training {title}: "
                             "measuring test accuracy and saving…")
        val_n = min(config.val_size or len(test), len(test))
        data = test.subset(val_n) if user_stop else test
        r = self._evaluate(model, test, len(data), trained=ev.step > 0)
        if r is not None and (not self._snap.evals or self._snap.evals[-1]["epoch"] < round(ev.epoch, 3)):
            rv = r if len(data) == val_n else self._evaluate(model, test, val_n, trained=True)
            self._record(replace(ev, kind="eval", val_loss=rv["loss"], val_acc=rv["accuracy"]), config,
                         self._snap.grid, title)
        metrics = {"steps": ev.step, "epochs": round(ev.epoch, 3), "train_seconds": round(ev.elapsed_s, 1),
                   "stopped": bool(ev.stopped)}
        results = {"stopped": bool(ev.stopped), "steps": ev.step, "seconds": round(ev.elapsed_s, 1),
                   "classes": list(data.spec.classes)}
        if r is not None:
            metrics.update(summarize(data.labels, r["predictions"], data.spec.classes, r["loss"]))
            results.update(test_accuracy=metrics["test_accuracy"], test_images=metrics["test_images"],
                           confusion_matrix=metrics["confusion_matrix"],
                           mistakes=most_confident_mistakes(data, r["predictions"], r["confidences"]))
        model.eval()
        path = checkpoints.save(self.latest_path, model, config.model, config.dataset,
                                config.to_dict(), metrics)
        self.ctx.zoo.set_latest(checkpoints.load(path))
        self._notify(replace(ev, model=model, metrics=metrics), model, config)
        how = "Stopped" if ev.stopped else "Finished"
        acc = ""
        if "test_accuracy" in results:
            on = "" if results["test_images"] == len(test) else f" on {results['test_images']:,} test images"
            acc = f": test accuracy {results['test_accuracy']:.1%}{on}"
        text = (f"{how} after {ev.step:,} steps ({ev.elapsed_s:.0f} s){acc}. "
                "The Draw, Photo and t-SNE tabs can now use it as 'latest run'.")
        with self._lock:
            self._set(state="stopped" if ev.stopped else "finished", status=text, results=results,
                      latest=str(path), eta_s=None, step=ev.step, epoch=ev.epoch, elapsed_s=ev.elapsed_s)

    @staticmethod
    def _evaluate(model: nn.Module, test: datasets.TensorData, n: int, trained: bool) -> dict | None:
        """training.evaluate on the first ``n`` test images; with a frozen backbone, on the
        features cached while training (None if the run stopped before the photos were read)."""
        device = next(model.parameters()).device
        if not training.frozen_backbone(model):
            return training.evaluate(model, test.subset(n), device)
        if not trained:
            return None
        features = None
        for _, features in training.extract_features(model, test, device):   # cached: instant
            pass
        return training.evaluate(model.learner(), features.subset(n), device)

    # ---- the optimizer race
    def _run_race(self, config: TrainConfig, run_id: int) -> None:
        root, download = self.ctx.data_root, self.ctx.config.allow_download
        spec = datasets.get_spec(config.dataset)
        train = datasets.load(config.dataset, "train", root, download).subset(config.train_size or RACE_TRAIN_SIZE)
        val = datasets.load(config.dataset, "test", root, download).subset(config.val_size)
        device = training.pick_device()
        training.seed_everything(config.seed)
        base = build_model(config.model, spec)                  # one set of initial weights for all
        lanes = []
        for name, lr in RACE_OPTIMIZERS:
            model = copy.deepcopy(base).to(device)
            lanes.append({"name": name, "lr": lr, "model": model, "recent": [],
                          "optimizer": training.make_optimizer(name, model.parameters(), lr),
                          "generator": torch.Generator().manual_seed(config.seed)})   # same batches
        label = {ln["name"]: f"{ln['name']} (lr {ln['lr']:g})" for ln in lanes}
        start = last = time.perf_counter()
        step, steps_per_epoch = 0, math.ceil(len(train) / config.batch_size)
        budget = min(RACE_BUDGET_S, config.time_budget_s or RACE_BUDGET_S)
        what = f"Optimizer race: {config.model} on {spec.title}"
        with self._lock:
            self._set(total_steps=RACE_STEPS, status=f"{what}: starting…")
        done = False
        while not done:
            runs = [training.train_one_epoch(ln["model"], train, ln["optimizer"], device, config.batch_size,
                                             ln["generator"], stop=self._stop) for ln in lanes]
            for outs in zip(*runs):
                step += 1
                for ln, (_, loss) in zip(lanes, outs):
                    ln["recent"] = (ln["recent"] + [loss])[-RACE_SMOOTH:]
                now = time.perf_counter()
                done = step >= RACE_STEPS or now - start >= budget or self._stop.is_set()
                with self._lock:
                    for ln in lanes:
                        self._race.append((step, float(np.mean(ln["recent"])), label[ln["name"]]))
                    if done or now - last >= config.event_every_s:
                        last = now
                        left = min((RACE_STEPS - step) * (now - start) / step, budget - (now - start))
                        status = self._snap.status if self._snap.state == "stopping" else (
                            f"{what} · step {step}/{RACE_STEPS} · "
                            + " · ".join(f"{ln['name']} {np.mean(ln['recent']):.3f}" for ln in lanes)
                            + f" · about {max(0, left):.0f} s left")
                        self._set(step=step, epoch=step / steps_per_epoch, elapsed_s=now - start,
                                  images_per_s=4 * step * config.batch_size / (now - start),
                                  eta_s=max(0.0, left), status=status)
                    else:
                        self._set()                              # new points only
                if done:
                    break
            if self._stop.is_set():
                break
        finals = []
        for ln in lanes:
            r = training.evaluate(ln["model"], val, device)
            finals.append({"optimizer": ln["name"], "lr": ln["lr"], "loss": round(float(np.mean(ln["recent"])), 4),
                           "val_accuracy": round(r["accuracy"], 4)})
        finals.sort(key=lambda f: -f["val_accuracy"])
        stopped = self._stop.is_set()
        table = ", ".join(f"{f['optimizer']} {f['val_accuracy']:.1%}" for f in finals)
        text = (f"Optimizer race {'stopped' if stopped else 'finished'} after {step} steps "
                f"({time.perf_counter() - start:.0f} s). Validation accuracy: {table}.")
        with self._lock:
            self._set(state="stopped" if stopped else "finished", status=text, eta_s=None,
                      results={"race": finals, "stopped": stopped, "steps": step})


def progress_line(title: str, ev: TrainEvent, config: TrainConfig, eta: float | None, grid: Grid | None) -> str:
    """One status line: where the run is and how fast it goes."""
    parts = [f"Training {title}", f"epoch {min(ev.epoch, config.epochs):.2f}/{config.epochs}",
             f"step {ev.step:,}/{ev.total_steps:,}", f"{ev.images_per_s:,.0f} images/s"]
    if eta is not None:
        parts.append(f"about {eta:.0f} s left")
    if ev.val_acc is not None:
        parts.append(f"validation accuracy {ev.val_acc:.1%}")
    if grid is not None and grid.predictions is not None:
        parts.append(f"{grid.right}/{len(grid.labels)} pictures right")
    return " · ".join(parts)


def most_confident_mistakes(data: datasets.TensorData, predictions: torch.Tensor, confidences: torch.Tensor,
                            n: int = MISTAKES) -> dict:
    """The ``n`` wrong predictions the model was surest about: pictures, truth, guess, confidence."""
    wrong = torch.nonzero(predictions != data.labels).flatten()
    order = wrong[confidences[wrong].argsort(descending=True)][:n]
    return {"images": _as_pictures(data.images[order]), "labels": data.labels[order].tolist(),
            "predictions": predictions[order].tolist(), "confidences": confidences[order].tolist()}
