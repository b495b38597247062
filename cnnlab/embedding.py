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

import base64
import hashlib
import io
import logging
import os
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from . import checkpoints, datasets
from .config import LIMITS, check_tsne
from .training import eval_mode

log = logging.getLogger(__name__)

SEED = 0                     # one seed: the same sample and the same map every time
DEFAULT_N = 2000             # points in a map: clear clusters, a few seconds on 2 cores
MIN_N, MAX_N = int(LIMITS["tsne_points"].low), int(LIMITS["tsne_points"].high)   # see config.LIMITS
DEFAULT_PERPLEXITY = 30.0    # about how many neighbours each point "keeps" (openTSNE's default)
PCA_DIMS = 50                # features are reduced to this many numbers before t-SNE
N_JOBS = 2                   # threads for t-SNE when the CPU is free (the laptop has 2 cores)
EARLY_ITER, MAIN_ITER = 250, 500   # optimisation schedule (openTSNE's defaults) ...
LARGE_N, LARGE_MAIN_ITER = 5000, 250   # ... but from 5,000 points (FFT gradients) a shorter main
# phase: the FFT grid grows as the map spreads out, so its last 250 iterations cost more than all
# the others (10,000 MNIST points, 1 thread: 38 s of CPU for 250+500 iterations, 13 s for 250+250,
# with the same share of same-class neighbours, 98.6% vs 98.5%, and KL 1.58 vs 1.66).
PLACE_ITER = 250             # iterations that settle one new point into a finished map
FOLLOW_ITER = 400            # iterations for a snapshot map that starts from the previous map
SNAPSHOT_N = 1000            # sample size for the training snapshots (fast to embed and to map)
SNAPSHOT_EVERY_S = 3.0       # at most one snapshot this often during a run ...
MAX_SNAPSHOTS = 24           # ... and at most this many (when full, every other one is dropped)
RAW_SIDE = 32                # photos are shrunk to 32x32 for the raw-pixel map
THUMB_SIDE = 56              # pixels of the picture shown when hovering a point
MAP_FORMAT = 1               # version of the .tsne.npz layout

Progress = Callable[[float, str], None]


def _quiet(fraction: float, text: str) -> None:
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
          progress: Progress = _quiet) -> tuple[np.ndarray, np.ndarray]:
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
            progress(min(1.0, (i + batch_size) / max(len(images), 1)), "reading the pictures")
    if not feats:
        return np.zeros((0, 0), np.float32), np.zeros(0, np.int64)
    return torch.cat(feats).numpy(), torch.cat(preds).numpy().astype(np.int64)


def embed_one(model: nn.Module, tensor: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """Features (1, D) and class probabilities (K,) of one prepared (normalised) input."""
    device = next(model.parameters()).device
    with eval_mode(model), torch.inference_mode():
        f = model.embed(tensor.to(device))
        probs = torch.softmax(model.head(f), dim=1)[0]
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
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return N_JOBS if load < cores - 0.5 else 1


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
             main_iter: int | None = None, progress: Progress = _quiet):
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
        raise ValueError("a t-SNE map needs at least 5 points")
    n_jobs = n_jobs or tsne_threads()
    if main_iter is None:
        main_iter = MAIN_ITER if len(X) < LARGE_N else LARGE_MAIN_ITER
    progress(0.0, "finding each point's neighbours")
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
            progress(0.05 + 0.95 * (offset + iteration) / total, "arranging the map (t-SNE)")
            return False
        return callback

    if early_iter:
        emb.optimize(early_iter, exaggeration=12, momentum=0.5, inplace=True,
                     callbacks=tick(0), callbacks_every_iters=50)
    if main_iter:
        emb.optimize(main_iter, momentum=0.8, inplace=True, callbacks=tick(early_iter),
                     callbacks_every_iters=50)
    emb -= (emb.max(axis=0) + emb.min(axis=0)) / 2          # centred (transform() expects this)
    progress(1.0, "map ready")
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


