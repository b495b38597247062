"""The optimizer race: one model trained by SGD, Momentum, RMSprop and Adam side by side, from the
same initial weights on the same batches (four learners in ``training.loop``), so the only
difference the class sees is the optimizer."""
from __future__ import annotations

import copy
import math
import threading
from collections.abc import Iterator
from dataclasses import replace

import torch

from ..config import TrainConfig
from . import datasets, optimizers, training
from .nets.models import build_model
from .training import Learner, TrainEvent

# Each optimizer with its textbook default learning rate (Keras / common practice), kept constant.
RACE_OPTIMIZERS = (("sgd", 0.01), ("momentum", 0.01), ("rmsprop", 1e-3), ("adam", 1e-3))
RACE_STEPS = 300            # steps per optimizer at most ...
RACE_BUDGET_S = 30.0        # ... or this many seconds for the whole race
RACE_TRAIN_SIZE = 12_000    # a train subset: the race is about the first few hundred steps
RACE_SMOOTH = 10            # running mean over this many steps for the race curves


def lane_label(name: str, lr: float) -> str:
    """What the curves call a lane, e.g. "sgd (lr 0.01)"."""
    return f"{name} (lr {lr:g})"


def race(config: TrainConfig, root=None, stop: threading.Event | None = None, download: bool = False,
         device: torch.device | None = None) -> Iterator[TrainEvent]:
    """``config``'s data set, model, batch size and seed; yields the loop's events (one per step,
    with every lane's running loss in ``losses``) and a final "done" whose ``metrics["race"]``
    ranks the optimizers by validation accuracy."""
    device = device or training.pick_device()
    spec = datasets.get_spec(config.dataset)
    train = datasets.load(config.dataset, "train", root, download).subset(config.train_size or RACE_TRAIN_SIZE)
    val = datasets.load(config.dataset, "test", root, download).subset(config.val_size)
    generator = training.seed_everything(config.seed)
    base = build_model(config.model, spec, layers=config.layers)                  # one set of initial weights for all
    learners = []
    for name, lr in RACE_OPTIMIZERS:
        model = copy.deepcopy(base).to(device)
        learners.append(Learner(model, optimizers.make(name, model.parameters(), lr),
                                name=lane_label(name, lr)))
    yield TrainEvent("start", total_steps=RACE_STEPS, message=f"optimizer race: {config.model} on {spec.title}")
    epochs = math.ceil(RACE_STEPS / math.ceil(len(train) / config.batch_size))
    budget = min(RACE_BUDGET_S, config.time_budget_s or RACE_BUDGET_S)
    for ev in training.loop(learners, train, epochs=epochs, batch_size=config.batch_size, generator=generator,
                            device=device, stop=stop, max_steps=RACE_STEPS, time_budget_s=budget,
                            event_every_s=0, smooth=RACE_SMOOTH):
        if ev.kind != "done":
            yield replace(ev, eta_s=min(ev.eta_s if ev.eta_s is not None else budget, budget - ev.elapsed_s))
            continue
        finals = []
        for (name, lr), ln in zip(RACE_OPTIMIZERS, learners):
            accuracy = training.evaluate(ln.model, val, device)["accuracy"]
            finals.append({"optimizer": name, "lr": lr, "loss": round(float(ev.losses.get(ln.name, math.nan)), 4),
                           "val_accuracy": round(accuracy, 4)})
        finals.sort(key=lambda f: -f["val_accuracy"])
        yield replace(ev, stopped=bool(stop and stop.is_set()), metrics={"race": finals})
