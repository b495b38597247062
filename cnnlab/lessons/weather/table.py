"""Regression on a table: the course's weather lesson, and the student's own CSV. No Gradio here.

The course's second PyTorch program predicts today's maximum temperature from the days before.
Its file (temps.csv) is not available offline; the PyPI package ``vega_datasets`` ships a real,
larger one: ``seattle-weather.csv``, 1,461 days of Seattle weather 2012-2015 (degrees Celsius).
``weather_table`` builds the course's features from it, the course's way:

* year, month, day, the weekday one-hot encoded (week_Mon ... week_Sun);
* temp_2, temp_1: the maximum two days before and the day before;
* average: the historical average maximum for that day of the year. It is computed from the
  training years only (no test day's temperature enters it), over a window of days around the
  date (three years of single days are too noisy to be a "normal"), and for a training day from
  the *other* training years only, so a training row never sees its own answer in a feature;
* the label: ``actual``, today's maximum.

The split is by time (train on 2012-2014, test on 2015: the future is what a forecast is for),
and the features are standardised with the training split's mean and spread only.

``Run`` trains the course's network (``Linear(n, 128)-Sigmoid-Linear(128, 1)``, Adam, lr 0.001,
batch 16, MSE) or the course's hand-written version (weight tensors, ``mm``, ``relu``, the gradient
step applied by hand), a bounded number of steps per call so many students can share a laptop.
``baselines`` scores the simple answers a network must beat.

``read_csv_table`` / ``csv_table`` do the same for a student's CSV: a numeric target, numeric
and categorical (one-hot) features, limits on bytes, rows and columns, and a sentence for every
file that cannot be used (``TableError``).
"""
from __future__ import annotations

import csv
import importlib.resources
import inspect
import io
import math
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import nn

from ...i18n import Text

# ----------------------------------------------------------------------------- the weather table
TRAIN_YEARS = (2012, 2013, 2014)   # the years the network learns from
TEST_YEARS = (2015,)               # the year it is scored on: days it never saw, after all of them
AVERAGE_WINDOW = 7                 # the historical average pools +-7 days around the date
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
WEATHER_FEATURES = ("year", "month", "day", "temp_2", "temp_1", "average") + tuple(f"week_{d}" for d in WEEKDAYS)
WEATHER_TARGET = "actual"


class TableError(ValueError):
    """A table we cannot learn from; its argument is a ``Text`` (cnnlab.i18n) that says what is
    wrong and what to do (``str(err)`` is the English sentence)."""


def seattle_weather() -> pd.DataFrame:
    """The raw file shipped inside the vega_datasets package: date, precipitation, temp_max,
    temp_min, wind, weather. Read from the installed package, never downloaded."""
    try:
        source = importlib.resources.files("vega_datasets") / "_data" / "seattle-weather.csv"
        with importlib.resources.as_file(source) as path:
            raw = pd.read_csv(path)
    except (ModuleNotFoundError, FileNotFoundError):
        raise TableError(Text("weather.no_vega")) from None
    raw["date"] = pd.to_datetime(raw["date"], format="%Y/%m/%d")
    return raw.sort_values("date", ignore_index=True)


def day_of_year(dates: pd.Series) -> np.ndarray:
    """0..364 on a calendar without 29 February (which counts as the 28th)."""
    d = dates.dt.dayofyear.to_numpy() - 1
    late = dates.dt.is_leap_year.to_numpy() & (d >= 59)      # 29 Feb (59) and every day after it
    return d - late


def historical_average(dates: pd.Series, temps: pd.Series, train_years=TRAIN_YEARS,
                       window: int = AVERAGE_WINDOW) -> np.ndarray:
    """For every date: the mean maximum of the training years' days within ``window`` days of it
    (round the year's end too). A training day leaves out its own year; any other day (the test
    year) uses all training years. No day outside ``train_years`` is ever read."""
    doy, years, t = day_of_year(dates), dates.dt.year.to_numpy(), temps.to_numpy(dtype=float)
    sums = {y: np.zeros(365) for y in train_years}
    counts = {y: np.zeros(365) for y in train_years}
    for y in train_years:
        mask = years == y
        np.add.at(sums[y], doy[mask], t[mask])
        np.add.at(counts[y], doy[mask], 1.0)

    def pooled(a: np.ndarray) -> np.ndarray:           # sum over the +-window days, circular
        return sum(np.roll(a, k) for k in range(-window, window + 1))

    total_s, total_c = sum(sums.values()), sum(counts.values())
    out = np.empty(len(t))
    for y in set(years.tolist()):
        mask = years == y
        s = pooled(total_s - sums[y]) if y in sums else pooled(total_s)
        c = pooled(total_c - counts[y]) if y in counts else pooled(total_c)
        out[mask] = s[doy[mask]] / np.maximum(c[doy[mask]], 1)
    return out


