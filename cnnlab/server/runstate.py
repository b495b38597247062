"""What a viewer of the shared run sees, as plain data: ``RunState`` (status, progress, the curves
as rows, the 16 test pictures and the model's guesses, the results), and the small functions that
fill it. ``jobs.TrainJob`` makes a new one at every change; the UI draws it. The status is a
``cnnlab.i18n.Text`` (each viewer renders it in that viewer's language); the curves' series
names ("train loss", ...) are stable identifiers that the UI names in the viewer's language."""
from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import torch
from torch import nn

from ..config import TrainConfig
from ..core import datasets
from ..core.training import TrainEvent, eval_mode
from ..i18n import DEFAULT, Text, say

GRID_SIZE = 16              # fixed test images whose predicted labels the class watches change
MISTAKES = 8                # most confidently wrong test images shown at the end
MAX_POINTS = 100            # points per curve sent to a viewer (longer histories are thinned): Gradio walks
                            # every value of every answer looking for files, ~10 ms a tick at 200


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


@dataclass(frozen=True)
class RunState:
    """Everything a viewer draws, at one moment. Shared by all viewers: never modified."""
    version: int = 0                    # bumps on every change (viewers skip redraws)
    run_id: int = 0                     # bumps on every start
    mode: str = ""                      # "train" | "race" | "" (nothing yet)
    state: str = "idle"                 # idle | running | paused | stopping | finished | stopped | failed
    status: Text | str = field(default_factory=lambda: Text("jobs.idle"))   # a sentence (Text; str from older code)
    config: dict = field(default_factory=dict)
    step: int = 0
    total_steps: int = 0
    epoch: float = 0.0
    epochs: int = 0
    elapsed_s: float = 0.0
    images_per_s: float = 0.0
    eta_s: float | None = None
    val_acc: float | None = None
    loss: tuple = ()                    # (epoch, value, series) rows, at most MAX_POINTS per series
    accuracy: tuple = ()                # (epoch, value, series)
    race: tuple = ()                    # (step, loss, optimizer)
    evals: tuple = ()                   # {"seconds", "epoch", "val_loss", "val_acc"}
    markers: tuple = ()                 # learning-rate changes mid-run: (epoch, old lr, new lr)
    grid: Grid | None = None
    results: dict | None = None         # set when a run ends (see TrainJob._finish_training)
    latest: str | None = None           # path of the latest checkpoint file, when there is one
    sweep: tuple = ()                   # a hyperparameter grid's rows (cnnlab.core.sweep.rows), filled as it runs
    sweep_id: int = 0                   # the run id of the grid's first configuration (0: no grid yet)

    @property
    def running(self) -> bool:
        return self.state in ("running", "paused", "stopping")

    def to_dict(self, lang: str = DEFAULT) -> dict:
        """A JSON-friendly summary (what the app's snapshot API returns); the status in ``lang``."""
        out = {k: getattr(self, k) for k in ("version", "run_id", "mode", "state", "config",
                                             "step", "total_steps", "epoch", "epochs", "elapsed_s",
                                             "images_per_s", "eta_s", "val_acc", "latest")}
        out["status"] = say(lang, self.status)
        out["running"] = self.running
        out["sweep"] = [dict(r) for r in self.sweep]
        out["sweep_id"] = self.sweep_id
        out["evals"] = list(self.evals)
        out["markers"] = [dict(zip(("epoch", "old_lr", "new_lr"), m)) for m in self.markers]
        out["loss"] = [dict(zip(("epoch", "value", "series"), r)) for r in self.loss]
        out["accuracy"] = [dict(zip(("epoch", "value", "series"), r)) for r in self.accuracy]
        out["race"] = [dict(zip(("step", "loss", "optimizer"), r)) for r in self.race]
        if self.grid is not None:
            out["grid"] = {"labels": self.grid.labels, "predictions": self.grid.predictions,
                           "classes": list(self.grid.classes), "right": self.grid.right}
        if self.results is not None:
            out["results"] = {k: v for k, v in self.results.items() if k != "mistakes"}
        return out


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


def as_pictures(images: torch.Tensor) -> np.ndarray:
    """uint8 (N, C, H, W) -> (N, H, W) for grey, (N, H, W, 3) for colour."""
    arr = images.cpu().numpy()
    return arr[:, 0] if arr.shape[1] == 1 else arr.transpose(0, 2, 3, 1)


@torch.no_grad()
def grid_features(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """A frozen trunk's output for the 16 images, computed once per run."""
    with eval_mode(model):
        return model.trunk(x.to(next(model.parameters()).device))


@torch.no_grad()
def predict_grid(model: nn.Module, grid: Grid, x: torch.Tensor, features) -> Grid:
    """The model's guesses for the 16 images (a few ms); ``features``: grid_features, or None."""
    with eval_mode(model):
        device = next(model.parameters()).device
        logits = model.learner()(features) if features is not None else model(x.to(device))
        conf, pred = logits.softmax(1).max(1)
    return replace(grid, predictions=pred.cpu().tolist(), confidences=conf.cpu().tolist())


def progress_line(title: Text | str, ev: TrainEvent, config: TrainConfig, eta: float | None,
                  grid: Grid | None) -> Text:
    """One status line: where the run is and how fast it goes (a Text; optional parts are Texts
    that bring their own separator, or "")."""
    return Text("jobs.progress", title=title, epoch=min(ev.epoch, config.epochs), epochs=config.epochs,
                step=ev.step, total=ev.total_steps, speed=ev.images_per_s,
                eta=Text("jobs.progress_eta", seconds=eta) if eta is not None else "",
                accuracy=Text("jobs.progress_accuracy", accuracy=ev.val_acc) if ev.val_acc is not None else "",
                right=Text("jobs.progress_right", right=grid.right, n=len(grid.labels))
                if grid is not None and grid.predictions is not None else "")


def most_confident_mistakes(data: datasets.TensorData, predictions: torch.Tensor, confidences: torch.Tensor,
                            n: int = MISTAKES) -> dict:
    """The ``n`` wrong predictions the model was surest about: pictures, truth, guess, confidence."""
    wrong = torch.nonzero(predictions != data.labels).flatten()
    order = wrong[confidences[wrong].argsort(descending=True)][:n]
    return {"images": as_pictures(data.images[order]), "labels": data.labels[order].tolist(),
            "predictions": predictions[order].tolist(), "confidences": confidences[order].tolist()}
