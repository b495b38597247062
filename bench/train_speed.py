"""Seconds of CPU training to reach 99% (and 98.5%) test accuracy on MNIST: the classic
PyTorch MNIST tutorial's recipe against cnnlab's default live recipe, in the same run on the same machine.

    .venv/bin/python bench/train_speed.py [--target 0.99] [--max-seconds 600] [--threads 2]

(a) the classic tutorial: the plain conv16-conv32 CNN (no batch norm: conv(1,16,5,p2)-relu-pool-
    conv(16,32,5,p2)-relu-pool-linear), Adam lr 1e-3, batch 50, torchvision MNIST through
    transforms.ToTensor() and a DataLoader (shuffle=True, num_workers=0).
(b) cnnlab: ``training.fit(TrainConfig())`` as the Train tab runs it (seed, build_model, fit with
    the model): the CNN with batch norm, AdamW lr 3e-3 with a one-cycle schedule, batch 128,
    in-memory uint8 tensors, ``--cnnlab-epochs`` epochs (default: TrainConfig's).

Evaluation is excluded from both clocks: every ``--eval-every-s`` seconds of training the clock
stops and the whole 10,000-image test set is scored. cnnlab's own live validation is switched
off for the run (eval_every_s, val_size and event_every_s only change what a UI is shown, not the
training). A recipe stops once it reaches the target, or after ``--max-seconds`` of training.
"""
from __future__ import annotations

import argparse
import math
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
LOWER = 0.985                     # the second, easier threshold reported


