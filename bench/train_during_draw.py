"""Does training starve the students? Draw-handler latency idle vs during the default MNIST run,
and how fast that run reaches 98.5% and 99.0% test accuracy.

    python bench/train_during_draw.py                          # the app's thread policy ("nice")
    python bench/train_during_draw.py --policies nice,fewer,share
    python bench/train_during_draw.py --train-size 10000 --epochs 1   # a quicker look

A "draw" is what the Draw tab does per stroke, called directly (no HTTP): the MNIST
preprocessing of a 280x280 drawing (cnnlab.core.preprocess.sketch_to_mnist) and a forward pass of
checkpoints/mnist-cnn.pt (a fresh CNN if that file is missing). Draws run in a worker thread
made after the thread settings, as Gradio's are, one every --interval seconds (0.05 s = 20
strokes a second, a busy class), while the shared TrainJob trains in its own thread with the
chosen torch thread policy (see cnnlab/core/threads.py).

Time to accuracy: at each of the run's validation points (every 3 s and at the end) the bench
copies the weights; after the run each copy is scored on all 10,000 test images, so the scoring
costs the run nothing. Times count from the start of training (data loading excluded).

Measured on the project's 2-core build machine while other jobs kept it busy (load average 4-10,
so absolute times are 4-5x slower than on an idle laptop; compare rows with each other):

  --policies nice,share,fewer --request-threads 1,0 --train-size 20000 --epochs 1 --latency-only
  policy/req  idle p95  draw p50  draw p95  p95/idle  train s  img/s
  nice/req1     9.30ms    2.93ms   10.35ms     1.11x    18.9  1,061   <- the app's choice
  nice/req2    13.76ms    4.82ms   13.06ms     0.95x    18.5  1,088
  share/req1   13.73ms    7.25ms   28.64ms     2.09x    22.4    898
  share/req2   13.99ms    7.63ms   23.82ms     1.70x    12.9  1,564   <- PyTorch's defaults
  fewer/req1   11.42ms    3.15ms   26.20ms     2.30x    44.0    456
  fewer/req2   15.61ms   14.59ms   53.25ms     3.41x    29.7    676

  the same at load average ~4.4 (forward pass alone, p50 / p95 during training, in brackets):
  nice/req1     9.44ms    2.78ms    6.89ms     0.73x    14.6  1,375   (0.75 / 1.06 ms)
  nice/req2     7.02ms    3.38ms    9.30ms     1.32x    12.0  1,674   (1.04 / 6.90 ms)
  share/req1    7.14ms    2.98ms   11.68ms     1.64x    16.0  1,254   (0.78 / 7.51 ms)
  share/req2    9.91ms    8.67ms   14.30ms     1.44x    15.6  1,290   (4.43 / 11.01 ms)

  default run (all 60,000 images, 3 epochs), the machine otherwise idle (load average ~1):
  nice/req1     4.46ms    2.94ms    4.38ms     0.98x    43.3  4,159   99.17%  98.5% after 27.1 s, 99.0% after 32.1 s
  (a draw every 50 ms and a validation pass every 3 s run alongside; without them the same run
  passes 99.0% after ~21 s, see bench/train_speed.py)
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import numpy as np
import torch
from PIL import Image, ImageDraw

from cnnlab.config import TrainConfig, data_root
from cnnlab.core import checkpoints, datasets, threads
from cnnlab.core.nets.models import build_model
from cnnlab.core.preprocess import sketch_to_mnist
from cnnlab.core.training import evaluate
from cnnlab.server import jobs
from cnnlab.server.zoo import ModelZoo


def drawing() -> np.ndarray:
    """A thick black "2" on white paper, as the Sketchpad sends it (280x280, uint8)."""
    image = Image.new("L", (280, 280), 255)
    pen = ImageDraw.Draw(image)
    pen.line([(80, 90), (110, 60), (170, 60), (195, 100), (175, 145), (85, 220), (205, 220)],
             fill=0, width=22, joint="curve")
    return np.asarray(image)


def load_model():
    path = ROOT / "checkpoints" / "mnist-cnn.pt"
    if path.is_file():
        loaded = checkpoints.load(path)
        return loaded.model.eval(), loaded.mean, loaded.std, path.name
    spec = datasets.get_spec("mnist")
    return build_model("cnn", spec).eval(), spec.mean, spec.std, "a fresh CNN (no checkpoints/mnist-cnn.pt)"


FORWARD: list[float] = []          # the forward pass alone, of every draw


def draw_once(model, sketch, mean, std) -> float:
    t0 = time.perf_counter()
    prepared = sketch_to_mnist(sketch, mean, std)
    t1 = time.perf_counter()
    with torch.inference_mode():
        model(prepared.tensor).softmax(1)
    t2 = time.perf_counter()
    FORWARD.append(t2 - t1)
    return t2 - t0


def pct(values, q) -> float:
    return float(np.percentile(np.asarray(values) * 1000, q))


def first_time(points, target) -> str:
    hit = next((pt for pt in points if pt["acc"] >= target), None)
    return f"{hit['seconds']:.1f} s (epoch {hit['epoch']:.2f})" if hit else "not reached"


def test_curve(states, root) -> list[dict]:
    """Test accuracy (all 10,000 images) of the model as it was at each validation point."""
    test = datasets.load("mnist", "test", root)
    model = build_model("cnn", test.spec)
    out = []
    for seconds, epoch, state in states:
        model.load_state_dict(state)
        out.append({"seconds": seconds, "epoch": epoch, "acc": evaluate(model, test)["accuracy"]})
    return out


def measure_idle(pool, model, sketch, mean, std, n, interval) -> list[float]:
    times = []
    for _ in range(n):
        times.append(pool.submit(draw_once, model, sketch, mean, std).result())
        time.sleep(interval)
    return times


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--policies", default="nice", help="training thread policies, a comma list of: "
                   + ", ".join(threads.THREAD_POLICIES) + " (default: nice, the app's)")
    p.add_argument("--request-threads", default="1", help="torch threads of the draw thread, a comma list; "
                   "0 = PyTorch's default, all cores (default: 1, the app's)")
    p.add_argument("--interval", type=float, default=0.05, help="seconds between draws (default 0.05)")
    p.add_argument("--idle-draws", type=int, default=200, help="draws measured with nothing training, "
                   "just before each run (the machine's other load then is the same)")
    p.add_argument("--train-size", type=int, default=0, help="training images (default 0 = all, as the app)")
    p.add_argument("--epochs", type=int, default=TrainConfig().epochs)
    p.add_argument("--latency-only", action="store_true", help="skip scoring the weights on the test set")
    p.add_argument("--data-dir", default=None, help="data root (default: $CNNLAB_DATA or ./data)")
    args = p.parse_args(argv)

    model, mean, std, name = load_model()
    sketch = drawing()
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    load = f", load average {os.getloadavg()[0]:.2f}" if hasattr(os, "getloadavg") else ""
    print(f"torch {torch.__version__}, {torch.get_num_threads()} intra-op threads, {cores} cores{load}")
    print(f"draw = sketch_to_mnist(280x280) + forward of {name}; one every {args.interval * 1000:.0f} ms")
    root = data_root(args.data_dir)
    datasets.load("mnist", "train", root)                   # load once, outside the timings
    datasets.load("mnist", "test", root)
    config = TrainConfig(train_size=args.train_size, epochs=args.epochs)
    print(f"run: {config}")
    rows = []
    combos = [(policy.strip(), int(req)) for policy in args.policies.split(",") if policy.strip()
              for req in args.request_threads.split(",")]
    for policy, req in combos:
        threads.set_default_threads(req or cores)              # what a new server thread starts with
        with ThreadPoolExecutor(1) as pool, tempfile.TemporaryDirectory() as runs:   # a "server thread"
            for _ in range(30):                              # warm-up (first calls allocate)
                pool.submit(draw_once, model, sketch, mean, std).result()
            FORWARD.clear()
            idle = measure_idle(pool, model, sketch, mean, std, args.idle_draws, args.interval)
            idle_forward = list(FORWARD)
            FORWARD.clear()
            job = jobs.TrainJob(ModelZoo(runs), runs, root, thread_policy=policy, request_threads=None)
            states = []                                      # the weights at each validation point
            def keep_weights(ev, m, c, states=states):
                if ev.kind == "eval":
                    states.append((ev.elapsed_s, ev.epoch, {k: v.detach().clone() for k, v in m.state_dict().items()}))
            job.subscribe(keep_weights)
            job.start(config)
            busy = []
            while job.is_running:
                snap = job.state()
                if snap.step > 0 and snap.state == "running" and not str(snap.status).startswith("Finished"):
                    busy.append(pool.submit(draw_once, model, sketch, mean, std).result())
                time.sleep(args.interval)
            snap = job.state()
            busy_forward = list(FORWARD)
        curve = [] if args.latency_only else test_curve(states, root)
        label = f"{policy}/req{req or cores}"
        row = dict(policy=label, idle50=pct(idle, 50), idle95=pct(idle, 95), p50=pct(busy, 50),
                   p95=pct(busy, 95), n=len(busy), ratio=pct(busy, 95) / pct(idle, 95), seconds=snap.elapsed_s,
                   rate=snap.step * config.batch_size / max(snap.elapsed_s, 1e-9),
                   acc=snap.results.get("test_accuracy", float("nan")),
                   t985=first_time(curve, 0.985), t990=first_time(curve, 0.990))
        rows.append(row)
        print(f"\n{label}: idle draws p50 {row['idle50']:.2f} ms p95 {row['idle95']:.2f} ms; "
              f"during training p50 {row['p50']:.2f} ms p95 {row['p95']:.2f} ms ({row['n']} draws) "
              f"= {row['ratio']:.2f}x idle p95", flush=True)
        print(f"  forward pass alone: idle p50 {pct(idle_forward, 50):.2f} ms p95 {pct(idle_forward, 95):.2f} ms; "
              f"during training p50 {pct(busy_forward, 50):.2f} ms p95 {pct(busy_forward, 95):.2f} ms")
        print(f"  training: {row['seconds']:.1f} s, ~{row['rate']:,.0f} images/s, final test accuracy {row['acc']:.2%}")
        print(f"  test accuracy >= 98.5% after {row['t985']};  >= 99.0% after {row['t990']}")
        print("  test accuracy at the validation points: "
              + ", ".join(f"{pt['seconds']:.0f}s:{pt['acc']:.2%}" for pt in curve), flush=True)
    print("\npolicy/req  idle p95  draw p50  draw p95  p95/idle  train s  img/s  test acc  to 98.5%           to 99.0%")
    for r in rows:
        print(f"{r['policy']:10s} {r['idle95']:7.2f}ms {r['p50']:7.2f}ms {r['p95']:7.2f}ms {r['ratio']:8.2f}x "
              f"{r['seconds']:7.1f} {r['rate']:6,.0f} {r['acc']:8.2%}  {r['t985']:18s} {r['t990']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