def weather_features(raw: pd.DataFrame, train_years=TRAIN_YEARS, window: int = AVERAGE_WINDOW) -> pd.DataFrame:
    """The course's table: one row per day that has two days before it, with the columns
    ``date``, WEATHER_FEATURES and ``actual``."""
    dates = raw["date"]
    by_date = raw.set_index("date")["temp_max"]
    out = pd.DataFrame({"date": dates, "year": dates.dt.year, "month": dates.dt.month, "day": dates.dt.day})
    out["temp_2"] = by_date.reindex(dates - pd.Timedelta(days=2)).to_numpy()
    out["temp_1"] = by_date.reindex(dates - pd.Timedelta(days=1)).to_numpy()
    out["average"] = historical_average(dates, raw["temp_max"], train_years, window)
    weekday = dates.dt.dayofweek.to_numpy()
    for i, name in enumerate(WEEKDAYS):
        out[f"week_{name}"] = (weekday == i).astype(float)
    out[WEATHER_TARGET] = raw["temp_max"].to_numpy()
    return out.dropna(subset=["temp_2", "temp_1"]).reset_index(drop=True)


# ----------------------------------------------------------------------------- a table ready to learn
@dataclass
class Table:
    """A standardised train/test split. x: features scaled with the training split's mean and
    standard deviation; y: the target in its own unit, shape (N, 1)."""
    name: str
    target: str
    unit: str                              # "°C", or "" for a student's column
    features: list[str]
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    mean: np.ndarray                       # per feature, from the training rows only
    std: np.ndarray
    index_test: pd.Series                  # the test rows' dates (or row numbers), for plots
    index_train: pd.Series
    simple: dict[str, np.ndarray] = field(default_factory=dict)   # baseline name -> test predictions
    notes: list = field(default_factory=list)                     # what was done to the data (Texts)

    @property
    def n_features(self) -> int:
        return self.x_train.shape[1]


def standardise(train: np.ndarray, test: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(train, test) scaled by the training rows' mean and standard deviation (a constant column
    is only centred). Returns (train, test, mean, std)."""
    mean = train.mean(0)
    std = train.std(0)
    std = np.where(std > 1e-12, std, 1.0)
    return (train - mean) / std, (test - mean) / std, mean, std


def make_table(name, target, unit, features, train_x, train_y, test_x, test_y, index_train, index_test,
               simple=None, notes=None) -> Table:
    xs_train, xs_test, mean, std = standardise(np.asarray(train_x, float), np.asarray(test_x, float))

    def col(a):
        return torch.tensor(np.asarray(a, float), dtype=torch.float32).reshape(-1, 1)

    return Table(name, target, unit, list(features), torch.tensor(xs_train, dtype=torch.float32), col(train_y),
                 torch.tensor(xs_test, dtype=torch.float32), col(test_y), mean, std,
                 pd.Series(index_test).reset_index(drop=True), pd.Series(index_train).reset_index(drop=True),
                 dict(simple or {}), list(notes or []))


def weather_table(raw: pd.DataFrame | None = None, train_years=TRAIN_YEARS, test_years=TEST_YEARS,
                  window: int = AVERAGE_WINDOW) -> Table:
    """The lesson's table, with the weather's own simple answers: "same as yesterday" (temp_1)
    and "historical average" (average)."""
    rows = weather_features(seattle_weather() if raw is None else raw, train_years, window)
    train = rows[rows["year"].isin(train_years)]
    test = rows[rows["year"].isin(test_years)]
    cols = list(WEATHER_FEATURES)
    return make_table("Seattle weather", WEATHER_TARGET, "°C", cols, train[cols], train[WEATHER_TARGET],
                      test[cols], test[WEATHER_TARGET], train["date"], test["date"],
                      simple={"same as yesterday": test["temp_1"].to_numpy(),
                              "historical average": test["average"].to_numpy()})


_weather: Table | None = None


def lesson_table() -> Table:
    """The weather table, built once per process and shared read-only (nobody writes to it)."""
    global _weather
    if _weather is None:
        _weather = weather_table()
    return _weather


# ----------------------------------------------------------------------------- errors and baselines
def mae(pred, truth) -> float:
    return float(np.mean(np.abs(np.asarray(pred, float).ravel() - np.asarray(truth, float).ravel())))


def rmse(pred, truth) -> float:
    return float(np.sqrt(np.mean((np.asarray(pred, float).ravel() - np.asarray(truth, float).ravel()) ** 2)))


def linear_regression(table: Table) -> np.ndarray:
    """scikit-learn's least-squares line through the training rows, predicting the test rows."""
    from sklearn.linear_model import LinearRegression
    model = LinearRegression().fit(table.x_train.numpy(), table.y_train.numpy().ravel())
    return model.predict(table.x_test.numpy())


