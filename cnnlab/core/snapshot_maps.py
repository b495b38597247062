"""The maps of a run's snapshots: each snapshot's features reduced to a few numbers (PCA), then
mapped, started from the map before it and turned to match it, so that points move only where
the network changed. A finished run's snapshots are reduced and mapped in a child process.

Why a process: the PCA and openTSNE hold Python's lock for long stretches. Reducing and mapping a
run's 24 snapshots in a thread of the server (about a minute) stalled every request beside it,
whatever that thread's priority: with 60 phones, board submissions had a p95 of 1.5 s and the
Train tab's ticks stalls of up to 12 s in the minute after a run (bench/class_load.py). A child
process has a lock of its own, and the laptop's scheduler puts it below the students' requests.
Stop kills it.

    python -m cnnlab.core.snapshot_maps IN.npz OUT.npz      (what ``map_away`` runs)
"""
from __future__ import annotations

import logging
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

from .threads import TRAIN_NICE, lower_thread_priority
from .tsne import PCA_DIMS, Progress, align, fit_projection, quiet, run_tsne

FOLLOW_ITER = 400            # iterations for a snapshot map that starts from the previous map
CHILD_NICE = TRAIN_NICE + 5  # below the training thread, which is below the students' requests
ROOT = Path(__file__).resolve().parents[2]
log = logging.getLogger(__name__)


def reduced(features: np.ndarray, seed: int) -> np.ndarray:
    """A snapshot's features in PCA_DIMS numbers (float16; the raw features of a 1,000-image
    sample are 3 MB a snapshot), or as they are when they have no more."""
    if features.shape[1] <= PCA_DIMS:
        return features
    return fit_projection(features, seed=seed)(features).astype(np.float16)


def snapshot_map(features: np.ndarray, perplexity: float, seed: int, prev: np.ndarray | None = None,
                 progress: Progress = quiet) -> np.ndarray:
    """The (n, 2) map of one snapshot's features: from scratch, or continued from the map of the
    snapshot before (``prev``), with no early exaggeration, and turned to match it."""
    x = features.astype(np.float32)
    if prev is None:
        return np.asarray(run_tsne(x, perplexity, seed, progress=progress), np.float32)
    coords = np.asarray(run_tsne(x, perplexity, seed, init=prev, early_iter=0, main_iter=FOLLOW_ITER,
                                 progress=progress), np.float32)
    return align(coords, prev).astype(np.float32)


def chain(features: list[np.ndarray], perplexity: float, seed: int, prev: np.ndarray | None = None) -> list[np.ndarray]:
    """The maps of consecutive snapshots, each started from the one before (``prev``: the map of
    the snapshot before the first, if it has one)."""
    maps = []
    for f in features:
        prev = snapshot_map(f, perplexity, seed, prev)
        maps.append(prev)
    return maps


def map_away(features: list[np.ndarray], perplexity: float, seed: int, prev: np.ndarray | None,
             stop) -> tuple[list[np.ndarray], list[np.ndarray]] | None:
    """(the features ``reduced``, their ``chain`` of maps), made in a child process below the
    students' priority; None as soon as ``stop`` (an Event) is set, the child killed, or when the
    child failed (its last words are logged; a viewer's request still maps on demand)."""
    with tempfile.TemporaryDirectory(prefix="cnnlab-maps-") as tmp:
        given, made, words = Path(tmp, "in.npz"), Path(tmp, "out.npz"), Path(tmp, "err.txt")
        extra = {} if prev is None else {"prev": prev}
        np.savez(given, perplexity=perplexity, seed=seed, **extra, **{f"f{i}": f for i, f in enumerate(features)})
        with open(words, "wb") as err:
            child = subprocess.Popen([sys.executable, "-m", __name__, str(given), str(made)], cwd=ROOT,
                                     stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=err,
                                     creationflags=getattr(subprocess, "BELOW_NORMAL_PRIORITY_CLASS", 0))
            while child.poll() is None:
                if stop.wait(0.1):
                    child.kill()
                    child.wait()
                    return None
        if child.returncode != 0:
            log.error("mapping the snapshots failed: %s", words.read_text(encoding="utf-8", errors="replace")[-500:])
            return None
        with np.load(made) as out:
            return [out[f"r{i}"] for i in range(len(features))], [out[f"m{i}"] for i in range(len(features))]


def main(argv: list[str]) -> None:
    given, made = argv
    lower_thread_priority(CHILD_NICE)            # Linux; Windows: the parent asked for below normal
    with np.load(given) as z:
        seed = int(z["seed"])
        small = [reduced(z[f"f{i}"], seed) for i in range(sum(k.startswith("f") for k in z.files))]
        maps = chain(small, float(z["perplexity"]), seed, z["prev"] if "prev" in z.files else None)
    np.savez(made, **{f"r{i}": f for i, f in enumerate(small)}, **{f"m{i}": m for i, m in enumerate(maps)})


if __name__ == "__main__":
    main(sys.argv[1:])
