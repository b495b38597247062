"""The lesson's finished runs: kept on disk with a small index, to compare them.

``RunIndex`` keeps every finished (or stopped) run of the shared job in ``<runs_dir>/lesson/``:
``index.json`` (the settings, accuracy, time and size of each run, and its curves thinned to a
few hundred points) and a copy of each run's checkpoint. It is bounded (``MAX_RUNS``: the oldest
run and its checkpoint go first), written atomically (a temporary file, then ``os.replace``: a
crash mid-write leaves the previous index), and read back at start (a damaged index is set aside
as ``index.json.bad`` and the lesson starts empty, never a crash).

``RunRecorder`` is the job's subscriber (``TrainJob.subscribe``): it collects the curves from the
run's events in the training thread and adds the run to the index at its "done" event. Viewers
read ``RunIndex.runs()`` (an immutable tuple, the same for everyone until a run is added) and
``RunIndex.version``.
"""
from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from matplotlib.figure import Figure

from ..core.tables import to_csv
from ..i18n import DEFAULT, tr
from .runstate import thin

log = logging.getLogger(__name__)

MAX_RUNS = 40              # runs kept per lesson folder: a double lesson with a grid or two fits
MAX_BYTES = 400 * 2**20    # their checkpoints on disk: the oldest go first (a transfer model is ~17 MB,
                           # the digit models 0.1-4 MB); the run's row and curves stay
CURVE_POINTS = 150         # points kept per curve of a run (enough for an overlay plot)
INDEX_NAME = "index.json"
FOLDER = "lesson"          # under the app's runs_dir
SETTINGS = ("dataset", "model", "optimizer", "lr", "batch_size", "epochs", "train_size", "augment",
            "time_budget_s", "schedule", "weight_decay", "seed")
CSV_COLUMNS = ("run", "finished", "group", "dataset", "model", "optimizer", "lr", "batch_size", "epochs",
               "train_size", "augment", "test_accuracy", "test_images", "stopped", "seconds", "steps",
               "parameters", "checkpoint_bytes")

# Okabe-Ito colours (readable for colour-blind students), one per overlaid run
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#D55E00", "#56B4E9", "#000000", "#999999")


@dataclass(frozen=True)
class RunRecord:
    """One finished run, as the compare table shows it."""
    id: int
    finished: str                          # local time, "HH:MM:SS"
    settings: dict                         # the SETTINGS of its TrainConfig (and "layers" for a built one)
    test_accuracy: float | None = None
    test_images: int = 0
    stopped: bool = False
    seconds: float = 0.0
    steps: int = 0
    parameters: int = 0
    checkpoint_bytes: int = 0
    group: str = ""                        # "grid 3" for the configurations of one hyperparameter grid
    checkpoint: str = ""                   # file name inside the lesson folder ("" once pruned)
    loss: tuple = ()                       # (epoch, value, "train loss" | "validation loss")
    accuracy: tuple = ()                   # (epoch, value, "validation accuracy")

    @property
    def label(self) -> str:
        """A short name for legends and pickers: "#4 cnn · adam 0.003 · batch 128"."""
        return self.label_in(DEFAULT)

    def label_in(self, lang: str) -> str:
        s = self.settings
        return tr(lang, "runs.label", id=self.id, model=s.get("model"), optimizer=s.get("optimizer"),
                  lr=s.get("lr") or 0, batch=s.get("batch_size"))

    def row(self) -> dict:
        s = self.settings
        return {"run": self.id, "finished": self.finished, "group": self.group,
                **{k: s.get(k) for k in ("dataset", "model", "optimizer", "lr", "batch_size", "epochs",
                                         "train_size", "augment")},
                "test_accuracy": None if self.test_accuracy is None else round(self.test_accuracy, 4),
                "test_images": self.test_images, "stopped": self.stopped, "seconds": round(self.seconds, 1),
                "steps": self.steps, "parameters": self.parameters, "checkpoint_bytes": self.checkpoint_bytes}

    def to_json(self) -> dict:
        out = asdict(self)
        out["loss"] = [list(r) for r in self.loss]
        out["accuracy"] = [list(r) for r in self.accuracy]
        return out

    @classmethod
    def from_json(cls, d: dict) -> RunRecord:
        known = {f for f in cls.__dataclass_fields__}
        d = {k: v for k, v in d.items() if k in known}
        d["loss"] = tuple(tuple(r) for r in d.get("loss", ()))
        d["accuracy"] = tuple(tuple(r) for r in d.get("accuracy", ()))
        return cls(**d)


