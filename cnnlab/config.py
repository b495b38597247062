"""Settings in one visible place. UI controls and CLI flags read their defaults from here."""
from __future__ import annotations

import math
import os
from dataclasses import asdict, dataclass
from pathlib import Path

from .i18n import Refusal, Text

DATA_ENV = "CNNLAB_DATA"          # environment variable naming the data root
DEFAULT_DATA_DIR = "./data"       # where torchvision puts downloads when no root is given
OPTIMIZERS = ("sgd", "momentum", "rmsprop", "adam")


def data_root(flag: str | None = None) -> Path:
    """The data root: the --data-dir flag wins, then $CNNLAB_DATA, then ./data."""
    return Path(flag or os.environ.get(DATA_ENV) or DEFAULT_DATA_DIR).expanduser()


@dataclass
class TrainConfig:
    dataset: str = "mnist"        # a name from cnnlab.core.datasets.DATASETS
    model: str = "cnn"            # a name from cnnlab.core.nets.models.MODELS
    optimizer: str = "adam"       # sgd | momentum | rmsprop | adam (the optimizer race compares all four)
    lr: float = 8e-3              # Adam with a one-cycle schedule tolerates a high peak lr
    batch_size: int = 64          # twice the steps of 128 in an epoch, for 20% fewer images a second
    epochs: int = 1               # the CNN ends one epoch at 99.0-99.1% (bench/train_speed.py)
    time_budget_s: float = 0.0    # stop after this many seconds of training (0 = no limit)
    train_size: int = 0           # use only the first N training images (0 = all)
    augment: bool = False         # small random shifts/rotations (helps the longer shipped runs)
    schedule: str = "onecycle"    # onecycle | constant
    weight_decay: float = 0.0     # L2 penalty (AdamW style for Adam)
    dropout: float | None = 0.0   # p of a registry model's dropout layers in this run (None: the
                                  # model's own): a one-epoch run reaches 99% sooner without it
    finetune: str = "head"        # transfer model only: head | top (last block too) | all
    val_size: int = 2000          # test images used for the live validation points
    eval_every_s: float = 1.0     # seconds between live validation points (a run lasts ~15 s)
    event_every_s: float = 0.25   # at most this long between events (a UI refreshes from these)
    seed: int = 0                 # same seed, same data order, same weights
    calib_size: int = 1000        # training images kept out of training (at most a tenth): the
                                  # temperature that makes the confidence honest is fitted on them
    layers: list | None = None    # model "custom" only: the student's own stack (cnnlab.core.nets.builder)

    def to_dict(self) -> dict:
        return asdict(self)


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
    lesson: str | None = None     # a lesson plan (cnnlab/lessons/plans/NAME.json) the teacher leads
    # Gradio's temporary files (uploads, GIFs, exports) older than an hour are deleted every 10
    # minutes, so a server that runs all term does not fill the disk.
    delete_cache: tuple[int, int] = (600, 3600)


# --------------------------------------------------------------------------- limits
# Every setting a student, a teacher or an API caller can send, with its allowed range. The server
# enforces these (ui handlers, TrainJob, the fine-tune and t-SNE code); widgets only show them.
# The memory bounds were measured with bench/peak_memory.py: with the shipped data sets the worst
# run the app accepts peaks well under 3 GB of server memory (figures in that script's docstring).

@dataclass(frozen=True)
class Limit:
    label: str                    # how a sentence names the setting: its key in cnnlab/i18n ("limits.<name>")
    low: float
    high: float
    why: str                      # the reason for the bounds (shown in docs, kept next to the numbers)
    integer: bool = True
    unit: str = ""                # key of the unit after the numbers in sentences ("limits.seconds")
    zero: str = ""                # key of what 0 means, when 0 is special ("limits.no_limit")

    def describe(self) -> Text:
        """"between 1 and 1,024", "between 0 and 600 seconds (0 = no limit)", as a Text."""
        return Text("limits.between_unit" if self.unit else "limits.between",
                    low=_number(self.low), high=_number(self.high), unit=Text(self.unit) if self.unit else "",
                    zero=Text("limits.zero_means", meaning=Text(self.zero)) if self.zero else "")

    def name(self) -> Text:
        return Text(self.label)


