"""Settings in one visible place. UI controls and CLI flags read their defaults from here."""
from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from pathlib import Path

DATA_ENV = "CNNLAB_DATA"          # environment variable naming the data root
DEFAULT_DATA_DIR = "./data"       # where torchvision puts downloads when no root is given
OPTIMIZERS = ("sgd", "momentum", "rmsprop", "adam")


def data_root(flag: str | None = None) -> Path:
    """The data root: the --data-dir flag wins, then $CNNLAB_DATA, then ./data."""
    return Path(flag or os.environ.get(DATA_ENV) or DEFAULT_DATA_DIR).expanduser()


@dataclass
class TrainConfig:
    dataset: str = "mnist"        # a name from cnnlab.datasets.DATASETS
    model: str = "cnn"            # a name from cnnlab.models.MODELS
    optimizer: str = "adam"       # sgd | momentum | rmsprop | adam (the optimizer race compares all four)
    lr: float = 3e-3              # Adam with a one-cycle schedule tolerates a high peak lr
    batch_size: int = 128         # big enough for fast CPU steps, small enough to learn in one epoch
    epochs: int = 3               # the CNN passes 98.5% after ~12 s and 99% after ~21 s on 2 cores
    time_budget_s: float = 0.0    # stop after this many seconds of training (0 = no limit)
    train_size: int = 0           # use only the first N training images (0 = all)
    augment: bool = False         # small random shifts/rotations (helps the longer shipped runs)
    schedule: str = "onecycle"    # onecycle | constant
    weight_decay: float = 0.0     # L2 penalty (AdamW style for Adam)
    finetune: str = "head"        # transfer model only: head | top (last block too) | all
    val_size: int = 2000          # test images used for the live validation points
    eval_every_s: float = 3.0     # seconds between live validation points
    event_every_s: float = 0.25   # at most this long between events (a UI refreshes from these)
    seed: int = 0                 # same seed, same data order, same weights
    layers: list | None = None    # model "custom" only: the student's own stack (cnnlab.builder)

    def to_dict(self) -> dict:
        return asdict(self)


def check_train_config(config: TrainConfig) -> str | None:
    """A sentence saying what is wrong with ``config``, or None when it can run."""
    import math

    from .datasets import get_spec
    from .models import models_for
    try:
        spec = get_spec(config.dataset)
    except KeyError as err:
        return str(err.args[0])
    if config.model == "custom" or config.layers is not None:
        from .builder import BUILT, check
        if config.model != BUILT:
            return f"Layers are for your own network (model {BUILT!r}), not the {config.model} model."
        if config.layers is None:
            return "Your own network has no layers yet: build one in the network builder."
        problem = check(config.layers, spec)
        if problem:
            return problem
    elif config.model not in models_for(spec):
        return (f"The {config.model} model does not fit {spec.title}; choose one of: "
                f"{', '.join(models_for(spec))}.")
    if config.optimizer not in OPTIMIZERS:
        return f"Choose an optimizer from: {', '.join(OPTIMIZERS)}."
    if not (config.lr > 0 and math.isfinite(config.lr)):
        return "The learning rate must be a positive number, e.g. 0.003."
    if config.batch_size < 1 or config.epochs < 1:
        return "Batch size and epochs must be at least 1."
    if config.time_budget_s < 0 or config.train_size < 0:
        return "The time budget and training-set size cannot be negative (0 means no limit)."
    return None


LOOPBACK = ("127.0.0.1", "localhost", "::1")    # hosts only this laptop can reach


@dataclass
class AppConfig:
    host: str = "127.0.0.1"       # loopback unless the teacher asks for the LAN
    port: int = 7860              # Gradio's usual port
    data_dir: str | None = None   # None -> $CNNLAB_DATA or ./data
    checkpoint_dir: str = "checkpoints"   # shipped weights
    runs_dir: str = "runs"        # where trained runs and the class board live
    teacher_key: str | None = None        # if set, teacher actions need it
    teacher_key_generated: bool = False   # made up at start (--lan without a key): printed, never shown
    allow_download: bool = False  # let torchvision download missing data sets
    max_file_size: str = "10mb"   # upload limit
    projector: bool = False       # start in large type and high contrast
    tabs: str | None = None       # comma-separated tab ids for this lesson (None: all)
    # Gradio's temporary files (uploads, GIFs, exports) older than an hour are deleted every 10
    # minutes, so a server that runs all term does not fill the disk.
    delete_cache: tuple[int, int] = (600, 3600)
