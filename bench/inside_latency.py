"""How fast and light the Inside tab is, and what its live view costs the class's training run.

    .venv/bin/python bench/inside_latency.py                       # everything (about 3 minutes)
    .venv/bin/python bench/inside_latency.py --skip-training        # only the handler
    .venv/bin/python bench/inside_latency.py --skip-handler         # only the training run
    .venv/bin/python bench/inside_latency.py --seconds 20 --repeats 3 --viewers 30

1. Handler: what one stroke costs the server, ``cnnlab.ui.inside.show`` called directly (the
   canvas's PNG data URL decoded, preprocessing, the walk with hooks, one PNG sprite per layer,
   the HTML), on one torch thread as the app's request threads run. Hand-drawn digits (the
   tests' pen strokes) and MNIST test digits as a 280x280 canvas holds them; with no map open
   and with a map open (its detail is in the same response). Goal for the CNN: p95 <= 30 ms and
   the response < 150 kB.
2. Training: the shared job trains the default CNN for ``--seconds`` each way, alternating:
   without the Inside listener; with it (a picture of the first layer and of a test digit's maps
   about once a second); with it and ``--viewers`` threads polling the live view once a second
   as the page's gr.Timer does. Printed: images/s of each run and the listener's own time.
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("CNNLAB_DATA", str(ROOT.parent / "shared" / "data"))

import numpy as np  # noqa: E402
import torch  # noqa: E402
from PIL import Image  # noqa: E402


def percentiles(values: list[float]) -> str:
    ms = np.array(values) * 1000
    return f"p50 {np.percentile(ms, 50):6.1f} ms   p95 {np.percentile(ms, 95):6.1f} ms   max {ms.max():6.1f} ms"


def cpu_percentiles(values: list[float]) -> str:
    """The handler thread's own CPU time: on a shared, loaded machine the wall time mostly measures
    the wait for a core; this is what the handler costs (and its wall time on idle cores)."""
    ms = np.array(values) * 1000
    return f"cpu p50 {np.percentile(ms, 50):5.1f} ms  p95 {np.percentile(ms, 95):5.1f} ms"


def drawings(data_root: str) -> list[str]:
    """PNG data URLs as the canvas sends them: pen-stroke digits and MNIST digits (ink on white)."""
    from handwriting import DIGITS, render

    from cnnlab.core import datasets
    from cnnlab.ui.canvas import to_data_url
    out = [to_data_url(render(DIGITS[d])) for d in sorted(DIGITS)]
    test = datasets.load("mnist", "test", data_root)
    for i in range(20):
        ink = 255 - test.images[i, 0].numpy()
        out.append(to_data_url(Image.fromarray(ink).resize((280, 280), Image.BILINEAR)))
    return out


def bench_handler(ctx, urls: list[str], rounds: int) -> None:
    from cnnlab.ui import inside as ui
    from cnnlab.ui.canvas import DrawingCanvas
    canvas = DrawingCanvas(render=False)
    print(f"\n1. Handler (one stroke), {len(urls)} drawings x {rounds} rounds, "
          f"torch threads {torch.get_num_threads()}")
    for key in ("mnist-cnn", "fashion-cnn-deep", "mnist-mlp"):
        for pick, what in (("", "no map open"), ("4:3:-1:-1", "a map open")):
            times, cpu, sizes = [], [], []
            for url in urls[:3]:                                       # warm up
                ui.show(ctx, canvas.preprocess(url), key, False, pick)
            for _ in range(rounds):
                for url in urls:
                    t0, c0 = time.perf_counter(), time.thread_time()
                    layers, detail = ui.show(ctx, canvas.preprocess(url), key, False, pick)
                    times.append(time.perf_counter() - t0)
                    cpu.append(time.thread_time() - c0)
                    sizes.append(len(layers.encode()) + len(detail.encode()))
            print(f"   {key:17s} {what:12s} {percentiles(times)}   {cpu_percentiles(cpu)}   response "
                  f"median {statistics.median(sizes) / 1000:5.1f} kB, max {max(sizes) / 1000:5.1f} kB")
    t0 = time.perf_counter()
    ui.open_map(ctx, canvas.preprocess(urls[0]), "mnist-cnn", False, "4:7:6:5")
    times = []
    for url in urls:
        t0 = time.perf_counter()
        ui.open_map(ctx, canvas.preprocess(url), "mnist-cnn", False, "4:7:6:5")
        times.append(time.perf_counter() - t0)
    print(f"   open a map (click), mnist-cnn: {percentiles(times)}")


def one_run(zoo, runs: str, data_root: str, seconds: float, listener, viewers: int) -> tuple[float, int]:
    from cnnlab.config import TrainConfig
    from cnnlab.server.jobs import TrainJob
    job = TrainJob(zoo, runs, data_root)             # a fresh job: only this run's listener
    if listener is not None:
        job.subscribe(listener)
    stop = threading.Event()
    polls = [0]

    def viewer(renderer):
        while not stop.is_set():
            renderer.html()
            polls[0] += 1
            stop.wait(1.0)

    threads = []
    if listener is not None and viewers:
        from cnnlab.ui.inside import LiveRenderer
        renderer = LiveRenderer(listener)
        threads = [threading.Thread(target=viewer, args=(renderer,), daemon=True) for _ in range(viewers)]
    message = job.start(TrainConfig(epochs=50, time_budget_s=seconds, eval_every_s=3.0))
    assert "started" in str(message), message
    for th in threads:
        th.start()
    job.wait(seconds + 120)
    stop.set()
    for th in threads:
        th.join()
    return job.state().images_per_s, polls[0]


def bench_training(data_root: str, seconds: float, repeats: int, viewers: int) -> None:
    from cnnlab.lessons import inside
    from cnnlab.server.zoo import ModelZoo
    runs = tempfile.mkdtemp(prefix="inside-bench-")
    zoo = ModelZoo(runs)
    print(f"\n2. Training the default CNN for {seconds:.0f} s each way, {repeats} rounds "
          f"(images/s; alternating so that other load hits all three alike)")
    results: dict[str, list[float]] = {"without the Inside listener": [], "with it, nobody watching": [],
                                       f"with it, {viewers} viewers polling 1/s": []}
    costs = []
    for r in range(repeats):
        for name in results:
            live = None if name.startswith("without") else inside.LiveInside(data_root)
            watching = 0 if "nobody" in name or live is None else viewers
            rate, polls = one_run(zoo, runs, data_root, seconds, live, watching)
            results[name].append(rate)
            extra = ""
            if live is not None:
                costs.append(live.seconds / max(live.taken, 1))
                extra = f"   ({live.taken} pictures, {1000 * live.seconds:.0f} ms in the training thread" + \
                        (f", {polls} polls)" if polls else ")")
            print(f"   round {r + 1}: {name:34s} {rate:7.0f} images/s{extra}")
    base = statistics.median(results["without the Inside listener"])
    print("   median:")
    for name, rates in results.items():
        med = statistics.median(rates)
        print(f"     {name:34s} {med:7.0f} images/s   ({100 * (med / base - 1):+.1f}%)")
    print(f"   one live picture costs the training thread {1000 * statistics.median(costs):.1f} ms (median)")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rounds", type=int, default=5, help="passes over the drawings per model (default 5)")
    p.add_argument("--seconds", type=float, default=15, help="training seconds per run (default 15)")
    p.add_argument("--repeats", type=int, default=2, help="rounds of the three training runs (default 2)")
    p.add_argument("--viewers", type=int, default=30, help="simulated live viewers (default 30)")
    p.add_argument("--skip-training", action="store_true")
    p.add_argument("--skip-handler", action="store_true")
    a = p.parse_args()
    data_root = os.environ["CNNLAB_DATA"]
    torch.set_num_threads(1)                       # as the app's request threads (cnnlab.server.jobs)
    from cnnlab.config import AppConfig
    from cnnlab.ui.context import build_context
    ctx = build_context(AppConfig(data_dir=data_root, checkpoint_dir=str(ROOT / "checkpoints"),
                                  runs_dir=tempfile.mkdtemp(prefix="inside-bench-")))
    print(f"cpu cores: {os.cpu_count()}, load average: {', '.join(f'{x:.1f}' for x in os.getloadavg())}")
    if not a.skip_handler:
        bench_handler(ctx, drawings(data_root), a.rounds)
    if not a.skip_training:
        bench_training(data_root, a.seconds, a.repeats, a.viewers)
    print(f"\nload average at the end: {', '.join(f'{x:.1f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