LIMITS: dict[str, Limit] = {
    # ---- the shared training run (Train tab, /train_start, /train_race, TrainJob)
    "batch_size": Limit("limits.batch_size", 1, 1024,
                        "peak memory grows with the batch: at 1024 the app peaks at 1.7 GB (deep CNN, "
                        "augment) and 1.8 GB (the race); 2048 adds ~0.5 GB more; 30000 took 9 GB"),
    "backbone_batch_size": Limit("limits.backbone_batch_size",
                                 1, 256,
                                 "the last block keeps ~2.6 MB of activations per photo for the backward pass: "
                                 "256 adds 0.7 GB to the ~1.5 GB a flowers5 run holds, 1024 would add 2.7 GB"),
    "epochs": Limit("limits.epochs", 1, 20,
                    "a lesson's run: 20 epochs of the deep CNN take over half an hour on a 2-core laptop"),
    "time_budget_s": Limit("limits.time_budget_s", 0, 600,
                           "at most 10 minutes of a lesson; for longer runs choose 0 and press Stop",
                           integer=False, unit="limits.seconds", zero="limits.no_limit"),
    "lr": Limit("limits.lr", 1e-6, 10.0,
                "below 1e-6 nothing visibly changes in a lesson; 10 already makes every optimizer diverge "
                "(which is worth showing once)", integer=False),
    "train_size": Limit("limits.train_size", 0, 60_000,
                        "the largest training set (MNIST, Fashion-MNIST) has 60,000 images", zero="limits.all_images"),
    "weight_decay": Limit("limits.weight_decay", 0.0, 1.0, "an L2 penalty above 1 wipes out any model",
                          integer=False),
    "dropout": Limit("limits.dropout", 0.0, 0.9, "above 0.9 almost nothing reaches the next layer",
                     integer=False),
    "val_size": Limit("limits.val_size", 100, 10_000,
                      "live validation points: fewer than 100 images give noisy curves; 10,000 is a whole "
                      "test set", ),
    # ---- the hyperparameter grid (Train tab's "Hyperparameter grid", /train_grid, cnnlab.core.sweep)
    "grid_configs": Limit("limits.grid_configs", 1, 12,
                          "learning rates x batch sizes x optimizers x models, one after the other: 12 short "
                          "runs already fill a lesson's quarter of an hour on a 2-core laptop"),
    "grid_seconds": Limit("limits.grid_seconds", 30, 900,
                          "the whole grid's training time, shared equally by its configurations (each also "
                          "needs a second or two for its test); 15 minutes is as long as a class watches",
                          integer=False, unit="limits.seconds"),
    # ---- the class board's correction loop (/board_finetune, cnnlab.core.finetune)
    "finetune_seconds": Limit("limits.finetune_seconds", 2, 30,
                              "the class waits for the result: 2 s already changes the model, 30 s is the "
                              "longest a room stays patient", integer=False, unit="limits.seconds"),
    "finetune_epochs": Limit("limits.finetune_epochs", 1, 50, "passes over the class's drawings; the time "
                             "budget ends it sooner anyway"),
    "finetune_lr": Limit("limits.finetune_lr", 1e-6, 0.1,
                         "adjust the trained network, do not wreck it", integer=False),
    "finetune_batch_size": Limit("limits.finetune_batch_size", 1, 256, "a class makes a few dozen to a few "
                                 "hundred drawings; small batches learn from few"),
    "finetune_mnist_mix": Limit("limits.finetune_mnist_mix", 0, 10_000,
                                "a few hundred keep what the model knew; more only slows each pass"),
    "finetune_test_size": Limit("limits.finetune_test_size", 100, 10_000,
                                "the MNIST test set has 10,000 digits"),
    # ---- t-SNE maps (/tsne_*, cnnlab.core.maps.MapCache)
    "tsne_points": Limit("limits.tsne_points", 500, 10_000,
                         "fewer than 500 points show no clusters; 10,000 (the whole MNIST test set) takes "
                         "~40 s of CPU and peaks at ~1 GB"),
    "tsne_perplexity": Limit("limits.tsne_perplexity", 5, 100,
                             "t-SNE looks at ~3x perplexity neighbours per point: below 5 the map shatters, "
                             "above 100 it blurs and slows down", integer=False),
    # ---- the class's own classes (Own classes tab, cnnlab.lessons.own.data / cnnlab.lessons.own.model)
    "own_classes": Limit("Classes", 2, 10,
                         "two classes make the smallest classifier; ten fit the projector's confusion matrix "
                         "and a lesson's time to collect pictures"),
    "own_class_pictures": Limit("Pictures in one class", 5, 300,
                                "fewer than 5 leave nothing to test on; 300 pictures at 224 px are ~5 MB on "
                                "disk and their backbone features ~0.8 MB"),
    "own_pictures": Limit("Pictures in all classes", 10, 1500,
                          "1,500 small JPEGs are ~25 MB on the laptop; reading them all through the backbone "
                          "once takes about 1.5 minutes on 2 cores, training on them a few seconds"),
    "own_epochs": Limit("Epochs (own classes)", 1, 200,
                        "the head trains on cached features: 200 passes over 1,500 pictures take seconds"),
    "own_lr": Limit("Learning rate (own classes)", 1e-5, 1.0, "a linear head on fixed features", integer=False),
}
FINETUNE_MODES = ("head", "top", "all")        # transfer model: what trains (TrainConfig.finetune)
SHARED_FINETUNE_MODES = ("head", "top")        # what the shared run accepts: "all" evaluates 500 photos at
# a time through the whole backbone (+8.2 GB measured) and trains at +86 MB per photo, for hours on a CPU
SCHEDULES = ("onecycle", "constant")


