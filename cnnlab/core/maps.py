"""The t-SNE maps the class looks at: one map of a fixed test sample per checkpoint (shipped as
``<name>.tsne.npz`` beside it, or computed once and cached), and new points placed into it as
stars. The maths is in ``tsne.py``."""
from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from ..config import check_tsne
from ..i18n import BadValue, Text
from . import checkpoints, datasets
from .cache import LRU, file_digest, tensor_fingerprint
from .imageio import data_url
from .nets.models import embedding_fixed
from .training import eval_mode
from .tsne import (
    DEFAULT_N,
    DEFAULT_PERPLEXITY,
    SEED,
    Progress,
    Projection,
    _affinities,
    balanced_sample,
    effective_perplexity,
    embed,
    fit_projection,
    quiet,
    raw_pixels,
    run_tsne,
)

log = logging.getLogger(__name__)

PLACE_ITER = 250             # iterations that settle one new point into a finished map
THUMB_SIDE = 56              # pixels of the picture shown when hovering a point
MAP_FORMAT = 1               # version of the .tsne.npz layout
MAX_FROZEN_FEATURES = 4      # samples of frozen-backbone features kept (photos cost ~30 ms each)
OWN_SETS = 2                 # own-class picture sets kept (small pictures: ~18 MB for 1,500)

# classes -> (the own pictures of those classes, their last-layer features): see MapCache.source
OwnPictures = Callable[[tuple[str, ...]], tuple[datasets.TensorData, np.ndarray]]


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
    def load(cls, path: str | Path) -> TsneMap:
        with np.load(path, allow_pickle=False) as z:
            if int(z["format"]) != MAP_FORMAT:
                raise BadValue(Text("errors.map_format", file=Path(path).name, got=int(z["format"]), want=MAP_FORMAT))
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




# --------------------------------------------------------------------------- making maps
_frozen_features: LRU[np.ndarray] = LRU(MAX_FROZEN_FEATURES)


