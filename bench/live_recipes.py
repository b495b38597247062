"""Final MNIST test accuracy of candidate live-run recipes (issue 31: 99% in a quarter of the
classic recipe's time). Each argument is a set of TrainConfig fields; the run is the Train tab's
own ``training.fit`` with live validation off, and the wall time is printed beside (comparable
only on a quiet machine; ``bench/train_speed.py`` times the chosen recipe against the classic one).

    .venv/bin/python bench/live_recipes.py "epochs=1" "epochs=1,batch_size=64,lr=5e-3"
"""
from __future__ import annotations

import math
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def value_of(default, text: str):
    """``text`` read as the type of the field's default ("False" is no bool True)."""
    if isinstance(default, bool):
        return text.strip().lower() in ("1", "true", "yes")
    return type(default)(text)


def main(argv: list[str]) -> None:
    import torch

    from cnnlab.config import TrainConfig
    from cnnlab.core import datasets, training
    from cnnlab.core.nets.models import build_model
    torch.set_num_threads(2)
    root = os.environ.get("CNNLAB_DATA") or str(ROOT.parent / "shared" / "data")
    test = datasets.load("mnist", "test", root)
    datasets.load("mnist", "train", root)                        # in memory before any clock
    for spec in argv or ["epochs=1"]:
        fields = dict(item.split("=", 1) for item in spec.split(","))
        config = TrainConfig(eval_every_s=math.inf, val_size=100, event_every_s=0.0,
                             **{f: value_of(getattr(TrainConfig(), f), v) for f, v in fields.items()})
        training.seed_everything(config.seed)
        model = build_model(config.model, datasets.get_spec("mnist"))
        start, steps = time.perf_counter(), 0
        for ev in training.fit(config, root=root, model=model, final_eval=False):
            steps = ev.step or steps
        seconds = time.perf_counter() - start
        accuracy = training.evaluate(model, test)["accuracy"]
        print(f"{spec}: {accuracy:.2%} after {steps} steps, {seconds:.1f} s "
              f"(load average {os.getloadavg()[0]:.1f})", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
