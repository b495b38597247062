"""The Playground: toy data sets and tiny networks, one per student, trained a few steps at a time.

The course's first lessons start here, before CNNs: fitting a curve (``y = x^2 + noise`` with a
``Linear(1,10)-ReLU-Linear(10,1)`` net), separating two clouds, and racing four optimizers. Next to
them are TensorFlow Playground's data sets (circle, XOR, spiral, Gaussian; two regression sets).

A ``Playground`` holds one student's data, network, optimizer and history; the UI keeps it in
``gr.State`` and calls ``step`` a few steps at a time (a timer tick, a Step click), then ``frame``:
a small JSON-able dict (a 40x40 PNG of the decision boundary, the points as 4 bytes each, the
curves) that the page draws. Nothing here knows about Gradio. Every limit is in ``LIMITS`` below
and enforced by ``check_settings`` and ``Playground.step``, whatever a client sends.
"""
from __future__ import annotations

import base64
import contextlib
import copy
import io
import math
import threading
import time
from dataclasses import asdict, dataclass, field, replace
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageDraw, ImageFont
from torch import nn

from ..i18n import DEFAULT, Text, tr

# ------------------------------------------------------------------ limits (enforced on the server)
# cnnlab.config has no table of limits yet (another branch adds one); these are the Playground's.
MIN_POINTS, MAX_POINTS = 10, 1000        # points in a data set (the race uses the course's 1000)
MAX_HIDDEN_LAYERS = 6                    # hidden layers 0-6 ...
MAX_NEURONS = 16                         # ... of 1-16 neurons: at most ~1,700 weights per net
MAX_STEPS_PER_CALL = 25                  # steps one call may run (a timer tick, a Step click) ...
MAX_CALL_S = 0.05                        # ... and at most this long, whatever the net costs
MAX_RUN_STEPS = 20_000                   # then the run pauses: Reset to start again
LR_RANGE = (1e-5, 10.0)                  # TensorFlow Playground's choices span 0.00001-10
NOISE_RANGE = (0.0, 2.0)                 # in the data set's own units (the clouds' std is 1)
TRAIN_RATIO_RANGE = (0.1, 1.0)           # 1.0: every point trains, as in the course
CLASSES_RANGE = (2, 4)                   # Gaussian clouds and spiral arms
REG_RATE_RANGE = (0.0, 10.0)
MAX_SEED = 2**31 - 1
CPU_SHARE = 0.30                         # all students' playground work together: at most this
                                         # share of one core (``GATE``); the Draw tab keeps the rest
EVENT_CPU_S = 0.012                      # the server's own CPU per frame sent on a stream (JSON, SSE),
                                         # counted against CPU_SHARE too (bench/playground_load.py: ~14 ms)
MAX_CATCH_UP = 4                         # a late frame runs up to 4x its steps (same learning speed)

LIMITS = {
    "points": (MIN_POINTS, MAX_POINTS), "hidden_layers": (0, MAX_HIDDEN_LAYERS),
    "neurons": (1, MAX_NEURONS), "steps_per_call": (1, MAX_STEPS_PER_CALL), "batch_size": (1, MAX_POINTS),
    "lr": LR_RANGE, "noise": NOISE_RANGE, "train_ratio": TRAIN_RATIO_RANGE, "classes": CLASSES_RANGE,
    "reg_rate": REG_RATE_RANGE, "run_steps": (0, MAX_RUN_STEPS), "cpu_share": (0, CPU_SHARE),
}

# What one frame holds (sizes chosen so a frame is a few kB).
GRID = 40                 # the decision boundary: GRID x GRID predictions, sent as a PNG
NEURON_GRID = 16          # each hidden neuron's output over the plane, NEURON_GRID^2 pixels
CURVE_SAMPLES = 120       # the fitted curve (1-D data), sampled this often
MAX_HISTORY = 200         # points per loss curve; every other one is dropped when full
MAX_GIF_FRAMES = 60       # frames kept for the GIF; every other one dropped when full
DOMAIN_2D = (-6.0, 6.0)   # the input plane shown, as in TensorFlow Playground

# Okabe-Ito colours (colour-blind safe), as in cnnlab.core.plots: orange and blue first, as in
# TensorFlow Playground.
CLASS_RGB = ((230, 159, 0), (0, 114, 178), (0, 158, 115), (204, 121, 167))


class CpuGate:
    """All playground work of all students, one piece at a time and at most ``share`` of one core
    on average: after a piece that used t seconds of CPU the gate stays shut until
    (t + event_cpu_s) / share has passed since it started (capped at ``max_wait_s``); event_cpu_s
    is what the web server spends on each request around the handler, which only fewer requests
    can save. A waiting request sleeps (no CPU); the queue lengthens instead, so
    with many students each gets fewer frames a second while the Draw tab keeps its speed. One
    student alone never waits (a frame costs a few ms; ticks come every 0.25 s)."""

    def __init__(self, share: float = CPU_SHARE, event_cpu_s: float = EVENT_CPU_S, max_wait_s: float = 0.5):
        self.share, self.event_cpu_s, self.max_wait_s = share, event_cpu_s, max_wait_s
        self._lock = threading.Lock()
        self._free_at = 0.0
        self.waited_s = 0.0                  # total time requests slept here (for benchmarks)

    @contextlib.contextmanager
    def __call__(self):
        with self._lock:
            wait = min(self._free_at - time.perf_counter(), self.max_wait_s)
            if wait > 0:
                time.sleep(wait)
                self.waited_s += wait
            cpu = time.thread_time()
            try:
                yield
            finally:
                spent = time.thread_time() - cpu
                self._free_at = time.perf_counter() + (spent + self.event_cpu_s) / self.share - spent


GATE = CpuGate()


# ------------------------------------------------------------------ data sets
# Every maker is (n, noise, classes, generator) -> (x, y): x (n, 1 or 2) floats; y (n,) class
# indices or (n, 1) targets. They are short on purpose: the code the page shows includes them.

def curve(n, noise, classes, g):
    """Course lesson 1: y = x^2 plus uniform noise (0.2 in the course), x evenly spaced in [-1, 1]."""
    x = torch.unsqueeze(torch.linspace(-1, 1, n), dim=1)              # (n, 1)
    y = x.pow(2) + noise * torch.rand(x.size(), generator=g)           # (n, 1)
    return x, y


