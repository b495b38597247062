"""The Playground's settings and their limits, checked here whatever a client sends.

The page trains in the student's browser (cnnlab/ui/web/playground/settings.js holds the same
limits for its controls); the server still checks every setting it is sent (for the PyTorch code
of a setting) with ``check_settings``, which says what is wrong in a sentence (a ``Text``).
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields, replace

from ...i18n import Refusal, Text
from .data import ACTIVATIONS, DATASETS, FEATURES, FEATURES_1D, OPTIMIZERS, REGULARIZATIONS

# ------------------------------------------------------------------ limits (enforced on the server)
MIN_POINTS, MAX_POINTS = 10, 1000        # points in a data set (the race uses the course's 1000)
MAX_OWN_POINTS = 300                     # points a student taps or pastes (a CSV of a few kB)
OWN_RANGE = 100.0                        # |a coordinate| of an own point
MAX_HIDDEN_LAYERS = 6                    # hidden layers 0-6 ...
MAX_NEURONS = 16                         # ... of 1-16 neurons: at most ~1,700 weights per net
MAX_STEPS_PER_FRAME = 25                 # the Speed slider (steps the browser runs per frame)
# A step's work: examples in the batch x the network's weights. A phone keeps >= 10 steps a frame
# at 30 frames a second up to this (bench/playground_browser.py: the largest network, 1,556
# weights, at batch 32); a bigger network gets a smaller largest batch (max_batch).
MAX_STEP_WORK = 50_000
MAX_RUN_STEPS = 20_000                   # then the run pauses: Reset to start again
MAX_CODE_STEPS = 100_000                 # STEPS in the code the page shows
LR_RANGE = (1e-5, 10.0)                  # TensorFlow Playground's choices span 0.00001-10
NOISE_RANGE = (0.0, 2.0)                 # in the data set's own units (the clouds' std is 1)
TRAIN_RATIO_RANGE = (0.1, 1.0)           # 1.0: every point trains, as in the course
CLASSES_RANGE = (2, 4)                   # Gaussian clouds, spiral arms, own classes
REG_RATE_RANGE = (0.0, 10.0)
MAX_SEED = 2**31 - 1

LIMITS = {
    "points": (MIN_POINTS, MAX_POINTS), "own_points": (2, MAX_OWN_POINTS), "hidden_layers": (0, MAX_HIDDEN_LAYERS),
    "neurons": (1, MAX_NEURONS), "steps_per_frame": (1, MAX_STEPS_PER_FRAME), "batch_size": (1, MAX_POINTS),
    "lr": LR_RANGE, "noise": NOISE_RANGE, "train_ratio": TRAIN_RATIO_RANGE, "classes": CLASSES_RANGE,
    "reg_rate": REG_RATE_RANGE, "run_steps": (0, MAX_RUN_STEPS), "code_steps": (0, MAX_CODE_STEPS),
}


@dataclass(frozen=True)
class Settings:
    """One playground's settings; the default is the course's first lesson. The browser's
    settings object has the same fields and names."""
    dataset: str = "curve"
    classes: int = 2                           # Gaussian clouds / spiral arms / own classes (2-4)
    noise: float = 0.2                         # in the data set's own units
    points: int = 100
    train_ratio: float = 1.0                   # share of the points used for training; the rest test
    features: tuple[str, ...] = ("x1",)
    hidden: tuple[int, ...] = (10,)            # neurons in each hidden layer
    activation: str = "relu"
    regularization: str = "none"               # none | L1 | L2 (on the weights, not the biases)
    reg_rate: float = 0.0
    optimizer: str = "sgd"
    lr: float = 0.2
    batch_size: int = 100                      # >= the training points: every step sees them all
    steps_per_frame: int = 5                   # the course redraws every 5 (curve) or 2 (clouds) steps
    data_seed: int = 1                         # "New points" picks a new one
    seed: int = 1                              # the network's initial weights
    own: tuple[tuple[float, ...], ...] = ()    # own data: (x1, x2, class) or (x, y) rows

    def to_dict(self) -> dict:
        return asdict(self)


# The course's programs, exactly (lesson 3 is the optimizer race, cnnlab.lessons.playground.code).
PRESETS = {
    "regression": Settings(),
    "classification": Settings(dataset="two-clouds", noise=1.0, points=200, features=("x1", "x2"),
                               lr=0.02, batch_size=200, steps_per_frame=2),
}
PRESET_STEPS = {"regression": 200, "classification": 100}     # how long the course trains them


class SettingsError(Refusal, ValueError):
    """A setting out of range; its argument is a ``Text`` (cnnlab.i18n) that says which and what is
    allowed (``str(err)`` is the English sentence)."""


def _number(name, value, lo, hi, whole=False) -> None:
    if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value) \
            or not lo <= value <= hi:
        raise SettingsError(Text("playground.out_of_range", what=Text(f"playground.what.{name}"),
                                 low=f"{lo:g}", high=f"{hi:g}", got=repr(value)))
    if whole and value != int(value):
        raise SettingsError(Text("playground.not_a_number"))


def _check_own(s: Settings, spec) -> None:
    rows = s.own
    if not isinstance(rows, tuple) or not 2 <= len(rows) <= MAX_OWN_POINTS:
        raise SettingsError(Text("playground.own_count", least=2, most=MAX_OWN_POINTS, got=len(rows or ())))
    width = 3 if spec.task == "classification" else 2
    for i, row in enumerate(rows):
        if not isinstance(row, tuple) or len(row) != width or any(
                not isinstance(v, (int, float)) or isinstance(v, bool) or not math.isfinite(v) or abs(v) > OWN_RANGE
                for v in row):
            raise SettingsError(Text("playground.own_bad_point", n=i + 1, most=f"{OWN_RANGE:g}"))
        if width == 3 and (row[2] != int(row[2]) or not 0 <= row[2] < s.classes):
            raise SettingsError(Text("playground.own_bad_class", n=i + 1, most=s.classes - 1))


def check_settings(s: Settings) -> Settings:
    """``s`` if every setting is within the limits; else ``SettingsError`` with a sentence."""
    if s.dataset not in DATASETS:
        raise SettingsError(Text("playground.no_dataset", name=repr(s.dataset), choices=", ".join(DATASETS)))
    spec = DATASETS[s.dataset]
    if spec.own:
        _check_own(s, spec)
    else:
        _number("points", s.points, MIN_POINTS, MAX_POINTS, whole=True)
    _number("noise", s.noise, *NOISE_RANGE)
    _number("train_ratio", s.train_ratio, *TRAIN_RATIO_RANGE)
    _number("classes", s.classes, *CLASSES_RANGE, whole=True)
    if not isinstance(s.hidden, tuple) or len(s.hidden) > MAX_HIDDEN_LAYERS:
        raise SettingsError(Text("playground.max_layers", most=MAX_HIDDEN_LAYERS))
    for width in s.hidden:
        _number("neurons", width, 1, MAX_NEURONS, whole=True)
    if s.activation not in ACTIVATIONS:
        raise SettingsError(Text("playground.choose_activation", choices=", ".join(ACTIVATIONS)))
    if s.regularization not in REGULARIZATIONS:
        raise SettingsError(Text("playground.choose_regularization", choices=", ".join(REGULARIZATIONS)))
    _number("reg_rate", s.reg_rate, *REG_RATE_RANGE)
    if s.optimizer not in OPTIMIZERS:
        raise SettingsError(Text("playground.choose_optimizer", choices=", ".join(OPTIMIZERS)))
    _number("lr", s.lr, *LR_RANGE)
    _number("batch_size", s.batch_size, 1, MAX_POINTS, whole=True)
    _number("steps_per_frame", s.steps_per_frame, 1, MAX_STEPS_PER_FRAME, whole=True)
    _number("data_seed", s.data_seed, 0, MAX_SEED, whole=True)
    _number("seed", s.seed, 0, MAX_SEED, whole=True)
    allowed = FEATURES_1D if spec.dims == 1 else FEATURES
    if not isinstance(s.features, tuple) or not s.features or any(f not in allowed for f in s.features):
        raise SettingsError(Text("playground.pick_features", choices=", ".join(allowed)))
    if len(set(s.features)) != len(s.features):
        raise SettingsError(Text("playground.feature_once"))
    if s.batch_size > (most := max_batch(s)):
        raise SettingsError(Text("playground.batch_too_big", most=most))
    return s


def usable(s: Settings) -> Settings:
    """``s`` with what does not apply to its data set adjusted: a curve's features keep only those
    of x1 (x1 when none is left); own data counts its own points; a batch over the network's
    largest (``max_batch``) is lowered to it."""
    spec = DATASETS.get(s.dataset)
    features = tuple(dict.fromkeys(s.features)) if isinstance(s.features, tuple) else s.features
    if spec is not None and spec.dims == 1 and isinstance(features, tuple):
        features = tuple(f for f in features if f in FEATURES_1D) or ("x1",)
    points = len(s.own) if spec is not None and spec.own and isinstance(s.own, tuple) else s.points
    s = replace(s, features=features, points=points)
    try:
        most = max_batch(s)
    except (TypeError, ValueError, KeyError):       # check_settings names what is wrong
        return s
    if isinstance(s.batch_size, int) and not isinstance(s.batch_size, bool) and most < s.batch_size <= MAX_POINTS:
        s = replace(s, batch_size=most)          # out of range altogether: check_settings refuses it
    return s


def weight_count(s: Settings) -> int:
    """The network's weights and biases: features -> hidden... -> classes (or 1 value)."""
    sizes = [len(s.features), *s.hidden, classes_of(s) or 1]
    return sum((a + 1) * b for a, b in zip(sizes, sizes[1:]))


