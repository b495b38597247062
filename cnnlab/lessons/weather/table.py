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

``baselines`` scores the simple answers a network must beat. The networks and their runs are in
``run.py``; a student's own CSV becomes a ``Table`` the same way in ``csvfile.py``.
"""
from __future__ import annotations

import importlib.resources
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import torch

from ...i18n import Refusal, Text

# ----------------------------------------------------------------------------- the weather table
TRAIN_YEARS = (2012, 2013, 2014)   # the years the network learns from
TEST_YEARS = (2015,)               # the year it is scored on: days it never saw, after all of them
AVERAGE_WINDOW = 7                 # the historical average pools +-7 days around the date
WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
WEATHER_FEATURES = ("year", "month", "day", "temp_2", "temp_1", "average") + tuple(f"week_{d}" for d in WEEKDAYS)
WEATHER_TARGET = "actual"


class TableError(Refusal, ValueError):
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