def baselines(table: Table) -> dict[str, np.ndarray]:
    """Simple answers to beat, each as its test predictions: always the training mean, the
    table's own (the weather's "same as yesterday" and "historical average"), linear regression."""
    out = {"always the training mean": np.full(len(table.y_test), float(table.y_train.mean()))}
    out.update(table.simple)
    out["linear regression (scikit-learn)"] = linear_regression(table)
    return out


def scores(predictions: dict[str, np.ndarray], truth) -> pd.DataFrame:
    """One row per method: test MAE and RMSE in the target's unit, best (lowest MAE) first."""
    rows = [{"method": k, "MAE": mae(p, truth), "RMSE": rmse(p, truth)} for k, p in predictions.items()]
    return pd.DataFrame(rows).sort_values("MAE", ignore_index=True)


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


def check_settings(s: RegressionSettings) -> Text | None:
    """A sentence (a ``Text``) saying what is wrong with ``s``, or None when it can run."""
    if s.version not in VERSIONS:
        return Text("weather.choose_version", choices=", ".join(VERSIONS))
    if s.activation not in ACTIVATIONS:
        return Text("weather.choose_activation", choices=", ".join(ACTIVATIONS))
    if s.optimizer not in OPTIMIZERS:
        return Text("weather.choose_optimizer", choices=", ".join(OPTIMIZERS))
    if s.loss not in LOSSES:
        return Text("weather.choose_loss", choices=", ".join(LOSSES))
    if not 1 <= s.hidden <= MAX_HIDDEN:
        return Text("weather.hidden_range", most=MAX_HIDDEN)
    if not 1 <= s.batch_size <= MAX_BATCH:
        return Text("weather.batch_range", most=MAX_BATCH)
    if not 1 <= s.epochs <= MAX_EPOCHS:
        return Text("weather.epochs_range", most=MAX_EPOCHS)
    if not (math.isfinite(s.lr) and 0 < s.lr <= 1):
        return Text("weather.lr_range")
    return None


def planned_steps(n_rows: int, s: RegressionSettings) -> int:
    return math.ceil(n_rows / s.batch_size) * s.epochs


def make_optimizer(name: str, params, lr: float) -> torch.optim.Optimizer:
    if name == "adam":
        return torch.optim.Adam(params, lr=lr, fused=True)   # fused: one kernel, ~1.5x faster steps on a CPU
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr)
    if name == "momentum":
        return torch.optim.SGD(params, lr=lr, momentum=0.9)
    if name == "rmsprop":
        return torch.optim.RMSprop(params, lr=lr)
    raise KeyError(f"unknown optimizer {name!r}")


