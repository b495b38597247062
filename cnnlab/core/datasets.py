"""Data sets by name.

Every data set loads into memory once, as a uint8 image tensor (N, C, H, W) plus int64 labels,
so training never goes through PIL per sample. Photos are decoded once at the model's input
size. The data root comes from --data-dir / $CNNLAB_DATA (see ``config.data_root``); missing data
is downloaded by torchvision only when the caller allows it.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..config import DATA_ENV, data_root
from ..i18n import BadValue, Refusal, Text, UnknownName

MNIST_CLASSES = tuple(str(d) for d in range(10))
FASHION_CLASSES = ("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                   "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot")
FLOWERS5_CLASSES = ("daisy", "dandelion", "rose", "sunflower", "tulip")
FLOWERS102_CLASSES = (
    "pink primrose", "hard-leaved pocket orchid", "canterbury bells", "sweet pea",
    "english marigold", "tiger lily", "moon orchid", "bird of paradise", "monkshood",
    "globe thistle", "snapdragon", "colt's foot", "king protea", "spear thistle", "yellow iris",
    "globe-flower", "purple coneflower", "peruvian lily", "balloon flower",
    "giant white arum lily", "fire lily", "pincushion flower", "fritillary", "red ginger",
    "grape hyacinth", "corn poppy", "prince of wales feathers", "stemless gentian", "artichoke",
    "sweet william", "carnation", "garden phlox", "love in the mist", "mexican aster",
    "alpine sea holly", "ruby-lipped cattleya", "cape flower", "great masterwort", "siam tulip",
    "lenten rose", "barbeton daisy", "daffodil", "sword lily", "poinsettia", "bolero deep blue",
    "wallflower", "marigold", "buttercup", "oxeye daisy", "common dandelion", "petunia",
    "wild pansy", "primula", "sunflower", "pelargonium", "bishop of llandaff", "gaura",
    "geranium", "orange dahlia", "pink-yellow dahlia", "cautleya spicata", "japanese anemone",
    "black-eyed susan", "silverbush", "californian poppy", "osteospermum", "spring crocus",
    "bearded iris", "windflower", "tree poppy", "gazania", "azalea", "water lily", "rose",
    "thorn apple", "morning glory", "passion flower", "lotus", "toad lily", "anthurium",
    "frangipani", "clematis", "hibiscus", "columbine", "desert-rose", "tree mallow", "magnolia",
    "cyclamen", "watercress", "canna lily", "hippeastrum", "bee balm", "ball moss", "foxglove",
    "bougainvillea", "camellia", "mallow", "mexican petunia", "bromelia", "blanket flower",
    "trumpet creeper", "blackberry lily",
)
PHOTO_MEAN, PHOTO_STD = (0.5, 0.5, 0.5), (0.5, 0.5, 0.5)   # EfficientNet-Lite expects [-1, 1]
PHOTO_SIZE = 224                                          # the backbone's native input size


class DataMissingError(Refusal, RuntimeError):
    """The data set is not on disk and downloading was not allowed (or failed)."""


@dataclass(frozen=True)
class DatasetSpec:
    name: str
    title: str
    classes: tuple[str, ...]
    channels: int
    size: int                      # square input size the models see
    mean: tuple[float, ...]
    std: tuple[float, ...]
    kind: str                      # "digits" | "clothing" | "photo"
    folder: str                    # where it lives under the data root

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    @property
    def title_text(self) -> Text:
        """The title in the reader's language (cnnlab/i18n, section "datasets")."""
        return Text(f"datasets.{self.name}")


DATASETS: dict[str, DatasetSpec] = {s.name: s for s in (
    DatasetSpec("mnist", "MNIST digits", MNIST_CLASSES, 1, 28, (0.1307,), (0.3081,), "digits", "MNIST"),
    DatasetSpec("fashion", "Fashion-MNIST clothing", FASHION_CLASSES, 1, 28, (0.2860,), (0.3530,),
                "clothing", "FashionMNIST"),
    # users still pick it as "flowers5"; the photos are the real-resolution originals
    DatasetSpec("flowers5", "Flowers (5 classes)", FLOWERS5_CLASSES, 3, PHOTO_SIZE, PHOTO_MEAN,
                PHOTO_STD, "photo", "flower_photos"),
    DatasetSpec("flowers102", "Oxford Flowers-102", FLOWERS102_CLASSES, 3, PHOTO_SIZE, PHOTO_MEAN,
                PHOTO_STD, "photo", "flowers-102"),
)}


OWN = "own"                # the class's own photo classes (cnnlab.lessons.own.data): not in DATASETS, their
                           # names travel with each checkpoint


def own_spec(classes=()) -> DatasetSpec:
    """The spec of the class's own classes: photos read like flowers5's, with the teacher's names."""
    return DatasetSpec(OWN, "Our own classes", tuple(classes), 3, PHOTO_SIZE, PHOTO_MEAN, PHOTO_STD, "photo", OWN)


def get_spec(name: str, classes=None) -> DatasetSpec:
    """The spec of data set ``name``; for the own classes, with ``classes`` (a checkpoint's names)."""
    if name == OWN:
        return own_spec(classes or ())
    try:
        return DATASETS[name]
    except KeyError:
        raise UnknownName(Text("errors.unknown_dataset", name=repr(name), choices=", ".join(DATASETS))) from None


