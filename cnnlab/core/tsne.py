"""What the last layer has learned: a t-SNE map of a fixed test sample, new points placed into it,
and snapshots of the same sample during a training run (the "how it learned" animation).

The pipeline is the same everywhere:

    fixed class-balanced test sample -> model.embed() -> PCA to 50 numbers -> openTSNE -> 2-D map

* **openTSNE** (not scikit-learn's TSNE): it is several times faster (FFT / Barnes-Hut gradients
  on 2 threads) and it can *place new points into an existing map* without moving the map
  (``TSNEEmbedding.transform``), which is how a student's drawing lands on the map as a star.
* **PCA to 50 dimensions first**: the CNN's last layer has 1,568 numbers; distances in the top 50
  principal components are nearly the same and the nearest-neighbour search is far cheaper.
* **Seeded, PCA initialisation**: t-SNE started from random positions gives a different picture on
  every run and can tear a class in two; started from the first two principal components, the same
  data always gives the same map, and the big picture (which classes sit next to which) keeps the
  meaning it has in the data (Kobak & Linderman, Nature Biotechnology 2021).

Shipped checkpoints come with a precomputed map next to them (``<name>.tsne.npz``, see
``precompute_map``), so the t-SNE tab shows a map at once.
"""
from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..config import LIMITS
from ..i18n import BadValue, Text
from . import datasets
from .threads import cpu_cores
from .training import eval_mode

SEED = 0                     # one seed: the same sample and the same map every time
DEFAULT_N = 2000             # points in a map: clear clusters, a few seconds on 2 cores
MIN_N, MAX_N = int(LIMITS["tsne_points"].low), int(LIMITS["tsne_points"].high)   # see config.LIMITS
RAW_SIDE = 32                # photos are shrunk to 32x32 for the raw-pixel map
DEFAULT_PERPLEXITY = 30.0    # about how many neighbours each point "keeps" (openTSNE's default)
PCA_DIMS = 50                # features are reduced to this many numbers before t-SNE
N_JOBS = 2                   # threads for t-SNE when the CPU is free (the laptop has 2 cores)
EARLY_ITER, MAIN_ITER = 250, 500   # optimisation schedule (openTSNE's defaults) ...
LARGE_N, LARGE_MAIN_ITER = 5000, 250   # ... but from 5,000 points (FFT gradients) a shorter main
# phase: the FFT grid grows as the map spreads out, so its last 250 iterations cost more than all
# the others (10,000 MNIST points, 1 thread: 38 s of CPU for 250+500 iterations, 13 s for 250+250,
# with the same share of same-class neighbours, 98.6% vs 98.5%, and KL 1.58 vs 1.66).

Progress = Callable[[float, Text], None]       # (fraction done, what is happening: said by the UI)


def quiet(fraction: float, text: Text) -> None:
    """A progress callback that shows nothing."""


