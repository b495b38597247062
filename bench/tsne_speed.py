"""How fast the t-SNE tab is: a 2,000- and a 10,000-point map, and placing one new point.

    python bench/tsne_speed.py                      # uses checkpoints/mnist-cnn.pt
    python bench/tsne_speed.py --sizes 2000 --threads 1

Goals (a 2-core laptop): a 10,000-point map in <= 15 s, placing a drawing in <= 0.3 s.
Each map is timed in its parts: features (the CNN on the sample), PCA to 50 numbers, the
neighbour search + affinities, and openTSNE's optimisation. Placement is timed for held-out test
digits one at a time, after the map was saved and loaded (the shipped case: the first placement
also rebuilds openTSNE's neighbour index from the stored features, so it is reported apart).

Wall-clock figures depend on what else the CPU does: the script prints the load average and
whether a `cnnlab train` process is running, next to the CPU time the process used. On a busy
CPU, openTSNE's and BLAS's threads mostly wait for each other: compare `--threads 1` with
`OMP_NUM_THREADS=1` (the app itself uses one t-SNE thread when the load average shows the cores
are taken, see ``tsne.tsne_threads``).
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

import numpy as np

from cnnlab.config import data_root
from cnnlab.core import checkpoints, datasets, maps, tsne


class Clock:
    """Wall and CPU seconds of a block."""

    def __enter__(self):
        self.wall, self.cpu = time.perf_counter(), time.process_time()
        return self

    def __exit__(self, *exc):
        self.wall, self.cpu = time.perf_counter() - self.wall, time.process_time() - self.cpu


def machine() -> str:
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    try:
        training = subprocess.run(["pgrep", "-f", "cnnlab train"], capture_output=True, text=True).stdout.split()
    except OSError:
        training = []
    busy = f"{len(training)} `cnnlab train` process(es) running: CPU SHARED" if training else "no training running"
    return f"{cores} cores, load average {load:.1f}, {busy}"


def time_map(loaded, test, n: int, perplexity: float, threads: int):
    """Build one map step by step; returns (TsneMap, {part: Clock})."""
    parts = {}
    with Clock() as c:
        indices = tsne.balanced_sample(test.labels.numpy(), n)
        feats, preds = tsne.embed(loaded.model, test.images[indices], loaded.spec)
    parts["features"] = c
    with Clock() as c:
        projection = tsne.fit_projection(feats)
        reduced = projection(feats)
    parts["pca"] = c
    with Clock() as c:
        tsne._affinities(reduced, perplexity, tsne.SEED, threads)
    parts["neighbours"] = c
    with Clock() as c:
        coords = np.asarray(tsne.run_tsne(reduced, perplexity, n_jobs=threads), np.float32)
    parts["t-SNE"] = c
    m = maps.TsneMap(loaded.dataset, loaded.model_name, loaded.classes, indices,
                    test.labels.numpy()[indices], preds, coords, reduced, projection,
                    tsne.effective_perplexity(perplexity, n))
    return m, parts


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoint", default=str(ROOT / "checkpoints" / "mnist-cnn.pt"),
                   help="model whose last layer is mapped (default: the shipped MNIST CNN)")
    p.add_argument("--data-dir", default=None, help="data root (default: $CNNLAB_DATA or ./data)")
    p.add_argument("--sizes", type=int, nargs="+", default=[2000, 10_000], help="map sizes (default: 2000 10000)")
    p.add_argument("--threads", type=int, default=tsne.N_JOBS, help=f"t-SNE threads (default: {tsne.N_JOBS})")
    p.add_argument("--perplexity", type=float, default=tsne.DEFAULT_PERPLEXITY)
    p.add_argument("--placements", type=int, default=20, help="held-out digits placed one by one (default: 20)")
    a = p.parse_args(argv)

    print(f"machine: {machine()}")
    loaded = checkpoints.load(a.checkpoint)
    test = datasets.load(loaded.dataset, "test", data_root(a.data_dir))
    print(f"model: {Path(a.checkpoint).name} ({loaded.model_name} on {loaded.dataset}), "
          f"t-SNE threads: {a.threads}, perplexity {a.perplexity:g}\n")
    first = None
    for n in a.sizes:
        m, parts = time_map(loaded, test, n, a.perplexity, a.threads)
        total = sum(c.wall for k, c in parts.items() if k != "neighbours")
        cpu = sum(c.cpu for k, c in parts.items() if k != "neighbours")
        detail = (f"features {parts['features'].wall:.2f} s, PCA {parts['pca'].wall:.2f} s, t-SNE "
                  f"{parts['t-SNE'].wall:.2f} s (its neighbour search alone: {parts['neighbours'].wall:.2f} s)")
        goal = "  (goal <= 15 s)" if n >= 10_000 else ""
        print(f"{n:>6,}-point map: {total:6.2f} s wall, {cpu:6.2f} s CPU{goal}\n        {detail}")
        first = first or m

    with tempfile.TemporaryDirectory() as tmp:
        path = first.save(Path(tmp) / "map.tsne.npz")
        size_kb = path.stat().st_size / 1024
        with Clock() as load_clock:
            shipped = maps.TsneMap.load(path)
    free = np.setdiff1d(np.arange(len(test)), shipped.indices)[: a.placements + 1]
    feats, _ = tsne.embed(loaded.model, test.images[free], loaded.spec)
    with Clock() as rebuild:
        shipped.place(feats[0])                      # also builds the neighbour index once
    times = []
    for f in feats[1:]:
        with Clock() as c:
            shipped.place(f)
        times.append(c.wall)
    times = np.array(times)
    print(f"\nmap file ({first.n:,} points): {size_kb:.0f} kB, loaded in {load_clock.wall * 1000:.0f} ms; "
          f"first placement (rebuilds the neighbour index) {rebuild.wall:.2f} s")
    print(f"placing one new point: median {np.median(times):.3f} s, max {times.max():.3f} s "
          f"over {len(times)} points  (goal <= 0.3 s)")
    print(f"\nmachine after the run: {machine()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
