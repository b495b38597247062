"""Training on a table: the course's network and its hand-written twin, the run's settings and
limits, and ``Run`` / ``Worker``, which train a bounded number of steps per call so many students
can share one laptop.

``Run`` trains the course's network (``Linear(n, 128)-Sigmoid-Linear(128, 1)``, Adam, lr 0.001,
batch 16, MSE) or the course's hand-written version (weight tensors, ``mm``, ``relu``, the gradient
step applied by hand). No Gradio here.
"""
from __future__ import annotations

import inspect
import math
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch import nn

from ...core import optimizers
from ...core.background import Stop
from ...i18n import BadValue, Text
from .table import Table, mae, rmse

# ----------------------------------------------------------------------------- the two networks
ACTIVATIONS = {"sigmoid": torch.sigmoid, "relu": torch.relu, "tanh": torch.tanh}
LOSSES = {"mse": nn.functional.mse_loss, "mae": nn.functional.l1_loss, "huber": nn.functional.huber_loss}
OPTIMIZERS = ("adam", "sgd", "momentum", "rmsprop")
VERSIONS = ("nn", "manual")


class Activation(nn.Module):
    """``torch.sigmoid`` / ``relu`` / ``tanh`` as a layer (nn.Sigmoid etc., chosen by name)."""

    def __init__(self, name: str):
        super().__init__()
        self.name = name
        self.fn = ACTIVATIONS[name]

    def forward(self, x):
        return self.fn(x)

    def extra_repr(self) -> str:
        return self.name


def make_nn(n_features: int, hidden: int = 128, activation: str = "sigmoid") -> nn.Sequential:
    """The course's network: Linear(n, 128) - Sigmoid - Linear(128, 1)."""
    net = nn.Sequential(
        nn.Linear(n_features, hidden),
        Activation(activation),
        nn.Linear(hidden, 1),
    )
    return net


def nn_step(net, optimizer, loss_fn, x, y) -> float:
    """One training step of the nn.Sequential version."""
    prediction = net(x)
    loss = loss_fn(prediction, y)
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()
    return loss.item()


def make_manual(n_features: int, hidden: int = 128) -> list[torch.Tensor]:
    """The course's hand-written network: four tensors that require gradients. (The course draws
    them with torch.randn; they are drawn here the way nn.Linear draws its own, in the same order,
    so with the same seed both versions start from exactly the same numbers.)"""
    bound1, bound2 = 1 / math.sqrt(n_features), 1 / math.sqrt(hidden)
    weights = torch.empty(hidden, n_features).uniform_(-bound1, bound1).T.contiguous()
    biases = torch.empty(hidden).uniform_(-bound1, bound1)
    weights2 = torch.empty(1, hidden).uniform_(-bound2, bound2).T.contiguous()
    biases2 = torch.empty(1).uniform_(-bound2, bound2)
    params = [weights, biases, weights2, biases2]
    for p in params:
        p.requires_grad_(True)
    return params


def manual_step(params, activation, loss_fn, x, y, lr) -> float:
    """One training step of the hand-written version: forward with mm, backward, and the
    gradient step applied by hand."""
    weights, biases, weights2, biases2 = params
    hidden = x.mm(weights) + biases
    hidden = activation(hidden)              # torch.relu in the course
    predictions = hidden.mm(weights2) + biases2
    loss = loss_fn(predictions, y)
    loss.backward()
    with torch.no_grad():
        for p in params:
            p -= lr * p.grad                 # step against the gradient
            p.grad.zero_()                   # gradients add up unless cleared
    return loss.item()


def code_of(version: str) -> str:
    """The code that really runs for ``version`` (shown on the page)."""
    fns = (make_nn, nn_step) if version == "nn" else (make_manual, manual_step)
    return "\n\n".join(inspect.getsource(f) for f in fns)