def overlay_figure(runs, lang: str = DEFAULT) -> Figure:
    """The runs' train loss and validation accuracy curves laid over each other (one colour per
    run, the same in both panels; the legend names each run), in ``lang``. A pure function: a new Figure."""
    fig = Figure(figsize=(10, 4), layout="constrained")
    loss_ax, acc_ax = fig.subplots(1, 2)
    for ax, title, ylabel in ((loss_ax, "runs.loss_title", "runs.loss"), (acc_ax, "runs.acc_title", "runs.accuracy")):
        ax.set_title(tr(lang, title))
        ax.set_xlabel(tr(lang, "runs.epoch"))
        ax.set_ylabel(tr(lang, ylabel))
        ax.grid(alpha=0.3)
    for k, r in enumerate(runs):
        color = PALETTE[k % len(PALETTE)]
        loss = [(e, v) for e, v, s in r.loss if s == "train loss"]
        acc = [(e, v) for e, v, s in r.accuracy]
        if loss:
            loss_ax.plot(*zip(*loss), color=color, label=r.label_in(lang), linewidth=2)
        if acc:
            acc_ax.plot(*zip(*acc), color=color, label=r.label_in(lang), linewidth=2, marker="o", markersize=3)
    if not runs:
        loss_ax.text(0.5, 0.5, tr(lang, "runs.none"), ha="center", va="center", transform=loss_ax.transAxes, wrap=True)
    loss_ax.set_ylim(bottom=0)
    acc_ax.set_ylim(0, 1)
    if runs:
        fig.legend(*loss_ax.get_legend_handles_labels() if loss_ax.lines else acc_ax.get_legend_handles_labels(),
                   loc="outside lower center", ncols=min(2, len(runs)), frameon=False)
    return fig


def write_atomic(path: Path, text: str) -> Path:
    """Write ``text`` to ``path`` through a temporary file in the same folder and ``os.replace``."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)
    return path


class RunIndex:
    """The lesson's finished runs (newest last), on disk and in memory. Thread-safe."""

    def __init__(self, folder: str | Path, max_runs: int = MAX_RUNS, max_bytes: int = MAX_BYTES):
        self.folder = Path(folder)
        self.max_runs, self.max_bytes = max_runs, max_bytes
        self._lock = threading.Lock()
        self._runs: tuple[RunRecord, ...] = self._read()
        self._next = max((r.id for r in self._runs), default=0) + 1
        self.version = 0

    @property
    def path(self) -> Path:
        return self.folder / INDEX_NAME

    def runs(self) -> tuple[RunRecord, ...]:
        with self._lock:
            return self._runs

    def get(self, run_id: int) -> RunRecord | None:
        return next((r for r in self.runs() if r.id == run_id), None)

    def add(self, record: RunRecord, checkpoint: str | Path | None = None) -> RunRecord:
        """Keep ``record`` (its id is assigned here) and a copy of ``checkpoint``; drop the oldest
        runs beyond ``max_runs``. Returns the record as kept."""
        with self._lock:
            run_id = self._next
            self._next += 1
            kept_name, size = "", 0
            if checkpoint is not None and Path(checkpoint).is_file():
                self.folder.mkdir(parents=True, exist_ok=True)
                kept_name = f"run-{run_id}.pt"
                tmp = self.folder / f".{kept_name}.tmp"
                shutil.copyfile(checkpoint, tmp)
                os.replace(tmp, self.folder / kept_name)
                size = (self.folder / kept_name).stat().st_size
            kept = RunRecord(**{**asdict(record), "id": run_id, "checkpoint": kept_name,
                                "checkpoint_bytes": size or record.checkpoint_bytes,
                                "loss": record.loss, "accuracy": record.accuracy})
            runs = self._runs + (kept,)
            dropped, runs = list(runs[:-self.max_runs]), list(runs[-self.max_runs:])
            total = sum(r.checkpoint_bytes for r in runs if r.checkpoint)
            for k, r in enumerate(runs[:-1]):                    # over the disk budget: oldest files first
                if total <= self.max_bytes:
                    break
                if r.checkpoint:
                    dropped.append(r)
                    total -= r.checkpoint_bytes
                    runs[k] = RunRecord(**{**asdict(r), "checkpoint": "", "loss": r.loss, "accuracy": r.accuracy})
            runs = tuple(runs)
            self._write(runs)
            self._runs = runs
            self.version += 1
        for old in dropped:
            if old.checkpoint:
                (self.folder / old.checkpoint).unlink(missing_ok=True)
        return kept

    def clear(self) -> None:
        """Forget every run (the teacher starts a new lesson)."""
        with self._lock:
            old, self._runs = self._runs, ()
            self._write(())
            self.version += 1
        for r in old:
            if r.checkpoint:
                (self.folder / r.checkpoint).unlink(missing_ok=True)

    def checkpoint_path(self, record: RunRecord) -> Path | None:
        path = self.folder / record.checkpoint if record.checkpoint else None
        return path if path is not None and path.is_file() else None

    def csv(self, runs=None) -> str:
        return to_csv([r.row() for r in (self.runs() if runs is None else runs)], CSV_COLUMNS)

    # ---- disk
    def _read(self) -> tuple[RunRecord, ...]:
        if not self.path.is_file():
            return ()
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            return tuple(RunRecord.from_json(d) for d in data["runs"])[-self.max_runs:]
        except (OSError, ValueError, KeyError, TypeError) as err:
            bad = self.path.with_suffix(".json.bad")
            log.warning("run index %s is damaged (%s); keeping it as %s and starting empty", self.path, err, bad)
            os.replace(self.path, bad)
            return ()

    def _write(self, runs) -> None:
        write_atomic(self.path, json.dumps({"format": 1, "runs": [r.to_json() for r in runs]}))