def two_clouds(n, noise, classes, g):
    """Course lesson 2: two Gaussian clouds centred at (2, 2) and (-2, -2), std = noise (1 in the course)."""
    n_data = torch.ones(n // 2, 2)
    x0 = torch.normal(2 * n_data, noise, generator=g)                  # class 0, (n/2, 2)
    x1 = torch.normal(-2 * n_data, noise, generator=g)                 # class 1, (n/2, 2)
    x = torch.cat((x0, x1), 0).float()                                 # (n, 2)
    y = torch.cat((torch.zeros(n // 2), torch.ones(n // 2))).long()    # (n,)
    return x, y


def circle(n, noise, classes, g):
    """A disc of class 0 inside a ring of class 1."""
    r = torch.cat((2 * torch.rand(n // 2, generator=g), 3 + 2 * torch.rand(n - n // 2, generator=g)))
    angle = 2 * math.pi * torch.rand(n, generator=g)
    x = torch.stack((r * torch.cos(angle), r * torch.sin(angle)), 1)
    y = (torch.arange(n) >= n // 2).long()
    return x + noise * torch.randn(n, 2, generator=g), y


def xor(n, noise, classes, g):
    """Class 1 where x1 and x2 have the same sign."""
    x = 10 * torch.rand(n, 2, generator=g) - 5
    x = x + 0.3 * torch.sign(x)                                        # a gap along the axes
    y = (x[:, 0] * x[:, 1] > 0).long()
    return x + noise * torch.randn(n, 2, generator=g), y


def spiral(n, noise, classes, g):
    """One spiral arm per class, wound around the centre."""
    y = torch.arange(n) % classes
    t = torch.rand(n, generator=g)                                     # 0 at the centre, 1 at the tip
    angle = 3.5 * math.pi * t + 2 * math.pi * y / classes
    x = torch.stack((5 * t * torch.cos(angle), 5 * t * torch.sin(angle)), 1)
    return x + noise * torch.randn(n, 2, generator=g), y


def gaussian(n, noise, classes, g):
    """One Gaussian cloud per class, the centres on a circle, std = noise."""
    y = torch.arange(n) % classes
    angle = 2 * math.pi * y / classes + math.pi / 4
    centres = 3.5 * torch.stack((torch.cos(angle), torch.sin(angle)), 1)
    return centres + noise * torch.randn(n, 2, generator=g), y


def plane(n, noise, classes, g):
    """Regression: a tilted plane, y = (x1 + x2) / 10, plus noise."""
    x = 12 * torch.rand(n, 2, generator=g) - 6
    y = (x[:, :1] + x[:, 1:]) / 10
    return x, y + noise * torch.randn(n, 1, generator=g)


def bumps(n, noise, classes, g):
    """Regression: two hills and two valleys, y = a sum of Gaussian bumps, plus noise."""
    x = 12 * torch.rand(n, 2, generator=g) - 6
    centres = torch.tensor([[-3.0, 3.0], [3.0, 3.0], [-3.0, -3.0], [3.0, -3.0]])
    heights = torch.tensor([1.0, -1.0, -1.0, 1.0])
    d2 = ((x[:, None, :] - centres) ** 2).sum(-1)                      # (n, 4)
    y = (heights * torch.exp(-d2 / 4)).sum(1, keepdim=True)            # (n, 1)
    return x, y + noise * torch.randn(n, 1, generator=g)


@dataclass(frozen=True)
class ToyData:
    name: str
    make: object                   # one of the makers above
    task: str                      # "classification" | "regression"
    dims: int                      # 1 (a curve over x) or 2 (the plane)
    noise: float                   # default noise
    points: int                    # default number of points
    many_classes: bool = False     # the Classes setting applies (2-4)


DATASETS = {
    "curve": ToyData("curve", curve, "regression", 1, 0.2, 100),
    "two-clouds": ToyData("two-clouds", two_clouds, "classification", 2, 1.0, 200),
    "circle": ToyData("circle", circle, "classification", 2, 0.2, 300),
    "xor": ToyData("xor", xor, "classification", 2, 0.2, 300),
    "spiral": ToyData("spiral", spiral, "classification", 2, 0.1, 400, many_classes=True),
    "gaussian": ToyData("gaussian", gaussian, "classification", 2, 1.0, 300, many_classes=True),
    "plane": ToyData("plane", plane, "regression", 2, 0.05, 300),
    "bumps": ToyData("bumps", bumps, "regression", 2, 0.05, 400),
}

# Input features: what the first layer sees, computed from the point (x1, x2).
FEATURES = {
    "x1": lambda x: x[:, 0:1], "x2": lambda x: x[:, 1:2],
    "x1^2": lambda x: x[:, 0:1] ** 2, "x2^2": lambda x: x[:, 1:2] ** 2,
    "x1*x2": lambda x: x[:, 0:1] * x[:, 1:2],
    "sin(x1)": lambda x: torch.sin(x[:, 0:1]), "sin(x2)": lambda x: torch.sin(x[:, 1:2]),
}
# The same as source code, for the code the page shows (tests check the two agree).
FEATURE_CODE = {"x1": "x[:, 0:1]", "x2": "x[:, 1:2]", "x1^2": "x[:, 0:1] ** 2", "x2^2": "x[:, 1:2] ** 2",
                "x1*x2": "x[:, 0:1] * x[:, 1:2]", "sin(x1)": "torch.sin(x[:, 0:1])",
                "sin(x2)": "torch.sin(x[:, 1:2])"}
FEATURES_1D = ("x1", "x1^2", "sin(x1)")          # a curve has no x2

ACTIVATIONS = {"relu": F.relu, "tanh": torch.tanh, "sigmoid": torch.sigmoid, "linear": lambda x: x}
ACTIVATION_CODE = {"relu": "F.relu({})", "tanh": "torch.tanh({})", "sigmoid": "torch.sigmoid({})",
                   "linear": "{}"}
REGULARIZATIONS = ("none", "L1", "L2")

# The course's four optimizers, with the course's settings (Momentum 0.8, RMSprop alpha 0.9,
# Adam betas 0.9 and 0.99).
OPTIMIZERS = {
    "sgd": ("SGD", lambda p, lr: torch.optim.SGD(p, lr=lr), "torch.optim.SGD(net.parameters(), lr=LR)"),
    "momentum": ("Momentum", lambda p, lr: torch.optim.SGD(p, lr=lr, momentum=0.8),
                 "torch.optim.SGD(net.parameters(), lr=LR, momentum=0.8)"),
    "rmsprop": ("RMSprop", lambda p, lr: torch.optim.RMSprop(p, lr=lr, alpha=0.9),
                "torch.optim.RMSprop(net.parameters(), lr=LR, alpha=0.9)"),
    "adam": ("Adam", lambda p, lr: torch.optim.Adam(p, lr=lr, betas=(0.9, 0.99)),
             "torch.optim.Adam(net.parameters(), lr=LR, betas=(0.9, 0.99))"),
}


@dataclass(frozen=True)
class Settings:
    """One playground's settings; the default is the course's first lesson."""
    dataset: str = "curve"
    classes: int = 2                           # Gaussian clouds / spiral arms (2-4)
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
    data_seed: int = 1                         # "Regenerate" picks a new one
    seed: int = 1                              # the network's initial weights

    def to_dict(self) -> dict:
        return asdict(self)


# The course's three programs, exactly (lesson 3 is the optimizer race, ``Race`` below).
PRESETS = {
    "regression": Settings(),
    "classification": Settings(dataset="two-clouds", noise=1.0, points=200, features=("x1", "x2"),
                               lr=0.02, batch_size=200, steps_per_frame=2),
}
PRESET_STEPS = {"regression": 200, "classification": 100}     # how long the course trains them


class SettingsError(ValueError):
    """A setting out of range; its argument is a ``Text`` (cnnlab.i18n) that says which and what is
    allowed (``str(err)`` is the English sentence)."""


def check_settings(s: Settings) -> Settings:
    """``s`` if every setting is within the limits; else ``SettingsError`` with a sentence."""
    def number(name, value, lo, hi):
        if not isinstance(value, (int, float)) or isinstance(value, bool) or not math.isfinite(value) \
                or not lo <= value <= hi:
            raise SettingsError(Text("playground.out_of_range", what=Text(f"playground.what.{name}"),
                                     low=f"{lo:g}", high=f"{hi:g}", got=repr(value)))

    if s.dataset not in DATASETS:
        raise SettingsError(Text("playground.no_dataset", name=repr(s.dataset), choices=", ".join(DATASETS)))
    number("points", s.points, MIN_POINTS, MAX_POINTS)
    number("noise", s.noise, *NOISE_RANGE)
    number("train_ratio", s.train_ratio, *TRAIN_RATIO_RANGE)
    number("classes", s.classes, *CLASSES_RANGE)
    if not isinstance(s.hidden, tuple) or len(s.hidden) > MAX_HIDDEN_LAYERS:
        raise SettingsError(Text("playground.max_layers", most=MAX_HIDDEN_LAYERS))
    for width in s.hidden:
        number("neurons", width, 1, MAX_NEURONS)
    if s.activation not in ACTIVATIONS:
        raise SettingsError(Text("playground.choose_activation", choices=", ".join(ACTIVATIONS)))
    if s.regularization not in REGULARIZATIONS:
        raise SettingsError(Text("playground.choose_regularization", choices=", ".join(REGULARIZATIONS)))
    number("reg_rate", s.reg_rate, *REG_RATE_RANGE)
    if s.optimizer not in OPTIMIZERS:
        raise SettingsError(Text("playground.choose_optimizer", choices=", ".join(OPTIMIZERS)))
    number("lr", s.lr, *LR_RANGE)
    number("batch_size", s.batch_size, 1, MAX_POINTS)
    number("steps_per_frame", s.steps_per_frame, 1, MAX_STEPS_PER_CALL)
    number("data_seed", s.data_seed, 0, MAX_SEED)
    number("seed", s.seed, 0, MAX_SEED)
    spec = DATASETS[s.dataset]
    allowed = FEATURES_1D if spec.dims == 1 else tuple(FEATURES)
    if not s.features or any(f not in allowed for f in s.features):
        raise SettingsError(Text("playground.pick_features", choices=", ".join(allowed)))
    if len(set(s.features)) != len(s.features):
        raise SettingsError(Text("playground.feature_once"))
    return s


def usable(s: Settings) -> Settings:
    """``s`` with what does not apply to its data set adjusted: a curve's features keep only those
    of x1 (x1 when none is left); whole numbers where counts are meant."""
    spec = DATASETS.get(s.dataset)
    features = tuple(dict.fromkeys(s.features))
    if spec is not None and spec.dims == 1:
        features = tuple(f for f in features if f in FEATURES_1D) or ("x1",)
    return replace(s, features=features)


# ------------------------------------------------------------------ data, cached (read-only tensors)
@dataclass(frozen=True)
class Data:
    x_train: torch.Tensor          # raw points (n, dims)
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    view: tuple[float, float, float, float]     # x0, x1, y0, y1 of the picture
    target_range: tuple[float, float]           # regression: the targets' range (for colours)
    x_all: torch.Tensor                         # train then test, as the picture lists them
    y_all: torch.Tensor
    test_flag: np.ndarray                       # 1 for the test points (uint8)


def data_key(s: Settings) -> tuple:
    return (s.dataset, s.points, round(float(s.noise), 6), s.classes if DATASETS[s.dataset].many_classes else 2,
            round(float(s.train_ratio), 6), s.data_seed)


@lru_cache(maxsize=128)
def _make_data(dataset: str, points: int, noise: float, classes: int, train_ratio: float, data_seed: int) -> Data:
    spec = DATASETS[dataset]
    g = torch.Generator().manual_seed(data_seed)
    x, y = spec.make(points, noise, classes, g)
    if train_ratio < 1.0:                          # the course trains on every point, in order
        order = torch.randperm(len(x), generator=g)
        n_train = max(1, min(len(x) - 1, round(train_ratio * len(x))))
        tr, te = order[:n_train], order[n_train:]
    else:
        tr, te = torch.arange(len(x)), torch.arange(0)
    if spec.dims == 1:
        lo, hi = float(y.min()), float(y.max())
        pad = 0.1 * (hi - lo or 1.0)
        view = (float(x.min()), float(x.max()), lo - pad, hi + pad)
    else:
        view = (*DOMAIN_2D, *DOMAIN_2D)
    target = (float(y.min()), float(y.max())) if spec.task == "regression" else (0.0, 1.0)
    for t in (x, y):
        t.requires_grad_(False)
    flag = np.r_[np.zeros(len(tr)), np.ones(len(te))].astype(np.uint8)
    return Data(x[tr], y[tr], x[te], y[te], view, target, torch.cat((x[tr], x[te])), torch.cat((y[tr], y[te])), flag)


def make_data(s: Settings) -> Data:
    return _make_data(*data_key(s))


def featurize(x: torch.Tensor, features: tuple[str, ...]) -> torch.Tensor:
    """The first layer's input: the chosen features of every point, (n, len(features))."""
    return torch.cat([FEATURES[f](x) for f in features], 1)


# ------------------------------------------------------------------ the network
class Net(nn.Module):
    """A small fully connected net: the course's ``Net`` with any number of hidden layers."""

    def __init__(self, n_feature: int, hidden: tuple[int, ...], n_output: int, activation: str = "relu"):
        super().__init__()
        sizes = [n_feature, *hidden]
        self.hidden = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes, sizes[1:]))   # hidden layers
        self.predict = nn.Linear(sizes[-1], n_output)                                     # output layer
        self.activation = activation

    def layers(self, x: torch.Tensor) -> list[torch.Tensor]:
        """Every hidden layer's output (after the activation)."""
        out = []
        for layer in self.hidden:
            x = ACTIVATIONS[self.activation](layer(x))
            out.append(x)
        return out

    def forward(self, x):
        for layer in self.hidden:
            x = ACTIVATIONS[self.activation](layer(x))
        return self.predict(x)


_SEED_LOCK = threading.Lock()


@contextlib.contextmanager
def seeded(seed: int):
    """``torch.manual_seed(seed)`` for a moment (as the course's scripts start), then the global
    generator back as it was, so students' nets never disturb each other or the shared run."""
    with _SEED_LOCK, torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield


def build_net(s: Settings) -> Net:
    spec = DATASETS[s.dataset]
    n_out = (s.classes if spec.many_classes else 2) if spec.task == "classification" else 1
    with seeded(s.seed):
        return Net(len(s.features), s.hidden, n_out, s.activation)


def penalty(net: nn.Module, kind: str, rate: float) -> torch.Tensor | float:
    """L1 or L2 of the weights (not the biases), times ``rate``."""
    if kind == "none" or rate == 0:
        return 0.0
    weights = [p for name, p in net.named_parameters() if name.endswith("weight")]
    if kind == "L1":
        return rate * sum(w.abs().sum() for w in weights)
    return rate * sum((w ** 2).sum() for w in weights)


def classes_of(s: Settings) -> int:
    spec = DATASETS[s.dataset]
    return (s.classes if spec.many_classes else 2) if spec.task == "classification" else 0


# ------------------------------------------------------------------ compact pictures
def _png(rgb: np.ndarray) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(rgb, dtype=np.uint8)).save(buffer, format="PNG", compress_level=1)
    return buffer.getvalue()


def png_url(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def b64(a: np.ndarray) -> str:
    return base64.b64encode(np.ascontiguousarray(a, dtype=np.uint8).tobytes()).decode("ascii")


def quantize(v: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """Values in [lo, hi] -> 0..255."""
    return np.clip(np.rint((np.asarray(v, np.float64) - lo) / ((hi - lo) or 1.0) * 255), 0, 255).astype(np.uint8)


def class_colours(probs: np.ndarray, light: float = 0.55) -> np.ndarray:
    """(..., k) probabilities -> RGB: the classes' colours mixed, lightened so points stand out."""
    rgb = probs @ np.asarray(CLASS_RGB[:probs.shape[-1]], np.float64)
    return 255 - (255 - rgb) * light


def _diverging_lut(light: float) -> np.ndarray:
    t = np.linspace(-1, 1, 256)[:, None]
    orange, blue = np.asarray(CLASS_RGB[0], np.float64), np.asarray(CLASS_RGB[1], np.float64)
    rgb = np.where(t < 0, 255 + (orange - 255) * -t, 255 + (blue - 255) * t)
    return np.rint(255 - (255 - rgb) * light).astype(np.uint8)


_DIVERGING = {1.0: _diverging_lut(1.0), 0.6: _diverging_lut(0.6)}


def diverging(v: np.ndarray, light: float = 1.0) -> np.ndarray:
    """Values in [-1, 1] -> orange (negative), white (0), blue (positive): Playground's colours
    (uint8 RGB, through a 256-colour table)."""
    lut = _DIVERGING.get(light)
    if lut is None:
        lut = _diverging_lut(light)
    index = np.clip(np.rint((np.asarray(v, np.float64) + 1) * 127.5), 0, 255).astype(np.intp)
    return lut[index]


@lru_cache(maxsize=16)
def grid_points(view, n: int) -> torch.Tensor:
    """An n x n grid over the view, row 0 at the top (largest x2), as (n*n, 2); cached, read-only."""
    x0, x1, y0, y1 = view
    xs = torch.linspace(x0, x1, n)
    ys = torch.linspace(y1, y0, n)
    gy, gx = torch.meshgrid(ys, xs, indexing="ij")
    return torch.stack((gx.reshape(-1), gy.reshape(-1)), 1)


# ------------------------------------------------------------------ one student's playground
@dataclass
class History:
    """The curves: a point per call of ``Playground.record``, at most MAX_HISTORY (thinned)."""
    epoch: list = field(default_factory=list)
    train: list = field(default_factory=list)
    test: list = field(default_factory=list)
    acc: list = field(default_factory=list)
    acc_test: list = field(default_factory=list)
    every: int = 1                      # keep one record in this many
    seen: int = 0

    def add(self, epoch, train, test, acc, acc_test) -> None:
        self.seen += 1
        if (self.seen - 1) % self.every:
            return
        for name, v in zip(("epoch", "train", "test", "acc", "acc_test"), (epoch, train, test, acc, acc_test)):
            getattr(self, name).append(v)
        if len(self.epoch) >= MAX_HISTORY:
            for name in ("epoch", "train", "test", "acc", "acc_test"):
                setattr(self, name, getattr(self, name)[::2])
            self.every *= 2

    def as_json(self) -> dict:
        def r(values):
            return [None if v is None or not math.isfinite(v) else float(f"{v:.3g}") for v in values]
        out = {"epoch": r(self.epoch), "train": r(self.train)}
        for name in ("test", "acc", "acc_test"):                  # series that exist (no test points: none)
            values = getattr(self, name)
            if any(v is not None for v in values):
                out[name] = r(values)
        return out


class Playground:
    """One student's toy network: settings, data, net, optimizer, curves, GIF frames.

    Kept in ``gr.State`` (a few kB: the net has at most ~1,700 weights). ``lock`` makes a Step
    click and a frame of the playing stream take turns."""

    def __init__(self, settings: Settings | None = None):
        self.lock = threading.Lock()
        self.playing, self.play_id, self.last_tick = False, 0, 0.0   # the page's Play (cnnlab.ui.playground)
        self.layer_shown: int | None = None                         # the hidden layer the page shows
        self.reset(settings or Settings())

    # -- settings
    def reset(self, settings: Settings | None = None) -> None:
        """A new network (new initial weights from the seed) on the settings' data; step 0."""
        self.settings = check_settings(usable(settings or self.settings))
        self.net = build_net(self.settings)
        self.optimizer = OPTIMIZERS[self.settings.optimizer][1](self.net.parameters(), self.settings.lr)
        self.batches = torch.Generator().manual_seed(self.settings.seed)
        self.order, self.pos = None, 0
        self.step_count, self.seen = 0, 0
        self.history = History()
        self.gif_frames: list[dict] = []
        self.gif_every = 1
        self.last: dict = {}
        self.record()

    def update(self, settings: Settings) -> str:
        """Apply new settings between steps. What shapes the net (data set, classes, features,
        layers) starts a new one; the rest (noise, points, learning rate, ...) carries on training
        the same net. Returns a sentence saying what happened ("" when nothing changed)."""
        new = check_settings(usable(settings))
        old = self.settings
        if new == old:
            return ""
        shape = ("dataset", "features", "hidden")
        if any(getattr(new, k) != getattr(old, k) for k in shape) or classes_of(new) != classes_of(old) \
                or new.seed != old.seed:
            self.reset(new)
            return "new network"
        self.settings = new
        if new.optimizer != old.optimizer:
            self.optimizer = OPTIMIZERS[new.optimizer][1](self.net.parameters(), new.lr)
        elif new.lr != old.lr:
            for group in self.optimizer.param_groups:
                group["lr"] = new.lr
        self.net.activation = new.activation
        if data_key(new) != data_key(old):
            self.order, self.pos = None, 0
        return "settings changed"

    # -- training
    @property
    def data(self) -> Data:
        return make_data(self.settings)

    @property
    def finished(self) -> bool:
        return self.step_count >= MAX_RUN_STEPS

    def step(self, n: int | None = None) -> int:
        """Train up to ``n`` steps (default: steps_per_frame), at most MAX_STEPS_PER_CALL and
        MAX_CALL_S seconds; returns how many ran."""
        n = self.settings.steps_per_frame if n is None else int(n)
        n = max(0, min(n, MAX_STEPS_PER_CALL, MAX_RUN_STEPS - self.step_count))
        s, d = self.settings, self.data
        x, y = featurize(d.x_train, s.features), d.y_train
        regression = DATASETS[s.dataset].task == "regression"
        loss_func = F.mse_loss if regression else F.cross_entropy
        start, done = time.perf_counter(), 0
        self.net.train()
        for _ in range(n):
            if len(x) <= s.batch_size:                     # every point, every step (as the course)
                xb, yb = x, y
            else:
                if self.order is None or self.pos >= len(x):
                    self.order, self.pos = torch.randperm(len(x), generator=self.batches), 0
                idx = self.order[self.pos:self.pos + s.batch_size]
                self.pos += s.batch_size
                xb, yb = x[idx], y[idx]
            loss = loss_func(self.net(xb), yb) + penalty(self.net, s.regularization, s.reg_rate)
            self.optimizer.zero_grad()
            loss.backward()
            self.optimizer.step()
            self.step_count += 1
            self.seen += len(xb)
            done += 1
            if time.perf_counter() - start > MAX_CALL_S:
                break
        if done:
            self.record()
        return done

    @property
    def epoch(self) -> float:
        return self.seen / max(1, len(self.data.x_train))

    @torch.no_grad()
    def evaluate(self) -> dict:
        """Loss (without the penalty) and accuracy on the training and test points."""
        s, d = self.settings, self.data
        regression = DATASETS[s.dataset].task == "regression"
        self.net.eval()
        out = {}
        for part, x, y in (("train", d.x_train, d.y_train), ("test", d.x_test, d.y_test)):
            if not len(x):
                out[part], out[f"{part}_acc"] = None, None
                continue
            pred = self.net(featurize(x, s.features))
            if regression:
                out[part], out[f"{part}_acc"] = F.mse_loss(pred, y).item(), None
            else:
                out[part] = F.cross_entropy(pred, y).item()
                out[f"{part}_acc"] = (pred.argmax(1) == y).float().mean().item()
        return out

    def record(self) -> None:
        r = self.evaluate()
        self.last = r
        self.history.add(round(self.epoch, 4), r["train"], r["test"], r["train_acc"], r["test_acc"])

    # -- pictures
    @torch.no_grad()
    def frame(self, layer: int = 1, gif: bool = True) -> dict:
        """What the page draws now (a few kB, JSON-able): see the module docstring."""
        s, d = self.settings, self.data
        spec = DATASETS[s.dataset]
        k = classes_of(s)
        self.net.eval()
        x_all, y_all, test_flag = d.x_all, d.y_all, d.test_flag
        pred_all = self.net(featurize(x_all, s.features))
        x0, x1, y0, y1 = d.view
        frame = {"kind": "reg1" if spec.dims == 1 else ("class" if k else "reg2"), "classes": k,
                 "step": self.step_count, "epoch": round(self.epoch, 3), "view": d.view,
                 "train_loss": self.last.get("train"), "test_loss": self.last.get("test"),
                 "train_acc": self.last.get("train_acc"), "test_acc": self.last.get("test_acc"),
                 "finished": self.finished, "history": self.history.as_json()}
        xs = x_all.numpy()
        if spec.dims == 1:
            ys = y_all.numpy()[:, 0]
            value = quantize(ys, y0, y1)
            flags = test_flag
            xs_curve = torch.linspace(x0, x1, CURVE_SAMPLES)[:, None]
            fitted = self.net(featurize(xs_curve, s.features))[:, 0].numpy()
            frame["curve"] = b64(quantize(fitted, y0, y1))
            points = np.stack((quantize(xs[:, 0], x0, x1), 255 - value, value, flags), 1)
            picture = {"curve": frame["curve"]}
        else:
            grid = grid_points(d.view, GRID)
            out = self.net(featurize(grid, s.features))
            if k:
                rgb = class_colours(out.softmax(1).numpy()).reshape(GRID, GRID, 3)
                wrong = (pred_all.argmax(1) != y_all).numpy()
                value = y_all.numpy().astype(np.uint8)
                flags = test_flag | (wrong.astype(np.uint8) << 1)
            else:
                lo, hi = d.target_range
                mid, half = (lo + hi) / 2, (hi - lo) / 2 or 1.0
                rgb = diverging((out[:, 0].numpy() - mid) / half, light=0.6).reshape(GRID, GRID, 3)
                value = quantize(y_all.numpy()[:, 0], lo, hi)
                flags = test_flag
            png = _png(rgb)
            frame["heat"] = png_url(png)
            points = np.stack((quantize(xs[:, 0], x0, x1), quantize(xs[:, 1], y1, y0), value, flags), 1)
            picture = {"heat": png}
        frame["points"] = b64(points)
        frame["neurons"] = self.neurons(layer)
        if gif:
            self._keep_gif_frame(picture)
        return frame

    @torch.no_grad()
    def neurons(self, layer: int = 1) -> dict:
        """Each neuron of hidden layer ``layer`` (1 = first) over the inputs: for the plane a
        NEURON_GRID^2 tile per neuron in one PNG strip (orange negative, blue positive, scaled per
        neuron); for a curve, its output at CURVE_SAMPLES/3 points (0..255 each)."""
        s, d = self.settings, self.data
        if not s.hidden:
            return {"layer": 0, "layers": 0, "n": 0}
        layer = max(1, min(int(layer or 1), len(s.hidden)))
        spec = DATASETS[s.dataset]
        if spec.dims == 1:
            xs = torch.linspace(d.view[0], d.view[1], CURVE_SAMPLES // 3)[:, None]
            acts = self.net.layers(featurize(xs, s.features))[layer - 1].numpy().T       # (n, samples)
            lo, hi = acts.min(1, keepdims=True), acts.max(1, keepdims=True)
            q = np.clip(np.rint((acts - lo) / np.where(hi > lo, hi - lo, 1.0) * 255), 0, 255)
            return {"layer": layer, "layers": len(s.hidden), "n": acts.shape[0], "curves": b64(q),
                    "samples": acts.shape[1]}
        grid = grid_points(d.view, NEURON_GRID)
        acts = self.net.layers(featurize(grid, s.features))[layer - 1].numpy().T           # (n, G*G)
        scale = np.abs(acts).max(1, keepdims=True)
        tiles = diverging(acts / np.where(scale > 0, scale, 1.0)).reshape(-1, NEURON_GRID, NEURON_GRID, 3)
        strip = np.concatenate(list(tiles), axis=1)                                          # (G, n*G, 3)
        return {"layer": layer, "layers": len(s.hidden), "n": len(tiles), "sprite": png_url(_png(strip)),
                "size": NEURON_GRID}

    # -- GIF
    def _keep_gif_frame(self, picture: dict) -> None:
        if self.gif_frames and self.gif_frames[-1]["step"] == self.step_count:
            self.gif_frames[-1] = self._gif_entry(picture)
            return
        if self.step_count % self.gif_every and self.step_count:
            return
        self.gif_frames.append(self._gif_entry(picture))
        if len(self.gif_frames) > MAX_GIF_FRAMES:
            self.gif_frames = self.gif_frames[::2]
            self.gif_every *= 2

    def _gif_entry(self, picture: dict) -> dict:
        return {"step": self.step_count, "epoch": self.epoch, "loss": self.last.get("train"),
                "acc": self.last.get("train_acc"), "data": self.settings, **picture}

    def save_gif(self, path: str | Path, size: int = 320, lang: str = DEFAULT) -> Path:
        """The run so far as an animated GIF (as the course saves ``LR_fitting.gif`` and
        ``Classification.gif``): the frames kept while it trained, at most MAX_GIF_FRAMES, with
        captions in ``lang``."""
        if len(self.gif_frames) < 2:
            raise SettingsError(Text("playground.gif_needs_frames"))
        # An adaptive palette without dithering: smooth backgrounds stay small (about 20-40 kB a frame).
        images = [render_gif_frame(f, size, lang).convert("P", palette=Image.Palette.ADAPTIVE, colors=64,
                                                    dither=Image.Dither.NONE) for f in self.gif_frames]
        path = Path(path)
        images[0].save(path, save_all=True, append_images=images[1:], duration=120, loop=0, optimize=False)
        return path

    # -- code
    def code(self, steps: int | None = None) -> str:
        return code_for(self.settings, steps if steps is not None else max(self.step_count, 100))


@lru_cache(maxsize=1)
def _cjk_font_file() -> str | None:
    """A font file with Chinese characters: the one cnnlab.core.plots chose for matplotlib, if any."""
    from matplotlib import font_manager, rcParams

    from ..core.plots import CJK_FONTS
    for family in rcParams["font.family"]:
        if family in CJK_FONTS:
            try:
                return font_manager.findfont(font_manager.FontProperties(family=family), fallback_to_default=False)
            except ValueError:
                continue
    return None


def _font(size: int, text: str = ""):
    """Pillow's own font; for text beyond ASCII (a Chinese caption) a CJK font when there is one."""
    if not text.isascii() and _cjk_font_file():
        try:
            return ImageFont.truetype(_cjk_font_file(), size)
        except OSError:
            pass
    try:
        return ImageFont.load_default(size=size)
    except TypeError:                    # Pillow without FreeType
        return ImageFont.load_default()


def render_gif_frame(f: dict, size: int = 320, lang: str = DEFAULT) -> Image.Image:
    """One GIF frame: the picture (boundary + points, or points + fitted curve) and a caption."""
    s: Settings = f["data"]
    d = make_data(s)
    x0, x1, y0, y1 = d.view
    k = classes_of(s)
    caption = 28
    im = Image.new("RGB", (size, size + caption), "white")
    draw = ImageDraw.Draw(im)
    xs = torch.cat((d.x_train, d.x_test)).numpy()
    ys = torch.cat((d.y_train, d.y_test)).numpy()

    def px(u, v):
        return (u - x0) / (x1 - x0) * (size - 1), (y1 - v) / (y1 - y0) * (size - 1)

    if "heat" in f:
        heat = Image.open(io.BytesIO(f["heat"])).convert("RGB").resize((size, size), Image.BILINEAR)
        im.paste(heat, (0, 0))
        lo, hi = d.target_range
        for (u, v), t in zip(xs, ys):
            if k:
                colour = CLASS_RGB[int(t)]
            else:
                colour = tuple(int(c) for c in diverging(np.array([(t[0] - (lo + hi) / 2) / ((hi - lo) / 2 or 1)]))[0])
            cx, cy = px(u, v)
            draw.ellipse((cx - 3, cy - 3, cx + 3, cy + 3), fill=colour, outline="white")
    else:
        for u, v in zip(xs[:, 0], ys[:, 0]):
            cx, cy = px(u, v)
            draw.ellipse((cx - 2, cy - 2, cx + 2, cy + 2), fill=(80, 80, 80))
        q = np.frombuffer(base64.b64decode(f["curve"]), np.uint8).astype(np.float64) / 255
        pts = [(i / (len(q) - 1) * (size - 1), (1 - v) * (size - 1)) for i, v in enumerate(q)]
        draw.line(pts, fill=(213, 94, 0), width=5)
    loss, acc = f["loss"], f.get("acc")
    if loss is None:
        text = tr(lang, "playground.gif_step", step=f["step"])
    elif acc is None:
        text = tr(lang, "playground.gif_loss", step=f["step"], loss=loss)
    else:
        text = tr(lang, "playground.gif_accuracy", step=f["step"], loss=loss, accuracy=acc)
    draw.text((8, size + 5), text, fill="black", font=_font(16, text))
    return im


# ------------------------------------------------------------------ the code of a setting
@lru_cache(maxsize=256)
def code_for(s: Settings, steps: int = 100) -> str:
    """A short standalone PyTorch script that trains what ``s`` describes, in the course's style
    (data, the ``Net`` class, the optimizer, the loop). Same seeds, same data, same initial weights
    and batches as the Playground, so it reaches the same result."""
    import inspect
    s = check_settings(usable(s))
    spec = DATASETS[s.dataset]
    k = classes_of(s)
    regression = spec.task == "regression"
    maker = inspect.getsource(spec.make).rstrip()
    sizes = [len(s.features), *s.hidden]
    n_out = k or 1
    layers = "\n".join(f"        self.hidden{i + 1} = torch.nn.Linear({a}, {b})   # hidden layer {i + 1}"
                       for i, (a, b) in enumerate(zip(sizes, sizes[1:])))
    forward = "\n".join(f"        x = {ACTIVATION_CODE[s.activation].format(f'self.hidden{i + 1}(x)')}"
                        for i in range(len(s.hidden)))
    features = ", ".join(FEATURE_CODE[f] for f in s.features)
    full_batch = s.batch_size >= max(1, round(s.points * s.train_ratio))
    if s.regularization == "none" or s.reg_rate == 0:
        reg, reg_line = "", ""
    else:
        term = "w.abs().sum()" if s.regularization == "L1" else "(w ** 2).sum()"
        reg = f"REG_RATE = {s.reg_rate:g}                     # {s.regularization} regularization of the weights\n"
        reg_line = ("\n        loss = loss + REG_RATE * sum(" + term +
                    " for name, w in net.named_parameters() if name.endswith('weight'))")
    split = ("x_train, y_train, x_test, y_test = x, y, x[:0], y[:0]   # every point trains, as in the course"
             if s.train_ratio >= 1.0 else
             f"order = torch.randperm(len(x), generator=g)      # a random {s.train_ratio:.0%} trains, the rest tests\n"
             f"n_train = max(1, min(len(x) - 1, round({s.train_ratio!r} * len(x))))\n"
             "x_train, y_train = x[order[:n_train]], y[order[:n_train]]\n"
             "x_test, y_test = x[order[n_train:]], y[order[n_train:]]")
    loss_name = "torch.nn.MSELoss()" if regression else "torch.nn.CrossEntropyLoss()"
    if regression:
        report = ("print(f'step {step}: train loss {loss_func(net(features(x_train)), y_train).item():.4f}'\n"
                  "      + (f', test loss {loss_func(net(features(x_test)), y_test).item():.4f}'"
                  " if len(x_test) else ''))")
    else:
        report = ("accuracy = (net(features(x_train)).argmax(1) == y_train).float().mean().item()\n"
                  "print(f'step {step}: train loss {loss_func(net(features(x_train)), y_train).item():.4f}, '\n"
                  "      f'train accuracy {accuracy:.3f}'\n"
                  "      + (f', test accuracy {(net(features(x_test)).argmax(1) == y_test).float().mean().item():.3f}'"
                  " if len(x_test) else ''))")
    if full_batch:
        loop = ("for step in range(1, STEPS + 1):\n"
                "    prediction = net(features(x_train))          # every training point, every step\n"
                f"    loss = loss_func(prediction, y_train){reg_line.replace(chr(10) + '        ', chr(10) + '    ')}\n"
                "    optimizer.zero_grad()                        # clear the gradients of the last step\n"
                "    loss.backward()                              # backpropagation: compute the gradients\n"
                "    optimizer.step()                             # apply the gradients\n")
    else:
        loop = ("batches = torch.Generator().manual_seed(SEED)   # the order of the batches\n"
                "step = 0\n"
                "while step < STEPS:                             # one pass over the data is an epoch\n"
                "    order = torch.randperm(len(x_train), generator=batches)\n"
                "    for i in range(0, len(order), BATCH_SIZE):\n"
                "        if step == STEPS:\n"
                "            break\n"
                "        b = order[i:i + BATCH_SIZE]\n"
                f"        loss = loss_func(net(features(x_train[b])), y_train[b]){reg_line}\n"
                "        optimizer.zero_grad()\n"
                "        loss.backward()\n"
                "        optimizer.step()\n"
                "        step += 1\n")
    header = (f'"""cnnlab Playground: {spec.name} data, {len(s.hidden)} hidden layer(s) '
              f'{list(s.hidden)}, {s.activation}, {OPTIMIZERS[s.optimizer][0]} (lr {s.lr:g}).\n'
              'Run it with: python playground.py"""')
    return f"""{header}
import math

import torch
import torch.nn.functional as F

STEPS = {int(steps)}
LR = {s.lr!r}
BATCH_SIZE = {s.batch_size}
SEED = {s.seed}                               # the initial weights
{reg}

{maker}


g = torch.Generator().manual_seed({s.data_seed})      # the data
x, y = {spec.make.__name__}({s.points}, {float(s.noise)!r}, {s.classes if spec.many_classes else 2}, g)
{split}


def features(x):                                 # what the first layer sees
    return torch.cat([{features}], 1)


class Net(torch.nn.Module):
    def __init__(self):
        super(Net, self).__init__()
{layers + chr(10) if layers else ''}        self.predict = torch.nn.Linear({sizes[-1]}, {n_out})   # output layer

    def forward(self, x):
{forward + chr(10) if forward else ''}        x = self.predict(x)
        return x


torch.manual_seed(SEED)
net = Net()
print(net)

optimizer = {OPTIMIZERS[s.optimizer][2]}
loss_func = {loss_name}

{loop}
with torch.no_grad():
    {report.replace(chr(10), chr(10) + '    ')}
"""


# ------------------------------------------------------------------ the optimizer race (lesson 3)
RACE_POINTS, RACE_NOISE = 1000, 0.1     # y = x^2 + 0.1 * normal noise, x evenly spaced in [-1, 1]
RACE_HIDDEN = 20                        # the course's Net(1, 20, 1)
RACE_LR, RACE_BATCH, RACE_EPOCHS = 0.01, 32, 12
RACE_STEPS = RACE_EPOCHS * math.ceil(RACE_POINTS / RACE_BATCH)        # 384 lockstep steps
RACE_NAMES = tuple(OPTIMIZERS)          # sgd, momentum, rmsprop, adam


def race_data(seed: int = 1) -> tuple[torch.Tensor, torch.Tensor]:
    """The course's data for the race: y = x^2 + 0.1 * normal noise, 1000 points."""
    g = torch.Generator().manual_seed(seed)
    x = torch.unsqueeze(torch.linspace(-1, 1, RACE_POINTS), dim=1)
    y = x.pow(2) + RACE_NOISE * torch.normal(torch.zeros(*x.size()), generator=g)
    return x, y


class Race:
    """Four copies of one net trained by SGD, Momentum, RMSprop and Adam (the course's settings),
    in lockstep on the same batches: the only difference is the optimizer."""

    def __init__(self, seed: int = 1):
        self.seed = seed
        self.x, self.y = race_data(seed)
        with seeded(seed):
            base = Net(1, (RACE_HIDDEN,), 1)
        self.nets = {name: copy.deepcopy(base) for name in RACE_NAMES}
        self.optimizers = {name: OPTIMIZERS[name][1](net.parameters(), RACE_LR) for name, net in self.nets.items()}
        self.batches = torch.Generator().manual_seed(seed)
        self.order, self.pos = None, 0
        self.step_count = 0
        self.losses = {name: [] for name in RACE_NAMES}        # the batch loss at every step (as the course plots)
        self.lock = threading.Lock()
        self.playing, self.play_id = False, 0                   # the page's Play (cnnlab.ui.playground)

    @property
    def finished(self) -> bool:
        return self.step_count >= RACE_STEPS

    def step(self, n: int = 8) -> int:
        n = max(0, min(int(n), MAX_STEPS_PER_CALL, RACE_STEPS - self.step_count))
        start = time.perf_counter()
        done = 0
        for _ in range(n):
            if self.order is None or self.pos >= len(self.x):
                self.order, self.pos = torch.randperm(len(self.x), generator=self.batches), 0
            b = self.order[self.pos:self.pos + RACE_BATCH]
            self.pos += RACE_BATCH
            xb, yb = self.x[b], self.y[b]
            for name, net in self.nets.items():
                loss = F.mse_loss(net(xb), yb)
                self.optimizers[name].zero_grad()
                loss.backward()
                self.optimizers[name].step()
                self.losses[name].append(loss.item())
            self.step_count += 1
            done += 1
            if time.perf_counter() - start > MAX_CALL_S:
                break
        return done

    @torch.no_grad()
    def frame(self) -> dict:
        x0, x1 = -1.0, 1.0
        y0, y1 = float(self.y.min()) - 0.05, float(self.y.max()) + 0.05
        xs = torch.linspace(x0, x1, CURVE_SAMPLES)[:, None]
        curves = {name: b64(quantize(net(xs)[:, 0].numpy(), y0, y1)) for name, net in self.nets.items()}
        pick = np.arange(0, RACE_POINTS, 4)                   # 250 of the 1000 points are plenty to show
        xq = quantize(self.x.numpy()[pick, 0], x0, x1)
        yq = quantize(self.y.numpy()[pick, 0], y0, y1)
        points = np.stack((xq, 255 - yq, yq, np.zeros_like(xq)), 1)
        stride = max(1, math.ceil(self.step_count / MAX_HISTORY))
        history = {name: [float(f"{v:.4g}") for v in losses[::stride]] for name, losses in self.losses.items()}
        last = {name: (losses[-1] if losses else None) for name, losses in self.losses.items()}
        return {"kind": "race", "step": self.step_count, "total": RACE_STEPS,
                "epoch": round(self.step_count * RACE_BATCH / RACE_POINTS, 2), "view": (x0, x1, y0, y1),
                "points": b64(points), "curves": curves, "stride": stride, "losses": history, "last": last,
                "names": {n: OPTIMIZERS[n][0] for n in RACE_NAMES}, "finished": self.finished}


def race_code(steps: int = RACE_STEPS) -> str:
    """The race as a standalone script, in the course's style."""
    return f'''"""cnnlab Playground: the optimizer race (SGD, Momentum, RMSprop, Adam) on y = x^2 + noise."""
import copy

import torch
import torch.nn.functional as F

LR = {RACE_LR}
BATCH_SIZE = {RACE_BATCH}
STEPS = {int(steps)}                    # {RACE_EPOCHS} epochs of {math.ceil(RACE_POINTS / RACE_BATCH)} batches

g = torch.Generator().manual_seed(1)
x = torch.unsqueeze(torch.linspace(-1, 1, {RACE_POINTS}), dim=1)
y = x.pow(2) + {RACE_NOISE} * torch.normal(torch.zeros(*x.size()), generator=g)


class Net(torch.nn.Module):
    def __init__(self):
        super(Net, self).__init__()
        self.hidden = torch.nn.Linear(1, {RACE_HIDDEN})   # hidden layer
        self.predict = torch.nn.Linear({RACE_HIDDEN}, 1)   # output layer

    def forward(self, x):
        x = F.relu(self.hidden(x))
        x = self.predict(x)
        return x


torch.manual_seed(1)
net = Net()
nets = [copy.deepcopy(net) for _ in range(4)]          # the same initial weights for all four
optimizers = [
    torch.optim.SGD(nets[0].parameters(), lr=LR),
    torch.optim.SGD(nets[1].parameters(), lr=LR, momentum=0.8),
    torch.optim.RMSprop(nets[2].parameters(), lr=LR, alpha=0.9),
    torch.optim.Adam(nets[3].parameters(), lr=LR, betas=(0.9, 0.99)),
]
names = ["SGD", "Momentum", "RMSprop", "Adam"]
loss_func = torch.nn.MSELoss()
losses_his = [[], [], [], []]                           # record the loss of each

batches = torch.Generator().manual_seed(1)              # the order of the batches
step = 0
while step < STEPS:
    order = torch.randperm(len(x), generator=batches)
    for i in range(0, len(order), BATCH_SIZE):
        if step == STEPS:
            break
        b = order[i:i + BATCH_SIZE]
        for net, opt, l_his in zip(nets, optimizers, losses_his):   # the same batch for each
            loss = loss_func(net(x[b]), y[b])
            opt.zero_grad()
            loss.backward()
            opt.step()
            l_his.append(loss.item())
        step += 1

for name, l_his in zip(names, losses_his):
    print(f"{{name}}: final batch loss {{l_his[-1]:.4f}}, mean of the last 20 {{sum(l_his[-20:]) / 20:.4f}}")
'''