class LimitError(Refusal, ValueError):
    """A setting outside its allowed range; its argument is a Text (cnnlab.i18n) for the user."""


def _number(value: float) -> str:
    if float(value).is_integer():
        return f"{int(value):,}"
    return f"{value:g}"


def check(name: str, value):
    """``value`` as the setting ``name`` needs it (int or float), or a LimitError whose message names
    the allowed range, e.g. "Batch size must be between 1 and 1,024; you asked for 30,000."."""
    limit = LIMITS[name]
    shown = repr(value)[:30] if isinstance(value, str) else str(value)[:30]
    not_a_number = LimitError(Text("limits.not_a_number", setting=limit.name(), range=limit.describe(), sent=shown,
                                   kind=Text("limits.whole_number" if limit.integer else "limits.number")))
    if isinstance(value, bool) or value is None:
        raise not_a_number
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise not_a_number from None
    if not math.isfinite(number) or (limit.integer and not number.is_integer()):
        raise not_a_number
    if not limit.low <= number <= limit.high:
        raise LimitError(Text("limits.out_of_range", setting=limit.name(), range=limit.describe(),
                              asked=_number(number)))
    return int(number) if limit.integer else number


def check_flag(label: Text | str, value) -> bool:
    """True/False from a checkbox or an API caller (which may send 0/1 or "true"/"false")."""
    if isinstance(value, bool):
        return value
    if value in (0, 1) and not isinstance(value, float):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    raise LimitError(Text("limits.not_a_flag", setting=label, sent=repr(str(value)[:30])))


def check_choice(label: Text | str, value, choices) -> str:
    if value not in choices:
        raise LimitError(Text("limits.not_a_choice", setting=label, choices=", ".join(map(str, choices)),
                              sent=repr(str(value)[:40])))
    return value


FINETUNE_FIELDS = {"time_budget_s": "finetune_seconds", "epochs": "finetune_epochs", "lr": "finetune_lr",
                   "batch_size": "finetune_batch_size", "mnist_mix": "finetune_mnist_mix",
                   "test_size": "finetune_test_size"}


def check_finetune(config):
    """Raise LimitError unless a cnnlab.core.finetune.FinetuneConfig's settings are all allowed."""
    for attr, name in FINETUNE_FIELDS.items():
        check(name, getattr(config, attr))
    check_flag(Text("limits.augment"), config.augment)
    return config


def check_tsne(n, perplexity) -> tuple[int, float]:
    """(points, perplexity) of a t-SNE map, or a LimitError naming the allowed range."""
    return check("tsne_points", n), float(check("tsne_perplexity", perplexity))
