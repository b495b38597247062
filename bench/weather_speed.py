"""How fast the Weather tab trains, and whether a class training at once slows the Draw tab.

    .venv/bin/python bench/weather_speed.py                     # both parts (a few minutes on 2 cores)
    .venv/bin/python bench/weather_speed.py --students 30 --seconds 60
    taskset -c 0,1 .venv/bin/python bench/weather_speed.py      # as on a 2-core laptop

1. One run: the course's defaults (nn.Sequential, Sigmoid, Adam, batch 16, 300 epochs) and the
   hand-written version (relu, gradient steps by hand), one PyTorch thread as the app's worker
   has: steps per second, seconds, test MAE / RMSE on 2015, next to the baselines.
2. A class: N students start the default run at once, all through one ``weather.Worker`` in
   chunks (as the tab does; at most ``TRAIN_CONCURRENCY`` in progress, the rest waiting), while
   a normal-priority thread answers a drawing every 100 ms with the Draw tab's handler
   (``cnnlab.ui.draw.predict_digit``, the shipped CNN). Prints the drawing latency alone and
   during the class's training, and how long the class's runs take.
"""
from __future__ import annotations

import argparse
import os
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("CNNLAB_DATA", str(ROOT.parent / "shared" / "data"))

import numpy as np
import torch


def percentiles(values) -> str:
    ms = np.asarray(values) * 1000
    return f"p50 {np.percentile(ms, 50):6.1f} ms   p95 {np.percentile(ms, 95):6.1f} ms   (n={len(ms)})"


def one_run() -> None:
    from cnnlab.lessons import weather as T
    torch.set_num_threads(1)
    table = T.lesson_table()
    print("1. One run of the lesson (1 PyTorch thread, as the app's worker)")
    for name, mae_rmse in T.scores(T.baselines(table), table.y_test.numpy()).set_index("method").iterrows():
        print(f"   {name:34s} test MAE {mae_rmse['MAE']:.2f} °C   RMSE {mae_rmse['RMSE']:.2f} °C")
    for label, settings in (("network, nn.Sequential (course)", T.RegressionSettings()),
                            ("network, hand-written (course)", T.RegressionSettings(version="manual",
                                                                                    **T.MANUAL_SETTINGS))):
        start = time.perf_counter()
        run = T.train(table, settings)
        took = time.perf_counter() - start
        s = run.summary()
        print(f"   {label:34s} test MAE {s['test_mae']:.2f} °C   RMSE {s['test_rmse']:.2f} °C   "
              f"{run.step:,} steps in {took:.1f} s ({run.step / took:,.0f} steps/s)")


def class_run(students: int, seconds: float, checkpoints: str) -> None:
    from cnnlab.core.threads import cpu_cores, set_default_threads
    from cnnlab.lessons import weather as T
    from cnnlab.server.zoo import ModelZoo
    from cnnlab.ui.draw import predict_digit
    from cnnlab.ui.weather import CHUNK_S, CHUNK_STEPS, TRAIN_CONCURRENCY

    set_default_threads(1)                                 # as the app: one thread per request
    zoo = ModelZoo(checkpoints)
    from PIL import Image

    from cnnlab.core import datasets
    digits = datasets.load("mnist", "test").images[:50, 0].numpy()
    sketches = [{"background": None, "layers": [], "composite": np.asarray(
        Image.fromarray(255 - d).resize((280, 280), Image.BILINEAR))} for d in digits]

    def draw_for(duration: float) -> list[float]:
        times, end, i = [], time.perf_counter() + duration, 0
        while time.perf_counter() < end:
            start = time.perf_counter()
            predict_digit(zoo, sketches[i % len(sketches)], "mnist-cnn", False)
            times.append(time.perf_counter() - start)
            i += 1
            time.sleep(0.1)
        return times

    result: list[float] = []
    t = threading.Thread(target=lambda: result.extend(draw_for(min(10.0, seconds))))
    t.start()
    t.join()
    print(f"2. A class of {students} training the default lesson at once "
          f"({cpu_cores()} worker thread(s), {TRAIN_CONCURRENCY} runs in progress at most)")
    print(f"   drawing alone:            {percentiles(result)}")

    worker = T.Worker(threads=cpu_cores())
    table = T.lesson_table()
    slots = threading.Semaphore(TRAIN_CONCURRENCY)
    finished: list[float] = []
    stop = threading.Event()
    begin = time.perf_counter()

    def student() -> None:
        with slots:                                        # Gradio's queue: concurrency_limit
            run = worker.submit(T.Run, table, T.RegressionSettings()).result()
            while not run.done and not stop.is_set():
                worker.submit(run.advance, CHUNK_STEPS, CHUNK_S).result()
            if run.done:
                finished.append(time.perf_counter() - begin)

    threads = [threading.Thread(target=student) for _ in range(students)]
    for th in threads:
        th.start()
    during: list[float] = []
    drawer = threading.Thread(target=lambda: during.extend(draw_for(seconds)))
    drawer.start()
    drawer.join()
    stop.set()
    for th in threads:
        th.join()
    worker.shutdown()
    print(f"   drawing while training:   {percentiles(during)}")
    if finished:
        print(f"   runs finished within {seconds:.0f} s: {len(finished)} of {students} "
              f"(first after {min(finished):.1f} s, last after {max(finished):.1f} s)")
    else:
        print(f"   no run finished within {seconds:.0f} s (each is {T.RegressionSettings().epochs} epochs)")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--students", type=int, default=30)
    p.add_argument("--seconds", type=float, default=60.0, help="how long the class part draws and trains")
    p.add_argument("--checkpoints", default=str(ROOT / "checkpoints"))
    p.add_argument("--skip-one", action="store_true", help="skip part 1")
    p.add_argument("--skip-class", action="store_true", help="skip part 2")
    a = p.parse_args()
    if not a.skip_one:
        one_run()
    if not a.skip_class:
        class_run(a.students, a.seconds, a.checkpoints)


if __name__ == "__main__":
    main()