# --------------------------------------------------------------------------- the sample
def balanced_sample(labels, n: int, seed: int = SEED) -> np.ndarray:
    """Indices (sorted) of ``n`` items with every class as equally represented as possible.

    Each class is shuffled once with ``seed`` and the first ``quota`` of it are taken, so a smaller
    sample is always part of a larger one (the 1,000-image training snapshots are inside the
    2,000-image map). Classes with too few items give all they have; the rest is shared out.
    """
    labels = np.asarray(labels)
    n = int(min(max(int(n), 0), len(labels)))
    classes = np.unique(labels)
    rng = np.random.default_rng(seed)
    members = [rng.permutation(np.flatnonzero(labels == c)) for c in classes]
    sizes = np.array([len(m) for m in members])
    quota = np.zeros(len(classes), dtype=int)
    left = n
    while left > 0:                                  # water-filling: equal shares, capped by size
        open_ = np.flatnonzero(quota < sizes)
        share = max(1, left // len(open_))
        for c in open_:
            take = min(share, sizes[c] - quota[c], left)
            quota[c] += take
            left -= take
            if left == 0:
                break
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    return np.sort(np.concatenate([m[:q] for m, q in zip(members, quota)])).astype(np.int64)


# --------------------------------------------------------------------------- features


def embed(model: nn.Module, images: torch.Tensor, stats, batch_size: int | None = None,
          progress: Progress = quiet) -> tuple[np.ndarray, np.ndarray]:
    """Last-layer features (N, D) float32 and predicted classes (N,) of uint8 images (N, C, H, W).

    ``stats`` is the data set spec or a (mean, std) pair. Predictions come from the model's head
    applied to the same features (every cnnlab model is ``head(embed(x))``), so one pass is enough.
    """
    device = next(model.parameters()).device
    photo = images.shape[-1] > 64
    batch_size = batch_size or (32 if photo else 500)
    feats, preds = [], []
    with eval_mode(model), torch.inference_mode():
        for i in range(0, len(images), batch_size):
            x = datasets.normalize(images[i:i + batch_size].to(device), stats)
            f = model.embed(x)
            feats.append(f.float().cpu())
            preds.append(model.head(f).argmax(1).cpu())
            progress(min(1.0, (i + batch_size) / max(len(images), 1)), Text("tsne.progress_reading"))
    if not feats:
        return np.zeros((0, 0), np.float32), np.zeros(0, np.int64)
    return torch.cat(feats).numpy(), torch.cat(preds).numpy().astype(np.int64)


def embed_one(model: nn.Module, tensor: torch.Tensor, temperature: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Features (1, D) and class probabilities (K,) of one prepared (normalised) input, with the
    checkpoint's ``temperature`` (cnnlab.core.calibration)."""
    device = next(model.parameters()).device
    with eval_mode(model), torch.inference_mode():
        f = model.embed(tensor.to(device))
        probs = torch.softmax(model.head(f) / temperature, dim=1)[0]
    return f.float().cpu().numpy(), probs.float().cpu().numpy()


def raw_pixels(images: torch.Tensor) -> np.ndarray:
    """The pictures as plain numbers in [0, 1], one row each: what a map "without a network" sees.
    Photos are shrunk to RAW_SIDE x RAW_SIDE first (150,528 numbers per photo would be too many)."""
    x = images.float() / 255.0
    if x.shape[-1] > RAW_SIDE:
        x = F.adaptive_avg_pool2d(x, RAW_SIDE)
    return x.reshape(len(x), -1).numpy()


@dataclass
class Projection:
    """PCA to at most PCA_DIMS numbers: ``(x - mean) @ components.T`` (or just ``x`` when the
    features are already narrow)."""
    mean: np.ndarray                 # (D,) float32
    components: np.ndarray | None    # (k, D) float32, None = identity

    def __call__(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x, dtype=np.float32)
        if self.components is None:
            return x
        return (x - self.mean) @ self.components.T


def fit_projection(features: np.ndarray, dims: int = PCA_DIMS, seed: int = SEED) -> Projection:
    features = np.asarray(features, dtype=np.float32)
    if features.shape[1] <= dims:
        return Projection(np.zeros(features.shape[1], np.float32), None)
    from sklearn.decomposition import PCA
    pca = PCA(min(dims, len(features)), svd_solver="randomized", random_state=seed).fit(features)
    return Projection(pca.mean_.astype(np.float32), pca.components_.astype(np.float32))


# --------------------------------------------------------------------------- t-SNE
def effective_perplexity(perplexity: float, n: int) -> float:
    """openTSNE needs about 3 x perplexity neighbours per point; small samples get less."""
    return float(max(2.0, min(float(perplexity), (n - 1) / 3.0)))


def tsne_threads() -> int:
    """N_JOBS threads when the CPU has room, else 1. openTSNE's threads wait for each other every
    iteration, so on a busy 2-core laptop (a training run going) two threads are far slower than
    one: a 300-point map took 44 s with 2 threads and 7 s with 1 at a load average of 10."""
    try:
        load = os.getloadavg()[0]
    except (AttributeError, OSError):                # not available on Windows
        return N_JOBS
    return N_JOBS if load < cpu_cores() - 0.5 else 1


def _affinities(X: np.ndarray, perplexity: float, seed: int, n_jobs: int):
    from openTSNE import affinity
    # Exact neighbours: deterministic, and for <= 10,000 points of 50 numbers faster here than
    # the approximate (Annoy) index.
    return affinity.PerplexityBasedNN(np.ascontiguousarray(X, dtype=np.float32),
                                      perplexity=effective_perplexity(perplexity, len(X)),
                                      method="exact", n_jobs=n_jobs, random_state=seed)


def _gradient_method(n: int) -> str:
    """Barnes-Hut is cheaper for a few thousand points, the FFT interpolation for more."""
    return "bh" if n < LARGE_N else "fft"


def run_tsne(X: np.ndarray, perplexity: float = DEFAULT_PERPLEXITY, seed: int = SEED,
             init: np.ndarray | None = None, n_jobs: int | None = None, early_iter: int = EARLY_ITER,
             main_iter: int | None = None, progress: Progress = quiet):
    """A 2-D openTSNE embedding of the rows of ``X`` (an ``openTSNE.TSNEEmbedding``), centred on 0.

    By default it starts from the first two principal components of ``X`` (seeded) and runs
    openTSNE's usual schedule (early exaggeration, then the main phase). ``init`` (N, 2) instead
    continues from a finished map as it is (the previous training snapshot): called with
    ``early_iter=0``, points then move only where their neighbours changed (measured: identical
    features move points by ~2% of the map's width, against ~8% when restarting with exaggeration).

    Deterministic: the same rows, seed and settings give the same map bit for bit, whatever the
    number of t-SNE threads. (Features computed with another number of BLAS/OpenMP threads differ
    in the last digits, and t-SNE turns that into points moved by a few % of the map's width.)
    """
    from openTSNE import TSNEEmbedding, initialization
    X = np.ascontiguousarray(X, dtype=np.float32)
    if len(X) < 5:
        raise BadValue(Text("errors.tsne_few_points"))
    n_jobs = n_jobs or tsne_threads()
    if main_iter is None:
        main_iter = MAIN_ITER if len(X) < LARGE_N else LARGE_MAIN_ITER
    progress(0.0, Text("tsne.progress_neighbours"))
    aff = _affinities(X, perplexity, seed, n_jobs)
    if init is None:
        start = initialization.pca(X, random_state=seed)
    else:
        start = np.array(init, dtype=np.float64)
    emb = TSNEEmbedding(start, aff, negative_gradient_method=_gradient_method(len(X)), n_jobs=n_jobs,
                        random_state=seed)
    total = max(early_iter + main_iter, 1)

    def tick(offset: int):
        def callback(iteration, error, embedding):
            progress(0.05 + 0.95 * (offset + iteration) / total, Text("tsne.progress_arranging"))
            return False
        return callback

    if early_iter:
        emb.optimize(early_iter, exaggeration=12, momentum=0.5, inplace=True,
                     callbacks=tick(0), callbacks_every_iters=50)
    if main_iter:
        emb.optimize(main_iter, momentum=0.8, inplace=True, callbacks=tick(early_iter),
                     callbacks_every_iters=50)
    emb -= (emb.max(axis=0) + emb.min(axis=0)) / 2          # centred (transform() expects this)
    progress(1.0, Text("tsne.progress_ready"))
    return emb


def align(coords: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Rotate/reflect ``coords`` (centred) to best match ``reference`` point for point
    (orthogonal Procrustes), so a map that is merely turned does not look different."""
    from scipy.linalg import orthogonal_procrustes
    a = coords - coords.mean(axis=0)
    b = reference - reference.mean(axis=0)
    rotation, _ = orthogonal_procrustes(a, b)
    return a @ rotation


def neighbour_agreement(coords: np.ndarray, labels: np.ndarray, k: int = 10) -> float:
    """Share of each point's ``k`` nearest map neighbours that have its class (averaged):
    1.0 = classes form clean islands, ~1/classes = no structure at all."""
    from sklearn.neighbors import NearestNeighbors
    labels = np.asarray(labels)
    k = min(k, len(coords) - 1)
    if k < 1:
        return float("nan")
    _, idx = NearestNeighbors(n_neighbors=k + 1).fit(coords).kneighbors(coords)
    return float((labels[idx[:, 1:]] == labels[:, None]).mean())