# --------------------------------------------------------------------------- a map
@dataclass(eq=False)
class TsneMap:
    """One map: where each sample point lies, its true and predicted class, and what is needed to
    place new points (the reduced features and the PCA)."""
    dataset: str
    model: str
    classes: tuple[str, ...]
    indices: np.ndarray              # (n,) rows of the test set
    labels: np.ndarray               # (n,) true classes
    preds: np.ndarray                # (n,) the model's answers
    coords: np.ndarray               # (n, 2) float32, centred
    features: np.ndarray             # (n, k) float32 after PCA (what t-SNE saw)
    projection: Projection
    perplexity: float
    seed: int = SEED
    checkpoint_digest: str = ""
    raw_coords: np.ndarray | None = None     # the raw-pixel map of the same sample, if made
    test_size: int = 0                       # pictures in the whole test set
    seconds: float = 0.0                     # how long the map took to compute
    precomputed: bool = False                # read from a .tsne.npz file
    _reference: object = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def n(self) -> int:
        return len(self.indices)

    @property
    def ident(self) -> str:
        """Names this map (checkpoint contents, sample, settings): a user's stars belong to it."""
        return f"{self.checkpoint_digest[:16]}|{self.n}|{self.perplexity:g}|{self.seed}"

    @property
    def accuracy(self) -> float:
        return float((self.preds == self.labels).mean()) if self.n else float("nan")

    def nearest(self, point, k: int = 10) -> np.ndarray:
        """Positions (into this map's arrays) of the ``k`` map points closest to ``point``."""
        d = np.sum((self.coords - np.asarray(point, dtype=np.float32)) ** 2, axis=1)
        k = min(k, self.n)
        return np.argsort(d, kind="stable")[:k]

    def place(self, features: np.ndarray) -> np.ndarray:
        """Positions (m, 2) for new last-layer feature rows (m, D), found by openTSNE's
        ``transform``: each new point is pulled towards its nearest sample points (in feature
        space) while the map itself stays where it is."""
        z = self.projection(np.atleast_2d(features)).astype(np.float32)
        with self._lock:                  # transform() moves the reference's centre in place
            ref = self._reference_embedding()
            partial = ref.transform(z, n_iter=PLACE_ITER)
            shift = self.coords[0].astype(np.float64) - np.asarray(ref)[0]
            return (np.asarray(partial) + shift).astype(np.float32)

    def _reference_embedding(self):
        """The map as an openTSNE embedding with its neighbour index (built once, ~0.2 s for 2,000
        points). One thread: placing a single point is faster without thread hand-offs."""
        if self._reference is None:
            from openTSNE import TSNEEmbedding
            aff = _affinities(self.features, self.perplexity, self.seed, n_jobs=1)
            self._reference = TSNEEmbedding(self.coords.astype(np.float64), aff,
                                            negative_gradient_method="fft", n_jobs=1,
                                            random_state=self.seed)
        return self._reference

    # ---- files
    def save(self, path: str | Path) -> Path:
        """A small .npz (float16 coordinates and features): well under 2 MB for 2,000 points."""
        path = Path(path)
        comps = self.projection.components
        arrays = dict(
            format=np.int64(MAP_FORMAT), dataset=np.str_(self.dataset), model=np.str_(self.model),
            classes=np.array(self.classes, dtype=np.str_), indices=self.indices.astype(np.int32),
            labels=self.labels.astype(np.int16), preds=self.preds.astype(np.int16),
            coords=self.coords.astype(np.float16), features=self.features.astype(np.float16),
            pca_mean=self.projection.mean.astype(np.float32),
            pca_components=(comps if comps is not None else np.zeros((0, 0))).astype(np.float32),
            perplexity=np.float64(self.perplexity), seed=np.int64(self.seed),
            checkpoint_digest=np.str_(self.checkpoint_digest), seconds=np.float64(self.seconds),
            test_size=np.int64(self.test_size))
        if self.raw_coords is not None:
            arrays["raw_coords"] = self.raw_coords.astype(np.float16)
        tmp = path.with_name(f".{path.name}.tmp")
        with open(tmp, "wb") as f:
            np.savez_compressed(f, **arrays)
        tmp.replace(path)
        return path

    @classmethod
    def load(cls, path: str | Path) -> "TsneMap":
        with np.load(path, allow_pickle=False) as z:
            if int(z["format"]) != MAP_FORMAT:
                raise ValueError(f"{Path(path).name}: map format {int(z['format'])}, expected {MAP_FORMAT}")
            comps = z["pca_components"]
            coords = z["coords"].astype(np.float32)
            coords -= (coords.max(axis=0) + coords.min(axis=0)) / 2
            return cls(
                dataset=str(z["dataset"]), model=str(z["model"]), classes=tuple(str(c) for c in z["classes"]),
                indices=z["indices"].astype(np.int64), labels=z["labels"].astype(np.int64),
                preds=z["preds"].astype(np.int64), coords=coords,
                features=z["features"].astype(np.float32),
                projection=Projection(z["pca_mean"], comps if comps.size else None),
                perplexity=float(z["perplexity"]), seed=int(z["seed"]),
                checkpoint_digest=str(z["checkpoint_digest"]), seconds=float(z["seconds"]),
                test_size=int(z["test_size"]) if "test_size" in z else 0,
                raw_coords=z["raw_coords"].astype(np.float32) if "raw_coords" in z else None,
                precomputed=True)