class Seed001CNN(nn.Module):
    """The classic PyTorch MNIST tutorial's CNN: no batch norm, no dropout."""

    def __init__(self):
        super().__init__()
        self.conv1 = nn.Sequential(nn.Conv2d(1, 16, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2))   # (N, 16, 14, 14)
        self.conv2 = nn.Sequential(nn.Conv2d(16, 32, 5, padding=2), nn.ReLU(), nn.MaxPool2d(2))  # (N, 32, 7, 7)
        self.out = nn.Linear(32 * 7 * 7, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.out(self.conv2(self.conv1(x)).flatten(1))


@dataclass
class Result:
    name: str
    points: list[tuple[float, int, float]] = field(default_factory=list)   # (train seconds, step, accuracy)
    images: int = 0
    note: str = ""

    def reached(self, target: float) -> tuple[float, int] | None:
        return next(((s, k) for s, k, a in self.points if a >= target), None)

    @property
    def seconds(self) -> float:
        return self.points[-1][0] if self.points else 0.0


class Clock:
    """Training time only: ``pause()`` while scoring, ``resume()`` after."""

    def __init__(self):
        self.total, self.since = 0.0, time.perf_counter()

    def now(self) -> float:
        return self.total + (time.perf_counter() - self.since if self.since is not None else 0.0)

    def pause(self) -> None:
        self.total, self.since = self.now(), None

    def resume(self) -> None:
        self.since = time.perf_counter()


def seed001(args, data_root: Path) -> Result:
    from torchvision import datasets as tvd
    from torchvision import transforms
    torch.manual_seed(0)
    train = tvd.MNIST(str(data_root), train=True, transform=transforms.ToTensor(), download=False)
    test = tvd.MNIST(str(data_root), train=False, download=False)
    test_x = test.data.unsqueeze(1).float().div(255)           # exactly what ToTensor() gives
    loader = torch.utils.data.DataLoader(train, batch_size=50, shuffle=True, num_workers=0)
    model = Seed001CNN()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    result = Result("classic tutorial: plain CNN, Adam 1e-3, batch 50, DataLoader")

    def score() -> float:
        model.eval()
        with torch.inference_mode():
            pred = torch.cat([model(test_x[i:i + 1000]).argmax(1) for i in range(0, len(test_x), 1000)])
        model.train()
        return (pred == test.targets).float().mean().item()

    clock, step, last_eval = Clock(), 0, 0.0
    model.train()
    while True:
        for x, y in loader:
            loss = F.cross_entropy(model(x), y)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            step, result.images = step + 1, result.images + len(y)
            if clock.now() - last_eval >= args.eval_every_s or clock.now() >= args.max_seconds:
                clock.pause()
                result.points.append((clock.total, step, score()))
                report(result.points[-1])
                last_eval = clock.total
                clock.resume()
                if result.points[-1][2] >= args.target or clock.total >= args.max_seconds:
                    return result


def cnnlab_default(args, data_root: Path) -> Result:
    from cnnlab.config import TrainConfig
    from cnnlab.core import datasets, training
    from cnnlab.core.nets.models import build_model
    config = TrainConfig(epochs=args.cnnlab_epochs, eval_every_s=math.inf, val_size=100, event_every_s=0.0)
    test = datasets.load(config.dataset, "test", data_root)
    datasets.load(config.dataset, "train", data_root)             # in memory before the clock starts
    training.seed_everything(config.seed)
    model = build_model(config.model, datasets.get_spec(config.dataset))
    d = TrainConfig()
    result = Result(f"cnnlab: fit(TrainConfig()), {config.model}, {config.optimizer} {d.lr:g} {d.schedule}, "
                    f"batch {d.batch_size}, {config.epochs} epochs")
    clock, last_eval, step = Clock(), 0.0, 0
    for ev in training.fit(config, root=data_root, model=model, final_eval=False):
        if ev.kind not in ("step", "eval", "done") or not ev.step:
            continue
        step = ev.step
        if clock.now() - last_eval >= args.eval_every_s or clock.now() >= args.max_seconds or ev.kind == "done":
            clock.pause()
            result.points.append((clock.total, step, training.evaluate(model, test)["accuracy"]))
            report(result.points[-1])
            last_eval = clock.total
            clock.resume()
            if result.points[-1][2] >= args.target or clock.total >= args.max_seconds:
                break
    result.images = step * config.batch_size
    if result.points and result.points[-1][2] < args.target and clock.total < args.max_seconds:
        result.note = f"the {config.epochs}-epoch schedule ended first (try --cnnlab-epochs)"
    return result


def report(point: tuple[float, int, float]) -> None:
    print(f"    {point[0]:7.1f} s  step {point[1]:6d}  test accuracy {point[2]:.2%}", flush=True)


def main() -> None:
    from cnnlab.config import TrainConfig
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--target", type=float, default=0.99, help="test accuracy to reach (default: 0.99)")
    parser.add_argument("--max-seconds", type=float, default=600.0,
                        help="training seconds each recipe may use at most (default: 600)")
    parser.add_argument("--eval-every-s", type=float, default=3.0,
                        help="training seconds between test-set scores (default: 3.0)")
    parser.add_argument("--threads", type=int, default=2, help="torch threads (default: 2, the laptop's cores)")
    parser.add_argument("--cnnlab-epochs", type=int, default=TrainConfig().epochs,
                        help=f"epochs for cnnlab's recipe (default: TrainConfig's {TrainConfig().epochs})")
    parser.add_argument("--data-dir", default=None, help="data root (default: $CNNLAB_DATA or ../shared/data)")
    parser.add_argument("--only", choices=("seed001", "cnnlab"), default=None, help="run one recipe")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    data_root = Path(args.data_dir or os.environ.get("CNNLAB_DATA") or ROOT.parent / "shared" / "data")
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {os.cpu_count()} CPUs, "
          f"load average {os.getloadavg()[0]:.1f}; target {args.target:.1%}, cap {args.max_seconds:.0f} s "
          f"of training each; test set scored every {args.eval_every_s:g} s, off the clock")
    results = []
    for key, run in (("seed001", seed001), ("cnnlab", cnnlab_default)):
        if args.only in (None, key):
            print(f"\n{key}:", flush=True)
            results.append(run(args, data_root))

    print(f"\n{'recipe':<78s} {LOWER:>8.1%} {args.target:>9.1%}   best    img/s")
    for r in results:
        cells = []
        for t in (LOWER, args.target):
            hit = r.reached(t)
            cells.append(f"{hit[0]:7.1f} s" if hit else "   never")
        best = max(a for _, _, a in r.points) if r.points else float("nan")
        print(f"{r.name:<78s} {cells[0]:>8s} {cells[1]:>9s} {best:7.2%} {r.images / max(r.seconds, 1e-9):8.0f}")
        if not r.reached(args.target):
            print(f"  {r.name.split(':')[0]} never reached {args.target:.1%} in {r.seconds:.0f} s of training"
                  + (f": {r.note}" if r.note else ""))
    if len(results) == 2:
        for t in (LOWER, args.target):
            a, b = results[0].reached(t), results[1].reached(t)
            ratio = f"{a[0] / b[0]:.1f}x faster" if a and b else "n/a (a recipe never reached it)"
            print(f"time to {t:.1%}: classic tutorial / cnnlab = {ratio}")


if __name__ == "__main__":
    main()
