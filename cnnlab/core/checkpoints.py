"""One checkpoint format: weights plus everything needed to use them correctly.

A checkpoint is a plain dict of tensors, strings and numbers saved with ``torch.save`` and read
with ``torch.load(weights_only=True)``, so loading never runs pickled code. The model is rebuilt
from its registry name and loaded with ``strict=True``: a file that does not match is refused,
never half-loaded.
"""
from __future__ import annotations

import io
import json
import os
import pickle
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from ..i18n import Refusal, Text
from . import datasets
from .nets import builder
from .nets.builder import BUILT
from .nets.models import build_model, get_model_info, trainable_state_dict
from .novelty import Novelty, features_for

FORMAT = "cnnlab-checkpoint"
FORMAT_VERSION = 1
REQUIRED = ("format", "format_version", "model", "dataset", "classes", "mean", "std",
            "input_size", "channels", "state_dict", "config", "metrics")
TYPES = {"format_version": int, "model": str, "dataset": str, "classes": (list, tuple),
         "mean": (list, tuple), "std": (list, tuple), "input_size": int, "channels": int,
         "state_dict": dict, "config": dict, "metrics": dict}


class CheckpointError(Refusal, ValueError):
    """A file that is not a usable cnnlab checkpoint; its argument is a Text (cnnlab.i18n) saying why."""


@dataclass
class Loaded:
    """A ready-to-use model (eval mode) and what came with it."""
    model: nn.Module
    model_name: str
    dataset: str
    classes: tuple[str, ...]
    mean: tuple[float, ...]
    std: tuple[float, ...]
    input_size: int
    channels: int
    config: dict
    metrics: dict
    path: str = ""
    temperature: float = 1.0      # divide the logits by this before the softmax (cnnlab.core.calibration)
    mirror: bool = False          # answer with the average of the photo and its mirror image
    novelty: Novelty | None = None    # how far from the training images an input is (cnnlab.core.novelty)

    @property
    def spec(self) -> datasets.DatasetSpec:
        return datasets.get_spec(self.dataset, self.classes)


def make_payload(model: nn.Module, model_name: str, dataset: str, config: dict | None = None,
                 metrics: dict | None = None, classes=None, temperature: float = 1.0) -> dict:
    spec = datasets.get_spec(dataset, classes)          # classes: the own classes' names (datasets.OWN)
    finetune = getattr(model, "finetune", "head")
    return {
        "format": FORMAT, "format_version": FORMAT_VERSION,
        "model": model_name, "dataset": dataset, "classes": list(spec.classes),
        "mean": list(spec.mean), "std": list(spec.std), "input_size": spec.size,
        "channels": spec.channels, "finetune": finetune,
        "state_dict": _copy_state(trainable_state_dict(model)),
        "config": dict(config or {}), "metrics": dict(metrics or {}),
        "temperature": float(temperature),        # logits / T: confidence that means what it says
        **({"layers": [dict(layer) for layer in model.layers]} if model_name == BUILT else {}),
    }


def _copy_state(state: dict) -> dict:
    """A CPU copy of a state dict in which tensors that shared memory still share it, so the file
    stores them once (a TransferNet's ``features`` is its ``backbone``: cloning each key on its own
    wrote the fine-tuned backbone twice)."""
    copies: dict = {}
    out = {}
    for k, v in state.items():
        key = (v.untyped_storage().data_ptr(), v.storage_offset(), tuple(v.shape), tuple(v.stride()), v.dtype)
        if key not in copies:
            copies[key] = v.detach().cpu().clone()
        out[k] = copies[key]
    return out


def save(path: str | Path, model: nn.Module, model_name: str, dataset: str,
         config: dict | None = None, metrics: dict | None = None, classes=None,
         temperature: float = 1.0) -> Path:
    """Write atomically (a temporary file, then a rename): a crash never leaves half a file."""
    return save_payload(path, make_payload(model, model_name, dataset, config, metrics, classes, temperature))


def save_payload(path: str | Path, payload: dict) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            torch.save(payload, f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)                      # mkstemp makes it private; checkpoints are shared
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def read_payload(source: str | Path | bytes) -> dict:
    """The checkpoint dict, or a CheckpointError saying what is wrong with the file."""
    name = Text("checkpoints.uploaded_file") if isinstance(source, bytes) else f"{Path(source).name}"
    try:
        f = io.BytesIO(source) if isinstance(source, bytes) else open(source, "rb")
    except OSError as err:
        raise CheckpointError(Text("checkpoints.cannot_open", name=name, why=err.strerror or str(err))) from err
    try:
        with f:
            if not f.read(1):
                raise CheckpointError(Text("checkpoints.empty", name=name))
            f.seek(0)
            payload = torch.load(f, map_location="cpu", weights_only=True)
    except CheckpointError:
        raise
    except pickle.UnpicklingError as err:
        if "Unsupported global" not in str(err):      # garbage bytes, not a pickled Python object
            raise CheckpointError(Text("checkpoints.not_pytorch", name=name)) from err
        raise CheckpointError(Text("checkpoints.unsafe", name=name)) from err
    except (RuntimeError, EOFError, zipfile.BadZipFile, ValueError, KeyError, IndexError, OSError) as err:
        raise CheckpointError(Text("checkpoints.unreadable", name=name,
                                   detail=(str(err).splitlines() or [""])[0][:200])) from err
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise CheckpointError(Text("checkpoints.not_cnnlab", name=name))
    missing = [k for k in REQUIRED if k not in payload]
    if missing:
        raise CheckpointError(Text("checkpoints.missing", name=name, what=", ".join(missing)))
    wrong = [k for k, kind in TYPES.items() if not isinstance(payload[k], kind)]
    if wrong:
        raise CheckpointError(Text("checkpoints.damaged", name=name, what=", ".join(wrong)))
    t = payload.get("temperature", 1.0)
    if isinstance(t, bool) or not isinstance(t, (int, float)) or not 0.01 <= t <= 100:
        raise CheckpointError(Text("checkpoints.bad_temperature", name=name))
    if not isinstance(payload.get("mirror", False), bool):
        raise CheckpointError(Text("checkpoints.damaged", name=name, what="mirror"))
    if "novelty" in payload:
        try:
            Novelty.from_payload(payload["novelty"])
        except ValueError as err:
            raise CheckpointError(Text("checkpoints.bad_part", name=name, what="novelty")) from err
    if payload["format_version"] > FORMAT_VERSION:
        raise CheckpointError(Text("checkpoints.newer", name=name, version=payload["format_version"]))
    return payload