@dataclass
class TensorData:
    """A whole split in memory: uint8 images (N, C, H, W) and int64 labels (N,)."""
    images: torch.Tensor
    labels: torch.Tensor
    spec: DatasetSpec

    def __len__(self) -> int:
        return len(self.labels)

    def subset(self, n: int) -> TensorData:
        """``n`` images drawn at random (always the same ones): photo sets are stored sorted by
        class, so their first ``n`` would all be daisies."""
        if not n or n >= len(self):
            return self
        pick = torch.randperm(len(self), generator=torch.Generator().manual_seed(0))[:n].sort().values
        return TensorData(self.images[pick], self.labels[pick], self.spec)


_cache: dict[tuple, TensorData] = {}
_cache_lock = threading.Lock()


def holdout(data: TensorData, n: int, seed: int = 0) -> tuple[TensorData, TensorData]:
    """(the rest, ``n`` held-out images): a seeded random split, so a run that keeps these images
    out of training and the code that fits its temperature later pick the same ones."""
    n = max(0, min(int(n), len(data) - 1))
    order = torch.randperm(len(data), generator=torch.Generator().manual_seed(10_000 + seed))
    held, rest = order[:n].sort().values, order[n:].sort().values
    return (TensorData(data.images[rest], data.labels[rest], data.spec),
            TensorData(data.images[held], data.labels[held], data.spec))


def load(name: str, split: str = "train", root: str | Path | None = None,
         download: bool = False) -> TensorData:
    """Load a split ("train" or "test") into memory once per process; later calls are free."""
    spec = get_spec(name)
    if split not in ("train", "test"):
        raise BadValue(Text("errors.bad_split", split=repr(split)))
    root = data_root(str(root) if root else None)
    key = (name, split, str(root.resolve()))
    with _cache_lock:
        if key not in _cache:
            _cache[key] = _LOADERS[spec.kind if spec.kind == "photo" else "mnist"](spec, split, root, download)
        return _cache[key]


def _missing(spec: DatasetSpec, root: Path, detail: str = "") -> DataMissingError:
    return DataMissingError(Text("errors.data_missing", title=Text(f"datasets.{spec.name}"),
                                 folder=str(root / spec.folder), detail=detail, env=DATA_ENV, name=spec.folder))


def _load_mnist_like(spec: DatasetSpec, split: str, root: Path, download: bool) -> TensorData:
    from torchvision import datasets as tvd
    cls = tvd.MNIST if spec.name == "mnist" else tvd.FashionMNIST
    try:
        ds = cls(str(root), train=split == "train", download=download)
    except RuntimeError as err:          # torchvision: "Dataset not found. You can use download=True"
        raise _missing(spec, root) from err
    except OSError as err:               # a download that failed (no internet)
        raise _missing(spec, root, f" and downloading it failed ({err})") from err
    return TensorData(ds.data.unsqueeze(1).contiguous(), ds.targets.long(), spec)


def _load_photos(spec: DatasetSpec, split: str, root: Path, download: bool) -> TensorData:
    from PIL import Image
    if spec.name == "flowers5":
        folder = root / spec.folder / split
        if not folder.is_dir():
            raise _missing(spec, root,
                           f" ({spec.folder} cannot be downloaded: copy its train/ and test/ folders there)")
        files = [(p, i) for i, c in enumerate(spec.classes) for p in sorted((folder / c).glob("*"))
                 if p.suffix.lower() in (".jpg", ".jpeg", ".png")]
    else:
        from torchvision import datasets as tvd
        try:
            ds = tvd.Flowers102(str(root), split="train" if split == "train" else "test", download=download)
        except RuntimeError as err:
            raise _missing(spec, root) from err
        files = list(zip(ds._image_files, ds._labels))
    if not files:
        raise _missing(spec, root, " (the folder holds no images)")
    images = torch.empty((len(files), 3, spec.size, spec.size), dtype=torch.uint8)
    for i, (path, _) in enumerate(files):
        with Image.open(path) as im:
            images[i] = torch.from_numpy(np.array(fit_square(im.convert("RGB"), spec.size))).permute(2, 0, 1)
    return TensorData(images, torch.tensor([label for _, label in files], dtype=torch.long), spec)


def fit_square(image, size: int):
    """Resize the short side to ``size`` and centre-crop a square (the usual ImageNet eval crop)."""
    from PIL import Image
    w, h = image.size
    scale = size / min(w, h)
    image = image.resize((max(size, round(w * scale)), max(size, round(h * scale))), Image.BILINEAR)
    w, h = image.size
    left, top = (w - size) // 2, (h - size) // 2
    return image.crop((left, top, left + size, top + size))


_LOADERS = {"mnist": _load_mnist_like, "photo": _load_photos}


def normalize(images: torch.Tensor, spec_or_stats) -> torch.Tensor:
    """uint8 (N, C, H, W) -> float, scaled to [0, 1] and normalised with the data set's mean/std."""
    mean, std = (spec_or_stats.mean, spec_or_stats.std) if hasattr(spec_or_stats, "mean") else spec_or_stats
    x = images.float().div_(255.0)
    m = torch.tensor(mean, dtype=x.dtype, device=x.device).view(1, -1, 1, 1)
    s = torch.tensor(std, dtype=x.dtype, device=x.device).view(1, -1, 1, 1)
    return (x - m) / s