def sample_features(loaded: checkpoints.Loaded, test: datasets.TensorData, indices: np.ndarray,
                    progress: Progress = quiet, known: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Features and predictions of the sample. A frozen pretrained backbone gives the same features
    whatever its head learned, so those are computed once per process (photos cost ~30 ms each),
    or come ready (``known``: one row per picture of ``test``, the own classes' feature cache)."""
    model = loaded.model
    if not embedding_fixed(model):
        return embed(model, test.images[indices], (loaded.mean, loaded.std), progress=progress)
    if known is not None:
        feats = known[indices]
    else:
        key = (loaded.dataset, tensor_fingerprint(test.images), hashlib.sha1(indices.tobytes()).hexdigest())
        feats = _frozen_features.get_or_make(
            key, lambda: embed(model, test.images[indices], (loaded.mean, loaded.std), progress=progress)[0])
    with eval_mode(model), torch.inference_mode():
        device = next(model.parameters()).device
        preds = model.head(torch.from_numpy(feats).to(device)).argmax(1).cpu().numpy()
    return feats, preds.astype(np.int64)


def compute_map(loaded: checkpoints.Loaded, test: datasets.TensorData, n: int = DEFAULT_N,
                perplexity: float = DEFAULT_PERPLEXITY, seed: int = SEED, with_raw: bool = False,
                progress: Progress = quiet, known: np.ndarray | None = None) -> TsneMap:
    """Embed a class-balanced sample of ``test`` with ``loaded``'s model (or take its ``known``
    features) and map it."""
    start = time.perf_counter()
    indices = balanced_sample(test.labels.numpy(), n, seed)
    feats, preds = sample_features(loaded, test, indices, lambda f, t: progress(0.3 * f, t), known)
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
            seed: int = SEED, progress: Progress = quiet) -> np.ndarray:
    """The t-SNE map of the same sample's raw pixels (no network at all), (n, 2) float32."""
    pixels = raw_pixels(test.images[indices])
    reduced = fit_projection(pixels, seed=seed)(pixels)
    return np.asarray(run_tsne(reduced, perplexity, seed, progress=progress), dtype=np.float32)


def precompute_map(checkpoint_path: str | Path, data_root: str | Path | None = None, n: int = DEFAULT_N,
                   perplexity: float = DEFAULT_PERPLEXITY, seed: int = SEED, out: str | Path | None = None,
                   progress: Progress = quiet) -> Path:
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
            out.append(data_url(Image.fromarray(arr[0]).resize((side, side), Image.NEAREST)))
        else:
            im = Image.fromarray(arr.transpose(1, 2, 0)).resize((side, side), Image.BILINEAR)
            out.append(data_url(im, "JPEG", quality=70))
    return out


def _sample_key(m: TsneMap) -> tuple:
    """Names the pictures of a map's sample: rows of a fixed test split, or of the own pictures
    as they were when that checkpoint's map was made."""
    own = m.checkpoint_digest if m.dataset == datasets.OWN else ""
    return m.dataset, own, hashlib.sha1(m.indices.tobytes()).hexdigest()


class MapCache:
    """Maps shared by everyone: a shipped map is read from disk, any other is computed once and
    kept (least recently used first out). One t-SNE runs at a time (the laptop has 2 cores)."""

    def __init__(self, data_root=None, max_maps: int = 8, own_pictures: OwnPictures | None = None):
        self.data_root = data_root
        self.max_maps = max_maps
        self.own_pictures = own_pictures
        self._maps: LRU[TsneMap] = LRU(max_maps)
        self._raw: LRU[np.ndarray] = LRU(max_maps)
        self._thumbs: LRU[list[str]] = LRU(max_maps)
        self._own: LRU[tuple[datasets.TensorData, np.ndarray]] = LRU(OWN_SETS)
        self._compute = threading.Lock()

    def source(self, dataset: str, digest: str, classes: Callable[[], tuple[str, ...]]):
        """The pictures a map samples, and their features when they are known already: a data
        set's test split, or the class's own pictures (``own_pictures``) for a model trained on
        them, kept per checkpoint so a map's points stay put while students add pictures."""
        if dataset != datasets.OWN:
            return datasets.load(dataset, "test", self.data_root), None
        if self.own_pictures is None:
            raise datasets.DataMissingError(Text("tsne.own_unavailable"))
        return self._own.get_or_make(digest, lambda: self.own_pictures(classes()))

    def pictures_of(self, m: TsneMap) -> datasets.TensorData:
        return self.source(m.dataset, m.checkpoint_digest, lambda: m.classes)[0]

    def cached(self, key: tuple) -> TsneMap | None:
        return self._maps.get(key)

    def get(self, checkpoint_path: str, dataset: str, load_model: Callable[[], checkpoints.Loaded],
            n: int = DEFAULT_N, perplexity: float = DEFAULT_PERPLEXITY, seed: int = SEED,
            progress: Progress = quiet) -> TsneMap:
        """The map for a checkpoint file: cached, shipped (``.tsne.npz``) or computed now.
        A shipped map is used without loading the model or the test pictures. ``n`` and
        ``perplexity`` outside config.LIMITS raise a LimitError (a sentence naming the range)."""
        n, perplexity = check_tsne(n, perplexity)
        digest = file_digest(checkpoint_path)
        want = (digest, int(n), round(float(perplexity), 2), int(seed))
        m = self.cached(want) or self._shipped(checkpoint_path, want)
        if m is None:
            with self._compute:                          # one t-SNE at a time
                test, known = self.source(dataset, digest, lambda: tuple(load_model().classes))
                exact = (digest, min(int(n), len(test)), want[2], want[3])
                m = self.cached(exact) or self.cached(want)
                if m is None:
                    m = compute_map(load_model(), test, exact[1], perplexity, seed, progress=progress, known=known)
                self._maps.put(exact, m)
        self._maps.put(want, m)
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

    def raw(self, m: TsneMap, progress: Progress = quiet) -> np.ndarray:
        """The raw-pixel map of ``m``'s sample (shipped with the map, or computed once)."""
        if m.raw_coords is not None:
            return m.raw_coords
        key = (*_sample_key(m), round(m.perplexity, 2), m.seed)
        coords = self._raw.get(key)
        if coords is None:
            with self._compute:
                coords = self._raw.get(key)
                if coords is None:
                    coords = raw_map(self.pictures_of(m), m.indices, m.perplexity, m.seed, progress)
        self._raw.put(key, coords)
        return coords

    def thumbnails(self, m: TsneMap) -> list[str]:
        key = _sample_key(m)
        urls = self._thumbs.get(key)
        if urls is None:
            urls = thumbnails(self.pictures_of(m), m.indices)
        self._thumbs.put(key, urls)
        return urls


def follow_checkpoint(path, old_digest: str) -> None:
    """The weights did not change (only a temperature, a novelty model, the metrics): the map
    beside the checkpoint (keyed by the file's digest) still belongs to it, so it follows the new
    digest."""
    mp = map_path(path)
    if not mp.is_file():
        return
    with np.load(mp, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    if str(arrays.get("checkpoint_digest", "")) != old_digest:
        return
    arrays["checkpoint_digest"] = np.str_(file_digest(path))
    tmp = mp.with_name(f".{mp.name}.tmp")
    with open(tmp, "wb") as f:
        np.savez_compressed(f, **arrays)
    tmp.replace(mp)