# ----------------------------------------------------------------------------- settings and limits
@dataclass
class RegressionSettings:
    version: str = "nn"            # nn (nn.Sequential + an optimizer) | manual (tensors, gradient steps by hand)
    hidden: int = 128              # the course's hidden layer
    activation: str = "sigmoid"    # the course's nn version; its hand-written one uses relu
    optimizer: str = "adam"        # the course's; the hand-written version always steps by hand (SGD)
    lr: float = 0.001              # the course's learning rate for both versions
    batch_size: int = 16           # the course's batch size
    epochs: int = 300              # the course ran 1000 epochs of 348 days (22k steps); 300 epochs of
                                   # 1,094 days is about as many steps (~20k)
    loss: str = "mse"              # mse (the course's) | mae | huber
    seed: int = 0                  # same seed, same start and data order


MAX_HIDDEN = 1024
MAX_BATCH = 4096
MAX_EPOCHS = 2000
MAX_STEPS = 60_000                 # the most optimizer steps one run may take (about 15 s of one core)
MANUAL_SETTINGS = {"activation": "relu", "lr": 0.001}      # the course's hand-written version


def check_settings(s: RegressionSettings) -> RegressionSettings:
    """``s`` when it can run; else a ``BadValue`` refusal whose ``Text`` says what is wrong."""
    if s.version not in VERSIONS:
        raise BadValue(Text("weather.choose_version", choices=", ".join(VERSIONS)))
    if s.activation not in ACTIVATIONS:
        raise BadValue(Text("weather.choose_activation", choices=", ".join(ACTIVATIONS)))
    if s.optimizer not in OPTIMIZERS:
        raise BadValue(Text("weather.choose_optimizer", choices=", ".join(OPTIMIZERS)))
    if s.loss not in LOSSES:
        raise BadValue(Text("weather.choose_loss", choices=", ".join(LOSSES)))
    if not 1 <= s.hidden <= MAX_HIDDEN:
        raise BadValue(Text("weather.hidden_range", most=MAX_HIDDEN))
    if not 1 <= s.batch_size <= MAX_BATCH:
        raise BadValue(Text("weather.batch_range", most=MAX_BATCH))
    if not 1 <= s.epochs <= MAX_EPOCHS:
        raise BadValue(Text("weather.epochs_range", most=MAX_EPOCHS))
    if not (math.isfinite(s.lr) and 0 < s.lr <= 1):
        raise BadValue(Text("weather.lr_range"))
    return s


def planned_steps(n_rows: int, s: RegressionSettings) -> int:
    return math.ceil(n_rows / s.batch_size) * s.epochs


def make_optimizer(name: str, params, lr: float) -> torch.optim.Optimizer:
    """The course's optimizer (cnnlab.core.optimizers); Adam fused: ~1.5x faster steps on a CPU."""
    return optimizers.make(name, params, lr, fused=name == "adam")