# ----------------------------------------------------------------------------- a run
class Run:
    """One student's training run, advanced a bounded number of steps at a time (``advance``).

    ``history`` holds one row per finished epoch: (epoch, train loss, test loss), both measured on
    the whole split. Steps past ``MAX_STEPS`` are never taken: the run ends early and says so.
    """

    def __init__(self, table: Table, settings: RegressionSettings):
        problem = check_settings(settings)
        if problem:
            raise ValueError(problem)
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
        self.stopped = False                   # set from any thread (Stop): the current chunk ends at its next step

    @property
    def capped(self) -> bool:
        """The settings asked for more steps than one run may take."""
        return self.steps_per_epoch * self.settings.epochs > MAX_STEPS

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
        self.submitted = 0                     # chunks handed in so far (tests watch a run stop)
        self._pool = ThreadPoolExecutor(max_workers=max(1, threads), thread_name_prefix="cnnlab-tabular",
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


# ----------------------------------------------------------------------------- the student's CSV
MAX_CSV_BYTES = 5 * 1024 * 1024    # 5 MB: a big spreadsheet, far below the app's 10 MB upload limit
MAX_ROWS = 20_000                  # rows of data (training takes a few seconds at most)
MAX_COLUMNS = 50                   # columns in the file
MAX_CATEGORIES = 30                # different values a text column may have to be one-hot encoded
MAX_ENCODED = 200                  # feature columns after one-hot encoding
MIN_ROWS = 20                      # fewer cannot be split into training and test rows
TEST_SHARE = 0.2                   # a fifth of the rows are kept for the test
MAX_CSV_MB = MAX_CSV_BYTES // (1024 * 1024)
LIMITS_TEXT = Text("weather.csv_limits", mb=MAX_CSV_MB, min_rows=MIN_ROWS, max_rows=MAX_ROWS, columns=MAX_COLUMNS,
                   categories=MAX_CATEGORIES)


@dataclass
class Column:
    name: str
    kind: str                      # "number" | "category" | "unusable"
    missing: int                   # empty cells
    values: int                    # different values
    why: Text | str = ""           # for "unusable": why it cannot be a feature (a Text)


@dataclass
class CsvTable:
    frame: pd.DataFrame
    columns: list[Column]
    separator: str

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise TableError(Text("weather.no_column", name=name))

    @property
    def numeric(self) -> list[str]:
        return [c.name for c in self.columns if c.kind == "number"]


def _decode(data: bytes) -> str:
    if data.startswith(b"PK\x03\x04"):
        raise TableError(Text("weather.zipped"))
    if b"\x00" in data[:8192]:
        raise TableError(Text("weather.binary"))
    for encoding in ("utf-8-sig", "cp1252", "latin-1"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise TableError(Text("weather.undecodable"))


def _separator(text: str) -> str:
    sample = text[:65536]
    try:
        return csv.Sniffer().sniff(sample, delimiters=",;\t|").delimiter
    except csv.Error:
        return ","


def read_csv_table(source: str | Path | bytes) -> CsvTable:
    """A student's CSV, checked against the limits; every column typed. Raises TableError."""
    if isinstance(source, (bytes, bytearray)):
        data = bytes(source)
    else:
        path = Path(source)
        try:
            size = path.stat().st_size
        except OSError:
            raise TableError(Text("weather.unreadable")) from None
        if size > MAX_CSV_BYTES:
            raise TableError(Text("weather.too_big", size=size / 1024 / 1024, mb=MAX_CSV_MB, max_rows=MAX_ROWS))
        data = path.read_bytes()
    if len(data) > MAX_CSV_BYTES:
        raise TableError(Text("weather.over_limit", mb=MAX_CSV_MB, max_rows=MAX_ROWS))
    text = _decode(data)
    if not text.strip():
        raise TableError(Text("weather.empty"))
    sep = _separator(text)
    try:
        frame = pd.read_csv(io.StringIO(text), sep=sep, nrows=MAX_ROWS + 1, skipinitialspace=True,
                            decimal="," if sep == ";" else ".",      # European spreadsheets: 12,5;3,1
                            on_bad_lines="error", engine="c", low_memory=False)
    except pd.errors.EmptyDataError:
        raise TableError(Text("weather.empty")) from None
    except (pd.errors.ParserError, ValueError) as err:
        line = _line_of(str(err))
        raise TableError(Text("weather.ragged_at", line=line) if line else Text("weather.ragged")) from None
    if len(frame) > MAX_ROWS:
        raise TableError(Text("weather.too_many_rows", max_rows=MAX_ROWS))
    if frame.shape[1] > MAX_COLUMNS:
        raise TableError(Text("weather.too_many_columns", columns=frame.shape[1], most=MAX_COLUMNS))
    if frame.shape[1] < 2:
        raise TableError(Text("weather.one_column"))
    if len(frame) < MIN_ROWS:
        raise TableError(Text("weather.too_few_rows", rows=len(frame), least=MIN_ROWS))
    frame.columns = [str(c).strip() for c in frame.columns]
    if any(c.startswith("Unnamed: ") for c in frame.columns) or frame.columns.duplicated().any():
        raise TableError(Text("weather.unnamed"))
    columns = [_column(frame, name) for name in frame.columns]
    for c in columns:
        if c.kind == "number":
            frame[c.name] = pd.to_numeric(frame[c.name], errors="coerce")
    if not any(c.kind == "number" for c in columns):
        raise TableError(Text("weather.no_numbers"))
    return CsvTable(frame, columns, sep)


def _line_of(message: str) -> int | None:
    import re
    m = re.search(r"line (\d+)", message)
    return int(m.group(1)) if m else None


def _column(frame: pd.DataFrame, name: str) -> Column:
    raw = frame[name]
    missing = int(raw.isna().sum())
    present = raw.dropna()
    numbers = pd.to_numeric(present, errors="coerce")
    values = int(present.nunique())
    if len(present) and numbers.notna().all():
        return Column(name, "number", missing, values)
    if len(present) == 0:
        return Column(name, "unusable", missing, 0, Text("weather.why_empty"))
    if numbers.notna().mean() >= 0.8:
        bad = present[numbers.isna()].iloc[0]
        return Column(name, "unusable", missing, values, Text("weather.why_mixed", sample=str(bad)[:20]))
    if values > MAX_CATEGORIES:
        return Column(name, "unusable", missing, values, Text("weather.why_ids", values=values, most=MAX_CATEGORIES))
    return Column(name, "category", missing, values)


def csv_table(table: CsvTable, target: str, features: list[str], drop_missing: bool = False,
              split: str = "random", seed: int = 0) -> Table:
    """The student's table, ready to learn: numbers standardised, texts one-hot encoded (with the
    categories seen in the training rows), ``split`` "random" (a random fifth for the test) or
    "last" (the last fifth: for rows in time order)."""
    col = table.column(target)
    if col.kind != "number":
        raise TableError(Text("weather.target_text" if col.kind == "category" else "weather.target_unusable",
                              target=target))
    features = [f for f in features if f != target]
    if not features:
        raise TableError(Text("weather.no_features"))
    chosen = [table.column(f) for f in features]
    unusable = [c for c in chosen if c.kind == "unusable"]
    if unusable:
        c = unusable[0]
        raise TableError(Text("weather.feature_unusable", name=c.name, why=c.why))
    frame = table.frame[[target] + features]
    notes = []
    gaps = {c: int(n) for c, n in frame.isna().sum().items() if n}
    if gaps:
        if not drop_missing:
            first = next(iter(gaps))
            rows = (frame.index[frame[first].isna()][:3] + 2).tolist()       # file lines (header is line 1)
            listed = ", ".join(f"'{c}' ({n})" for c, n in list(gaps.items())[:4])
            raise TableError(Text("weather.empty_cells", listed=listed, first=first, lines=", ".join(map(str, rows))))
        before = len(frame)
        frame = frame.dropna()
        notes.append(Text("weather.dropped", rows=before - len(frame)))
        if len(frame) < MIN_ROWS:
            raise TableError(Text("weather.too_few_full_rows", rows=len(frame), least=MIN_ROWS))
    y = frame[target].to_numpy(float)
    if np.nanstd(y) == 0:
        raise TableError(Text("weather.constant_target", target=target))
    n = len(frame)
    n_test = max(1, round(n * TEST_SHARE))
    if split == "last":
        test_idx = np.arange(n - n_test, n)
    else:
        test_idx = np.sort(np.random.default_rng(seed).permutation(n)[:n_test])
    is_test = np.zeros(n, bool)
    is_test[test_idx] = True
    train_f, test_f = frame[~is_test], frame[is_test]
    names, train_cols, test_cols = [], [], []
    for c in chosen:
        if c.kind == "number":
            names.append(c.name)
            train_cols.append(train_f[c.name].to_numpy(float)[:, None])
            test_cols.append(test_f[c.name].to_numpy(float)[:, None])
        else:
            cats = sorted(train_f[c.name].astype(str).unique())
            names += [f"{c.name}={v}" for v in cats]
            train_cols.append((train_f[c.name].astype(str).to_numpy()[:, None] == np.array(cats)).astype(float))
            test_cols.append((test_f[c.name].astype(str).to_numpy()[:, None] == np.array(cats)).astype(float))
    if len(names) > MAX_ENCODED:
        raise TableError(Text("weather.too_many_features", features=len(names), most=MAX_ENCODED))
    line = pd.Series(frame.index.to_numpy() + 2)               # the file's line numbers, for plots
    return make_table("your table", target, "", names, np.hstack(train_cols), train_f[target],
                      np.hstack(test_cols), test_f[target], line[~is_test], line[is_test], notes=notes)