def from_payload(payload: dict, path: str = "") -> Loaded:
    name = Path(path).name if path else Text("checkpoints.the_checkpoint")
    try:
        if payload["model"] != BUILT:
            get_model_info(payload["model"])
        spec = datasets.get_spec(payload["dataset"], payload["classes"])
    except KeyError as err:
        raise CheckpointError(Text("checkpoints.named", name=name, why=err.args[0])) from None
    if payload["dataset"] == datasets.OWN and not (2 <= len(payload["classes"]) <= 100):
        raise CheckpointError(Text("checkpoints.own_classes", name=name, n=len(payload["classes"])))
    layers = payload.get("layers")
    if payload["model"] == BUILT:                 # a built network: its stack is plain data, checked
        problem = builder.check(layers, spec)     # against the same limits as one built in the app
        if problem:
            raise CheckpointError(Text("checkpoints.cannot_build", name=name, problem=problem))
    else:
        layers = None
    if len(payload["classes"]) != spec.num_classes:
        raise CheckpointError(Text("checkpoints.classes", name=name, n=len(payload["classes"]),
                                   dataset=Text(f"datasets.{spec.name}"), want=spec.num_classes))
    finetune = payload.get("finetune", "head")
    try:
        model = build_model(payload["model"], spec, finetune=finetune, layers=layers)
        if hasattr(model, "load_trainable_state_dict"):
            model.load_trainable_state_dict(payload["state_dict"])
        else:
            model.load_state_dict(payload["state_dict"], strict=True)
    except (RuntimeError, ValueError, TypeError, AttributeError) as err:
        detail = " ".join(str(err).split())[:240]               # PyTorch lists the keys on later lines
        raise CheckpointError(Text("checkpoints.mismatch", name=name, model=payload["model"], detail=detail)) from err
    model.eval()
    novelty = Novelty.from_payload(payload["novelty"]) if "novelty" in payload else None
    if novelty is not None and not _fits(novelty, model, payload):
        raise CheckpointError(Text("checkpoints.bad_part", name=name, what="novelty"))
    return Loaded(model, payload["model"], payload["dataset"], tuple(payload["classes"]),
                  tuple(payload["mean"]), tuple(payload["std"]), int(payload["input_size"]),
                  int(payload["channels"]), dict(payload["config"]), dict(payload["metrics"]), str(path),
                  float(payload.get("temperature", 1.0)), payload.get("mirror", False), novelty)


def _fits(novelty: Novelty, model: nn.Module, payload: dict) -> bool:
    """Whether the stored novelty model measures the features it will be given (their length)."""
    if not hasattr(model, "embed") or (novelty.stock and payload["channels"] != 3):
        return False
    x = torch.zeros(1, int(payload["channels"]), int(payload["input_size"]), int(payload["input_size"]))
    with torch.inference_mode():
        return features_for(novelty, model, x).shape[1:] == novelty.mean.shape


def load(path: str | Path) -> Loaded:
    """Load a checkpoint file safely; raises CheckpointError with a clear message."""
    return from_payload(read_payload(path), str(path))


def metrics_path(checkpoint: str | Path) -> Path:
    return Path(checkpoint).with_suffix(".metrics.json")


def write_metrics(checkpoint: str | Path, metrics: dict) -> Path:
    """Add ``metrics`` to a checkpoint and write the whole set to the metrics JSON beside it."""
    return update(checkpoint, metrics)


def update(checkpoint: str | Path, metrics: dict | None = None, **fields) -> Path:
    """Store ``fields`` (a temperature, a novelty model, ...) and add ``metrics`` to a checkpoint
    whose weights stay as they are; the metrics JSON beside it gets the whole set. The file alone:
    ``finish.update`` also lets a t-SNE map made for these weights follow the new digest."""
    payload = read_payload(checkpoint)
    payload.update(fields)
    payload["metrics"] = {**payload["metrics"], **(metrics or {})}
    save_payload(checkpoint, payload)
    out = metrics_path(checkpoint)
    out.write_text(json.dumps(payload["metrics"], indent=2) + "\n", encoding="utf-8")
    return out