# ----------------------------------------------------------------------------- a run
class Run:
    """One student's training run, advanced a bounded number of steps at a time (``advance``).

    ``history`` holds one row per finished epoch: (epoch, train loss, test loss), both measured on
    the whole split. Steps past ``MAX_STEPS`` are never taken: the run ends early and says so.
    """

    def __init__(self, table: Table, settings: RegressionSettings):
        check_settings(settings)
        self.table, self.settings = table, settings
        torch.manual_seed(settings.seed)
        self.generator = torch.Generator().manual_seed(settings.seed)
        self.loss_fn = LOSSES[settings.loss]
        n = table.n_features
        if settings.version == "nn":
            self.net = make_nn(n, settings.hidden, settings.activation)
            self.optimizer = make_optimizer(settings.optimizer, self.net.parameters(), settings.lr)
        else:
            self.params = make_manual(n, settings.hidden)
            self.activation = ACTIVATIONS[settings.activation]
        self.steps_per_epoch = math.ceil(len(table.y_train) / settings.batch_size)
        self.total_steps = min(self.steps_per_epoch * settings.epochs, MAX_STEPS)
        self.step = 0
        self.epoch = 0
        self.history: list[tuple[int, float, float]] = []
        self._order: torch.Tensor | None = None
        self._pos = 0
        self.diverged = False
        self.stop = Stop()                     # set from any thread: the current chunk ends at its next step

    @property
    def capped(self) -> bool:
        """The settings asked for more steps than one run may take."""
        return self.steps_per_epoch * self.settings.epochs > MAX_STEPS

    @property
    def stopped(self) -> bool:
        return self.stop.is_set()

    @property
    def done(self) -> bool:
        return self.step >= self.total_steps or self.diverged or self.stopped

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.settings.version == "nn":
            return self.net(x)
        w, b, w2, b2 = self.params
        return self.activation(x.mm(w) + b).mm(w2) + b2

    @torch.no_grad()
    def predict(self, x: torch.Tensor) -> np.ndarray:
        return self.forward(x).numpy().ravel()

    @torch.no_grad()
    def losses(self) -> tuple[float, float]:
        t = self.table
        return (self.loss_fn(self.forward(t.x_train), t.y_train).item(),
                self.loss_fn(self.forward(t.x_test), t.y_test).item())

    def advance(self, max_steps: int, max_seconds: float = 0.0) -> int:
        """Up to ``max_steps`` training steps (fewer at the end of the run, or once ``max_seconds``
        have passed when > 0); returns how many."""
        t, s = self.table, self.settings
        done = 0
        end = time.perf_counter() + max_seconds if max_seconds else math.inf
        while done < max_steps and not self.done and time.perf_counter() < end:
            if self._order is None:
                self._order = torch.randperm(len(t.y_train), generator=self.generator)
                self._pos = 0
            idx = self._order[self._pos:self._pos + s.batch_size]
            x, y = t.x_train[idx], t.y_train[idx]
            if s.version == "nn":
                loss = nn_step(self.net, self.optimizer, self.loss_fn, x, y)
            else:
                loss = manual_step(self.params, self.activation, self.loss_fn, x, y, s.lr)
            self.step += 1
            done += 1
            self._pos += s.batch_size
            if not math.isfinite(loss):
                self.diverged = True
            if self._pos >= len(t.y_train):             # an epoch ends: measure both splits
                self._order = None
                self.epoch += 1
                self.history.append((float(self.epoch), *self.losses()))
            elif self.done and not self.stopped:         # the run ends inside an epoch
                self.history.append((self.step / self.steps_per_epoch, *self.losses()))
        return done

    def test_predictions(self) -> np.ndarray:
        return self.predict(self.table.x_test)

    def train_predictions(self) -> np.ndarray:
        return self.predict(self.table.x_train)

    def summary(self) -> dict:
        p = self.test_predictions()
        return {"steps": self.step, "epochs": round(self.step / self.steps_per_epoch, 2),
                "test_mae": mae(p, self.table.y_test), "test_rmse": rmse(p, self.table.y_test),
                "train_mae": mae(self.train_predictions(), self.table.y_train),
                "diverged": self.diverged, "capped": self.capped, "settings": asdict(self.settings)}


class Worker:
    """The thread(s) every student's training steps run in, in turn: each call is a short chunk
    (``Run.advance`` with a step and time bound), queued first come, first served, so thirty runs
    all move forward together instead of taking a thread each. The threads have one PyTorch
    thread each and a lower scheduling priority (as the class's shared run does, see
    cnnlab.core.threads), so a student's drawing or photo request is answered first."""

    def __init__(self, threads: int = 1, nice: int = 10):
        self.nice = nice
        self.threads = max(1, threads)
        self.submitted = 0                     # chunks handed in so far (tests watch a run stop)
        self._pool = ThreadPoolExecutor(max_workers=self.threads, thread_name_prefix="cnnlab-tabular",
                                        initializer=self._init)

    def _init(self) -> None:
        from ...core.threads import lower_thread_priority, set_default_threads
        default = torch.get_num_threads()
        torch.set_num_threads(1)               # this thread only; tiny matrices gain nothing from more
        set_default_threads(default)
        if self.nice:
            lower_thread_priority(self.nice)

    def submit(self, fn, *args) -> Future:
        self.submitted += 1
        return self._pool.submit(fn, *args)

    def shutdown(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)


def train(table: Table, settings: RegressionSettings) -> Run:
    """A whole run at once (tests, the bench, the CLI)."""
    run = Run(table, settings)
    while not run.done:
        run.advance(10_000)
    return run
