"""Settings in one visible place. UI controls and CLI flags read their defaults from here."""
from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
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
    optimizer: str = "adam"       # sgd | momentum | rmsprop | adam (seed 001 compares all four)
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
    num_workers: int = 0          # photo loading workers (MNIST-like sets live in memory)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, values: dict) -> "TrainConfig":
        known = {f for f in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in values.items() if k in known})


@dataclass
class AppConfig:
    host: str = "127.0.0.1"       # loopback unless the teacher asks for the LAN
    port: int = 7860              # Gradio's usual port
    data_dir: str | None = None   # None -> $CNNLAB_DATA or ./data
    checkpoint_dir: str = "checkpoints"   # shipped weights
    runs_dir: str = "runs"        # where trained runs and the class board live
    teacher_key: str | None = None        # if set, start/stop/reset need it
    allow_download: bool = False  # let torchvision download missing data sets
    max_file_size: str = "10mb"   # upload limit
    extra: dict = field(default_factory=dict)