def map_path(checkpoint_path: str | Path) -> Path:
    """Where a checkpoint's precomputed map lives: ``checkpoints/mnist-cnn.pt`` ->
    ``checkpoints/mnist-cnn.tsne.npz``."""
    p = Path(checkpoint_path)
    return p.with_name(p.stem + ".tsne.npz")


_digests: dict[tuple, str] = {}
_digest_lock = threading.Lock()


def file_digest(path: str | Path) -> str:
    """SHA-256 of a file (remembered while its size and modification time stay the same): tells
    whether a precomputed map still belongs to its checkpoint."""
    p = Path(path)
    st = p.stat()
    key = (str(p.resolve()), st.st_size, st.st_mtime_ns)
    with _digest_lock:
        if key in _digests:
            return _digests[key]
    h = hashlib.sha256()
    with open(p, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    digest = h.hexdigest()
    with _digest_lock:
        _digests[key] = digest
    return digest


# --------------------------------------------------------------------------- making maps
def features_frozen(model: nn.Module) -> bool:
    """True for a transfer model whose pretrained network is entirely frozen (only the head
    learns): its last-layer features are then the same before, during and after training."""
    return hasattr(model, "backbone") and getattr(model, "finetune", "head") in ("head", False)


_frozen_cache: dict[tuple, np.ndarray] = {}
_frozen_lock = threading.Lock()


def sample_features(loaded: checkpoints.Loaded, test: datasets.TensorData, indices: np.ndarray,
                    progress: Progress = _quiet) -> tuple[np.ndarray, np.ndarray]:
    """Features and predictions of the sample. A frozen pretrained backbone gives the same features
    whatever its head learned, so those are computed once per process (photos cost ~30 ms each)."""
    model = loaded.model
    if not features_frozen(model):
        return embed(model, test.images[indices], (loaded.mean, loaded.std), progress=progress)
    key = (loaded.dataset, id(test.images), tuple(indices.tolist()), type(model).__name__)
    with _frozen_lock:
        feats = _frozen_cache.get(key)
    if feats is None:
        feats, _ = embed(model, test.images[indices], (loaded.mean, loaded.std), progress=progress)
        with _frozen_lock:
            _frozen_cache[key] = feats
    with eval_mode(model), torch.inference_mode():
        device = next(model.parameters()).device
        preds = model.head(torch.from_numpy(feats).to(device)).argmax(1).cpu().numpy()
    return feats, preds.astype(np.int64)


def compute_map(loaded: checkpoints.Loaded, test: datasets.TensorData, n: int = DEFAULT_N,
                perplexity: float = DEFAULT_PERPLEXITY, seed: int = SEED, with_raw: bool = False,
                progress: Progress = _quiet) -> TsneMap:
    """Embed a class-balanced sample of ``test`` with ``loaded``'s model and map it."""
    start = time.perf_counter()
    indices = balanced_sample(test.labels.numpy(), n, seed)
    feats, preds = sample_features(loaded, test, indices, lambda f, t: progress(0.3 * f, t))
    projection = fit_projection(feats, seed=seed)
    reduced = projection(feats)
    emb = run_tsne(reduced, perplexity, seed, progress=lambda f, t: progress(0.3 + 0.7 * f, t))
    m = TsneMap(loaded.dataset, loaded.model_name, tuple(loaded.classes), indices,
                test.labels.numpy()[indices].astype(np.int64), preds, np.asarray(emb, np.float32),
                reduced.astype(np.float32), projection, effective_perplexity(perplexity, len(indices)),
                seed, file_digest(loaded.path) if loaded.path and Path(loaded.path).is_file() else "")
    m.seconds = time.perf_counter() - start
    m.test_size = len(test)
    if with_raw:
        m.raw_coords = raw_map(test, indices, perplexity, seed)
    return m


def raw_map(test: datasets.TensorData, indices: np.ndarray, perplexity: float = DEFAULT_PERPLEXITY,
            seed: int = SEED, progress: Progress = _quiet) -> np.ndarray:
    """The t-SNE map of the same sample's raw pixels (no network at all), (n, 2) float32."""
    pixels = raw_pixels(test.images[indices])
    reduced = fit_projection(pixels, seed=seed)(pixels)
    return np.asarray(run_tsne(reduced, perplexity, seed, progress=progress), dtype=np.float32)


def precompute_map(checkpoint_path: str | Path, data_root: str | Path | None = None, n: int = DEFAULT_N,
                   perplexity: float = DEFAULT_PERPLEXITY, seed: int = SEED, out: str | Path | None = None,
                   progress: Progress = _quiet) -> Path:
    """Compute and save the map that ships with a checkpoint (``<name>.tsne.npz`` next to it),
    including the raw-pixel map of the same sample. Returns the file's path."""
    loaded = checkpoints.load(checkpoint_path)
    test = datasets.load(loaded.dataset, "test", data_root)
    m = compute_map(loaded, test, n, perplexity, seed, with_raw=True, progress=progress)
    return m.save(out or map_path(checkpoint_path))


def thumbnails(test: datasets.TensorData, indices: np.ndarray, side: int = THUMB_SIDE) -> list[str]:
    """Small pictures of the sample as data URLs (PNG for 28x28 grey, JPEG for photos)."""
    from PIL import Image
    out = []
    for i in np.asarray(indices):
        arr = test.images[int(i)].numpy()
        if arr.shape[0] == 1:
            im = Image.fromarray(arr[0]).resize((side, side), Image.NEAREST)
            buf = io.BytesIO()
            im.save(buf, "PNG", optimize=True)
            out.append("data:image/png;base64," + base64.b64encode(buf.getvalue()).decode())
        else:
            im = Image.fromarray(arr.transpose(1, 2, 0)).resize((side, side), Image.BILINEAR)
            buf = io.BytesIO()
            im.save(buf, "JPEG", quality=70)
            out.append("data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode())
    return out


class MapCache:
    """Maps shared by everyone: a shipped map is read from disk, any other is computed once and
    kept (least recently used first out). One t-SNE runs at a time (the laptop has 2 cores)."""

    def __init__(self, data_root=None, max_maps: int = 8):
        self.data_root = data_root
        self.max_maps = max_maps
        self._maps: OrderedDict[tuple, TsneMap] = OrderedDict()
        self._raw: OrderedDict[tuple, np.ndarray] = OrderedDict()
        self._thumbs: OrderedDict[tuple, list[str]] = OrderedDict()
        self._lock = threading.Lock()
        self._compute = threading.Lock()

    def test_set(self, dataset: str) -> datasets.TensorData:
        return datasets.load(dataset, "test", self.data_root)

    def cached(self, key: tuple) -> TsneMap | None:
        with self._lock:
            m = self._maps.get(key)
            if m is not None:
                self._maps.move_to_end(key)
            return m

    def get(self, checkpoint_path: str, dataset: str, load_model: Callable[[], checkpoints.Loaded],
            n: int = DEFAULT_N, perplexity: float = DEFAULT_PERPLEXITY, seed: int = SEED,
            progress: Progress = _quiet) -> TsneMap:
        """The map for a checkpoint file: cached, shipped (``.tsne.npz``) or computed now.
        A shipped map is used without loading the model or the test pictures. ``n`` and
        ``perplexity`` outside config.LIMITS raise a LimitError (a sentence naming the range)."""
        n, perplexity = check_tsne(n, perplexity)
        digest = file_digest(checkpoint_path)
        want = (digest, int(n), round(float(perplexity), 2), int(seed))
        m = self.cached(want) or self._shipped(checkpoint_path, want)
        if m is None:
            with self._compute:                          # one t-SNE at a time
                test = self.test_set(dataset)
                exact = (digest, min(int(n), len(test)), want[2], want[3])
                m = self.cached(exact) or self.cached(want)
                if m is None:
                    m = compute_map(load_model(), test, exact[1], perplexity, seed, progress=progress)
                self._remember(self._maps, exact, m)
        self._remember(self._maps, want, m)
        return m

    def _shipped(self, checkpoint_path: str, want: tuple) -> TsneMap | None:
        path = map_path(checkpoint_path)
        if not path.is_file():
            return None
        try:
            m = TsneMap.load(path)
        except (OSError, ValueError, KeyError) as err:
            log.warning("ignoring the precomputed map %s: %s", path, err)
            return None
        if m.checkpoint_digest != want[0]:
            log.warning("%s was made for another version of %s; maps will be recomputed",
                        path.name, Path(checkpoint_path).name)
            return None
        whole = m.n == m.test_size and m.n < want[1]     # the whole test set is all there is
        if (m.n == want[1] or whole) and (round(m.perplexity, 2), m.seed) == want[2:]:
            return m
        return None

    def raw(self, m: TsneMap, progress: Progress = _quiet) -> np.ndarray:
        """The raw-pixel map of ``m``'s sample (shipped with the map, or computed once)."""
        if m.raw_coords is not None:
            return m.raw_coords
        key = (m.dataset, hashlib.sha1(m.indices.tobytes()).hexdigest(), round(m.perplexity, 2), m.seed)
        with self._lock:
            coords = self._raw.get(key)
        if coords is None:
            with self._compute:
                with self._lock:
                    coords = self._raw.get(key)
                if coords is None:
                    coords = raw_map(self.test_set(m.dataset), m.indices, m.perplexity, m.seed, progress)
        self._remember(self._raw, key, coords)
        return coords

    def thumbnails(self, m: TsneMap) -> list[str]:
        key = (m.dataset, hashlib.sha1(m.indices.tobytes()).hexdigest())
        with self._lock:
            urls = self._thumbs.get(key)
        if urls is None:
            urls = thumbnails(self.test_set(m.dataset), m.indices)
        self._remember(self._thumbs, key, urls)
        return urls

    def _remember(self, store: OrderedDict, key, value) -> None:
        with self._lock:
            store[key] = value
            store.move_to_end(key)
            while len(store) > self.max_maps:
                store.popitem(last=False)


# --------------------------------------------------------------------------- how it learned
@dataclass(frozen=True)
class Snapshot:
    """The sample's last-layer features at one moment of a run (PCA-reduced, float16)."""
    uid: int
    step: int
    epoch: float
    seconds: float
    val_acc: float | None
    features: np.ndarray             # (n, k) float16
    preds: np.ndarray                # (n,) int16

    @property
    def accuracy_text(self) -> str:
        return "before training" if self.step == 0 else (
            f"validation accuracy {self.val_acc:.1%}" if self.val_acc is not None else "")


@dataclass(frozen=True)
class Recording:
    """What has been recorded of the current run (a consistent copy for readers)."""
    run_id: int = 0
    dataset: str = ""
    model: str = ""
    classes: tuple[str, ...] = ()
    indices: np.ndarray | None = None
    labels: np.ndarray | None = None
    snapshots: tuple[Snapshot, ...] = ()
    note: str = "No training run yet: start one in the Train tab and its snapshots appear here."


class SnapshotRecorder:
    """Listens to the shared training job (``TrainJob.listeners``) and keeps the fixed sample's
    last-layer features at the start, at most every SNAPSHOT_EVERY_S seconds at an "eval" event,
    and at the end. The listener only embeds 1,000 small images (tens of milliseconds for the
    small CNNs); the maps are computed later, on demand, each one started from the previous map and
    turned to match it, so points move only as much as the network's view of them changes."""

    def __init__(self, data_root=None, n: int = SNAPSHOT_N, every_s: float = SNAPSHOT_EVERY_S,
                 max_snapshots: int = MAX_SNAPSHOTS, perplexity: float = DEFAULT_PERPLEXITY,
                 seed: int = SEED):
        self.data_root = data_root
        self.n, self.every_s, self.max_snapshots = n, every_s, max_snapshots
        self.perplexity, self.seed = perplexity, seed
        self._lock = threading.Lock()            # the recording (held briefly by the trainer)
        self._compute = threading.Lock()         # map computations (never held by the trainer)
        self._rec = Recording()
        self._images: torch.Tensor | None = None
        self._stats = None
        self._last = 0.0
        self._every = every_s
        self._uid = 0
        self._maps: dict[int, np.ndarray] = {}

    # ---- the trainer side
    def __call__(self, event, model: nn.Module, config) -> None:
        """The job listener: (TrainEvent, model, TrainConfig), called in the training thread."""
        if event.kind == "start":
            self._start(model, config)
        elif self._images is not None and event.kind in ("eval", "done"):
            now = time.perf_counter()
            if event.kind == "done" or now - self._last >= self._every:
                self._take(event, model)

    def _start(self, model: nn.Module, config) -> None:
        spec = datasets.get_spec(config.dataset)
        with self._lock:
            run_id = self._rec.run_id + 1
            self._maps = {}
            self._images = None
            self._every = self.every_s
        if spec.kind == "photo" or hasattr(model, "backbone"):
            why = ("its pretrained layers are frozen, so its last-layer features do not change while "
                   "the new head learns" if features_frozen(model) else
                   "reading 1,000 photos through the big network would slow training down too much")
            with self._lock:
                self._rec = Recording(run_id, config.dataset, config.model, spec.classes,
                                      note=f"No snapshots for the photo model: {why}. "
                                           "Its map is in the main view above.")
            return
        test = datasets.load(config.dataset, "test", self.data_root)
        indices = balanced_sample(test.labels.numpy(), self.n, self.seed)
        with self._lock:
            self._images = test.images[indices]
            self._stats = spec
            self._rec = Recording(run_id, config.dataset, config.model, spec.classes, indices,
                                  test.labels.numpy()[indices].astype(np.int64), (),
                                  note="Recording: a snapshot every few seconds while the model trains.")
        self._take(None, model)

    def _take(self, event, model: nn.Module) -> None:
        feats, preds = embed(model, self._images, self._stats)
        reduced = fit_projection(feats, seed=self.seed)(feats).astype(np.float16)
        with self._lock:
            self._uid += 1
            snap = Snapshot(self._uid, int(getattr(event, "step", 0) or 0),
                            float(getattr(event, "epoch", 0.0) or 0.0),
                            float(getattr(event, "elapsed_s", 0.0) or 0.0),
                            getattr(event, "val_acc", None), reduced, preds.astype(np.int16))
            snaps = self._rec.snapshots + (snap,)
            if len(snaps) > self.max_snapshots:          # keep the first, the last and every other
                snaps = snaps[:-1][::2] + snaps[-1:]
                self._every *= 2
            done = event is not None and event.kind == "done"
            note = (f"{len(snaps)} snapshots of the run" + (" (finished)." if done else ", recording…"))
            self._rec = Recording(self._rec.run_id, self._rec.dataset, self._rec.model, self._rec.classes,
                                  self._rec.indices, self._rec.labels, snaps, note)
            self._last = time.perf_counter()

    # ---- the viewer side
    def recording(self) -> Recording:
        with self._lock:
            return self._rec

    def map_at(self, i: int, progress: Progress = _quiet) -> tuple[Recording, Snapshot, np.ndarray]:
        """The aligned map (n, 2) of snapshot ``i`` of the current recording (computing the maps
        of the snapshots before it first, each started from the one before)."""
        rec = self.recording()
        if not rec.snapshots:
            raise LookupError(rec.note)
        i = int(min(max(i, 0), len(rec.snapshots) - 1))
        with self._compute:
            prev = None
            todo = [s for s in rec.snapshots[:i + 1] if s.uid not in self._maps]
            done = 0
            for s in rec.snapshots[:i + 1]:
                coords = self._maps.get(s.uid)
                if coords is None:
                    base = done / max(len(todo), 1)
                    step = lambda f, t: progress(base + f / max(len(todo), 1),   # noqa: E731
                                                 f"map {done + 1} of {len(todo)}: {t}")
                    X = s.features.astype(np.float32)
                    if prev is None:
                        coords = np.asarray(run_tsne(X, self.perplexity, self.seed, progress=step), np.float32)
                    else:
                        coords = np.asarray(run_tsne(X, self.perplexity, self.seed, init=prev,
                                                     early_iter=0, main_iter=FOLLOW_ITER,
                                                     progress=step), np.float32)
                        coords = align(coords, prev).astype(np.float32)
                    with self._lock:
                        if self._rec.run_id == rec.run_id:
                            self._maps[s.uid] = coords
                    done += 1
                prev = coords
        return rec, rec.snapshots[i], prev

    def all_maps(self, progress: Progress = _quiet) -> tuple[Recording, list[np.ndarray]]:
        rec = self.recording()
        if not rec.snapshots:
            raise LookupError(rec.note)
        self.map_at(len(rec.snapshots) - 1, progress)
        with self._lock:
            maps = [self._maps.get(s.uid) for s in rec.snapshots]
        if any(m is None for m in maps):            # a new run started meanwhile
            raise LookupError("A new training run started; try again in a moment.")
        return rec, maps


def animation_gif(rec: Recording, maps: list[np.ndarray], path: str | Path, colors=None,
                  frame_ms: int = 700) -> Path:
    """An animated GIF of the maps of a recording (one frame per snapshot, the last one held),
    drawn on the same axes so that the motion is the network's, not the camera's."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from PIL import Image
    from .plots import tsne_frame_figure

    reach = max(float(np.abs(m).max()) for m in maps) * 1.05
    frames = []
    for snap, coords in zip(rec.snapshots, maps):
        title = f"step {snap.step:,} · epoch {snap.epoch:.2f} · {snap.accuracy_text}".rstrip(" ·")
        fig = tsne_frame_figure(coords, rec.labels, rec.classes, title=title, limit=reach, colors=colors)
        canvas = FigureCanvasAgg(fig)
        canvas.draw()
        frames.append(Image.fromarray(np.asarray(canvas.buffer_rgba())[..., :3]).convert(
            "P", palette=Image.Palette.ADAPTIVE, colors=64))
    durations = [frame_ms] * (len(frames) - 1) + [frame_ms * 4]
    path = Path(path)
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=durations, loop=0,
                   optimize=False, disposal=1)
    return path
