"""Peak server memory of the heaviest runs the app accepts (issue 11: under 3 GB).

Each scenario runs in a fresh process: the real app (build_demo + launch on a free port), the
heaviest settings its API accepts (the limits in cnnlab.config.LIMITS) sent through gradio_client,
the run followed to its end, then the process's peak resident memory (Linux VmHWM) printed. The
client lives in the same process, so the figure slightly overstates the server's.

    python bench/peak_memory.py                       # every scenario (flowers5 reads 4,311 photos
                                                      # through the backbone: 5-60 min on 2 cores)
    python bench/peak_memory.py deep-cnn race tsne    # some of them
    /usr/bin/time -v python bench/peak_memory.py --one deep-cnn   # one scenario in this process

Measured on the 2-core dev box (shared and very busy: load 7-19, so runs made few steps; the peak
comes with the first batch), CNNLAB_DATA=../shared/data, limits of this commit:
    idle app (shipped MNIST and Fashion models loaded)                    666 MB
    deep-cnn  mnist, cnn-deep, batch 1024, augment, 60,000 images         1,686 MB (/usr/bin/time -v: 1,726 MB)
    race      cnn-deep x 4 optimizers, batch 1024                         1,840 MB
    lstm      mnist, lstm, batch 1024, augment                            1,221 MB
Standalone (training.fit / MapCache in a bare process, no app: add ~0.3 GB for the app):
    flowers5 transfer (head), batch 1024, augment (reads 7,756 photo views)    2,047 MB
    t-SNE 10,000 points, perplexity 100, plus the raw-pixel map             1,074 MB
    transfer finetune 'top', batch 256 / 1024: the learner adds           0.7 GB / 2.7 GB  (-> limit 256)
    transfer finetune 'all', batch 8 / 32 adds 0.85 / 2.9 GB; evaluating 500 photos adds 8.2 GB
                                                                          (-> refused in the shared run)
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

from cnnlab.config import LIMITS  # noqa: E402

BATCH = LIMITS["batch_size"].high
TRAIN = dict(optimizer="adam", lr=0.003, batch_size=BATCH, epochs=1, time_budget_s=45, train_size=0, augment=True)
SCENARIOS = {
    # name: (what, endpoint, keyword arguments)
    "deep-cnn": ("mnist, cnn-deep, largest batch, augment, all 60,000 images, 45 s + full test",
                 "/train_start", dict(dataset="mnist", model="cnn-deep", **TRAIN)),
    "lenet": ("fashion, lenet, largest batch, augment", "/train_start",
              dict(dataset="fashion", model="lenet", **TRAIN)),
    "lstm": ("mnist, lstm, largest batch, augment", "/train_start", dict(dataset="mnist", model="lstm", **TRAIN)),
    "race": ("optimizer race: cnn-deep x 4 optimizers, largest batch", "/train_race",
             dict(dataset="mnist", model="cnn-deep", **{**TRAIN, "train_size": 0})),
    "flowers": ("flowers5, transfer (head), largest batch, augment: every photo read through the backbone",
                "/train_start", dict(dataset="flowers5", model="transfer", **{**TRAIN, "time_budget_s": 0})),
    "tsne": ("t-SNE map of 10,000 MNIST test digits at perplexity 100, then raw pixels vs last layer",
             "/tsne_compare", dict(model="mnist-cnn", n=LIMITS["tsne_points"].high,
                                   perplexity=LIMITS["tsne_perplexity"].high)),
}


def peak_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM"):
                return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM: Linux only")


def rss_mb() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmRSS"):
                return int(line.split()[1]) / 1024
    return float("nan")


def run_one(name: str) -> None:
    from gradio_client import Client

    import app
    from cnnlab.config import AppConfig
    what, endpoint, kwargs = SCENARIOS[name]
    config = AppConfig(data_dir=os.environ.get("CNNLAB_DATA"), checkpoint_dir=str(ROOT / "checkpoints"),
                       runs_dir=tempfile.mkdtemp(prefix="cnnlab-peak-"))
    demo = app.build_demo(config)
    demo.queue(default_concurrency_limit=4)
    launch = app.launch_kwargs(config, demo)
    launch.update(server_port=None, prevent_thread_lock=True, quiet=True)
    _, url, _ = demo.launch(**launch)
    client = Client(url, verbose=False)
    for key in ("mnist-cnn", "mnist-mlp", "fashion-cnn-deep"):     # what a lesson has loaded anyway
        demo.ctx.zoo.get(key)
    idle = rss_mb()
    start = time.perf_counter()
    answer = client.predict(**kwargs, api_name=endpoint)
    if endpoint.startswith("/train"):
        print(f"  {str(answer)[:100]}", flush=True)
        while client.predict(api_name="/train_snapshot")["running"]:
            time.sleep(2)
        print(f"  {client.predict(api_name='/train_snapshot')['status'][:160]}", flush=True)
    print(f"{name:9s} {what}\n          idle app {idle:,.0f} MB -> peak {peak_mb():,.0f} MB "
          f"({time.perf_counter() - start:.0f} s)", flush=True)
    client.close()
    demo.close()


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("scenarios", nargs="*", default=list(SCENARIOS), help=f"any of: {', '.join(SCENARIOS)}")
    p.add_argument("--one", help="run one scenario in this process (what each child does)")
    a = p.parse_args()
    if a.one:
        run_one(a.one)
        return
    for name in a.scenarios:
        if name not in SCENARIOS:
            p.error(f"unknown scenario {name!r}; choose from {', '.join(SCENARIOS)}")
        subprocess.run([sys.executable, __file__, "--one", name], check=False)


if __name__ == "__main__":
    main()
