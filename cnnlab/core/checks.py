"""A training run's settings, checked against the registries (data sets, models, the builder's
stacks) and ``LIMITS``: the one gate every run passes (the Train tab, the API, the grid, the job).

It lives here, not in ``cnnlab.config``, because it reads the registries: config holds the
settings and their limits only, and everything that knows data sets and models imports it.
"""
from __future__ import annotations

from ..config import (
    FINETUNE_MODES,
    OPTIMIZERS,
    SCHEDULES,
    SHARED_FINETUNE_MODES,
    LimitError,
    TrainConfig,
    check,
    check_choice,
    check_flag,
)
from ..i18n import Text
from .datasets import DATASETS
from .nets import builder
from .nets.models import models_for


def train_problem(config: TrainConfig) -> Text | str | None:
    """The first setting of ``config`` the server refuses, as a sentence (a Text); None when all fit."""
    try:
        check_train(config)
    except LimitError as err:
        return err.args[0]
    return None


def check_train(config: TrainConfig) -> TrainConfig:
    """Raise LimitError (a sentence) unless every setting of a training run is allowed."""
    spec = DATASETS.get(config.dataset) if isinstance(config.dataset, str) else None
    if spec is None:
        raise LimitError(Text("limits.no_dataset", name=repr(str(config.dataset)[:40]), choices=", ".join(DATASETS)))
    fits = models_for(spec)
    if config.model == "custom" or config.layers is not None:
        # the student's own network: its stack checked like the rest
        if config.model != builder.BUILT:
            raise LimitError(Text("limits.layers_need_built", built=repr(builder.BUILT),
                                  model=repr(str(config.model)[:40])))
        problem = (Text("limits.no_layers") if config.layers is None else builder.check(config.layers, spec))
        if problem:
            raise LimitError(problem)
    elif config.model not in fits:
        raise LimitError(Text("limits.model_does_not_fit", model=repr(str(config.model)[:40]), dataset=spec.title,
                              choices=", ".join(fits)))
    check_choice(Text("limits.optimizer"), config.optimizer, OPTIMIZERS)
    check_choice(Text("limits.schedule"), config.schedule, SCHEDULES)
    check_choice(Text("limits.finetune"), config.finetune, FINETUNE_MODES)
    for name in ("lr", "batch_size", "epochs", "time_budget_s", "train_size", "weight_decay", "val_size"):
        check(name, getattr(config, name))
    if config.dropout is not None:
        check("dropout", config.dropout)
    check_flag(Text("limits.augment"), config.augment)
    if spec.kind == "photo" and config.finetune not in SHARED_FINETUNE_MODES:
        raise LimitError(Text("limits.finetune_all"))
    if spec.kind == "photo" and config.finetune == "top":
        check("backbone_batch_size", config.batch_size)
    return config
