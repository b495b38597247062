"""A hyperparameter grid, as the course's ``RunBuilder`` makes one: every combination of the lists
of learning rates, batch sizes, optimizers and models (``itertools.product``), trained one after
the other as ONE shared run (``TrainJob.start_sweep``), each by the one loop in ``training.py``.

``plan`` checks everything on the server before anything trains (how many configurations, the
whole grid's time budget, every value of every list, the data set) and raises ``LimitError`` with
a sentence; the grid's time budget is shared equally by its configurations, so a grid never runs
longer than the teacher asked (plus each configuration's test, a second or two). ``rows`` is the
table the class watches fill in; ``table_csv`` exports it. Its sentences are Texts (section
"runs" of cnnlab/i18n).
"""
from __future__ import annotations

import itertools
from dataclasses import dataclass, replace

from ..config import LIMITS, OPTIMIZERS, LimitError, TrainConfig, check, check_choice
from ..i18n import Text
from .checks import check_train
from .tables import to_csv

CSV_COLUMNS = ("config", "model", "optimizer", "lr", "batch_size", "epochs", "state", "test_accuracy",
               "test_images", "seconds", "parameters")
MAX_LIST = 12               # values in one list (the product is bounded by LIMITS["grid_configs"] anyway)


@dataclass(frozen=True)
class SweepPlan:
    configs: tuple[TrainConfig, ...]
    seconds: float                      # the whole grid's training-time budget
    per_config_s: float                 # each configuration's share
    parameters: dict                    # model name -> parameter count


def parse_numbers(text, name: str) -> list:
    """A list of numbers from text ("0.001, 0.01") or a list (API callers); each checked against
    ``LIMITS[name]`` (a LimitError naming the range)."""
    if isinstance(text, (list, tuple)):
        values = list(text)
    else:
        parts = [p for p in str(text or "").replace(";", ",").replace(" ", ",").split(",") if p.strip()]
        values = []
        for p in parts:
            try:
                values.append(float(p))
            except ValueError:
                example = "0.001, 0.003" if name == "lr" else "64, 128"
                raise LimitError(Text("runs.number", what=LIMITS[name].name(), example=example,
                                      got=repr(str(text)[:40]))) from None
    return [check(name, v) for v in values]


def _unique(values: list, what: str) -> list:
    out = list(dict.fromkeys(values))
    if not out:
        raise LimitError(Text("runs.empty", what=Text(f"runs.one.{what}")))
    if len(out) > MAX_LIST:
        raise LimitError(Text("runs.too_many_values", n=MAX_LIST, what=Text(f"runs.many.{what}"), got=len(out)))
    return out


def plan(base: TrainConfig, lrs, batch_sizes, optimizers, models, seconds) -> SweepPlan:
    """The grid's configurations (learning rates x batch sizes x optimizers x models, in that order,
    like ``RunBuilder``), each ``base`` with those four settings and its share of ``seconds``."""
    from .datasets import DATASETS
    from .nets.models import build_model, models_for

    seconds = check("grid_seconds", seconds)
    spec = DATASETS.get(base.dataset) if isinstance(base.dataset, str) else None
    if spec is None:
        check_train(replace(base, layers=None))         # raises the sentence naming the data sets
    if spec.kind == "photo":
        raise LimitError(Text("runs.photo"))
    lrs = _unique(parse_numbers(lrs, "lr"), "lr")
    batch_sizes = _unique(parse_numbers(batch_sizes, "batch_size"), "batch_size")
    optimizers = _unique([check_choice(Text("limits.optimizer"), o, OPTIMIZERS) for o in (optimizers or [])],
                         "optimizer")
    fits = models_for(spec)
    models = _unique([check_choice(Text("limits.model"), m, fits) for m in (models or [])], "model")
    n = len(lrs) * len(batch_sizes) * len(optimizers) * len(models)
    if n > LIMITS["grid_configs"].high:
        sizes = " x ".join(str(k) for k in (len(lrs), len(batch_sizes), len(optimizers), len(models)))
        raise LimitError(Text("runs.too_big", n=n, sizes=sizes, high=int(LIMITS["grid_configs"].high)))
    per = round(seconds / n, 1)
    if base.time_budget_s:
        per = min(per, base.time_budget_s)
    configs = tuple(check_train(replace(base, lr=lr, batch_size=b, optimizer=o, model=m, layers=None,
                                        time_budget_s=per))
                    for lr, b, o, m in itertools.product(lrs, batch_sizes, optimizers, models))
    parameters = {m: sum(p.numel() for p in build_model(m, spec).parameters()) for m in models}
    return SweepPlan(configs, float(seconds), per, parameters)


def rows(p: SweepPlan) -> tuple[dict, ...]:
    """The table before anything trained: one row per configuration, state "waiting"."""
    return tuple({"config": k + 1, "model": c.model, "optimizer": c.optimizer, "lr": c.lr,
                  "batch_size": c.batch_size, "epochs": c.epochs, "state": "waiting", "test_accuracy": None,
                  "test_images": None, "seconds": None, "parameters": p.parameters.get(c.model)}
                 for k, c in enumerate(p.configs))


def best(table) -> dict | None:
    """The row with the highest test accuracy so far (None before any finished)."""
    scored = [r for r in table if r.get("test_accuracy") is not None]
    return max(scored, key=lambda r: r["test_accuracy"]) if scored else None


def table_csv(table) -> str:
    return to_csv([dict(r) for r in table], CSV_COLUMNS)