# --------------------------------------------------------------------------- the job's subscriber
@dataclass
class _Collecting:
    config: object
    group: str
    loss: list = field(default_factory=list)
    accuracy: list = field(default_factory=list)
    last_epoch: float | None = None


class RunRecorder:
    """``TrainJob.subscribe(RunRecorder(index, job))``: every finished run goes into ``index``.
    ``job`` (optional) tells which hyperparameter grid a run belongs to, and where its checkpoint is."""

    def __init__(self, index: RunIndex, job=None):
        self.index, self.job = index, job
        self._run: _Collecting | None = None

    def __call__(self, event, model, config) -> None:
        if event.kind == "start":
            self._run = _Collecting(config, self._group())
            return
        run = self._run
        if run is None:
            return
        if event.train_loss is not None and event.step and event.epoch != run.last_epoch:
            run.loss.append((round(event.epoch, 4), event.train_loss, "train loss"))
            run.last_epoch = event.epoch
        if event.kind == "eval" and event.val_acc is not None:
            run.loss.append((round(event.epoch, 4), event.val_loss, "validation loss"))
            run.accuracy.append((round(event.epoch, 4), event.val_acc, "validation accuracy"))
        if event.kind == "done":
            self._run = None
            self._finish(run, event, model)

    def _group(self) -> str:
        state = self.job.state() if self.job is not None else None
        return f"grid {state.sweep_id}" if state is not None and getattr(state, "mode", "") == "sweep" else ""

    def _finish(self, run: _Collecting, event, model) -> None:
        settings = {k: getattr(run.config, k, None) for k in SETTINGS}
        if getattr(run.config, "layers", None):
            settings["layers"] = run.config.layers
        m = event.metrics or {}
        if m.get("test_accuracy") is None and not m.get("steps"):
            return                                           # stopped before it trained: nothing to compare
        record = RunRecord(
            id=0, finished=time.strftime("%H:%M:%S"), settings=settings,
            test_accuracy=m.get("test_accuracy"), test_images=int(m.get("test_images") or 0),
            stopped=bool(m.get("stopped", event.stopped)), seconds=float(event.elapsed_s),
            steps=int(event.step), parameters=sum(p.numel() for p in model.parameters()), group=run.group,
            loss=tuple(thin(run.loss, max_points=CURVE_POINTS)),
            accuracy=tuple(thin(run.accuracy, max_points=CURVE_POINTS)))
        checkpoint = getattr(self.job, "latest_path", None)
        self.index.add(record, checkpoint)