def max_batch(s: Settings) -> int:
    """The largest batch the settings' network may train on (``MAX_STEP_WORK``)."""
    return max(1, min(MAX_POINTS, int(MAX_STEP_WORK // weight_count(s))))


def classes_of(s: Settings) -> int:
    spec = DATASETS[s.dataset]
    return (s.classes if spec.many_classes else 2) if spec.task == "classification" else 0


MAX_FIELD_ITEMS = 1000          # no list from a client is longer (own points: MAX_OWN_POINTS)


def from_browser(values) -> Settings:
    """The browser's settings object (a dict with Settings' field names) -> checked Settings, or
    ``SettingsError`` with a sentence. Lists become tuples; unknown fields are ignored."""
    if not isinstance(values, dict):
        raise SettingsError(Text("playground.not_a_number"))
    known = {f.name for f in fields(Settings)}
    given = {}
    for name, value in values.items():
        if name not in known:
            continue
        if isinstance(value, list):
            if len(value) > MAX_FIELD_ITEMS:
                raise SettingsError(Text("playground.own_count", least=2, most=MAX_OWN_POINTS, got=len(value)))
            value = tuple(tuple(v[:4]) if isinstance(v, list) else v for v in value)
        given[name] = value
    try:
        s = Settings(**given)
    except TypeError:
        raise SettingsError(Text("playground.not_a_number")) from None
    return check_settings(usable(s))
