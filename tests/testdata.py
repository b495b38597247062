"""The data sets the tests read, fetched once when they are missing, and what to say when they
cannot be had.

MNIST and Fashion-MNIST come through the project's own --download path (torchvision, into the
data root), only when they are not there already. The flowers5 photos cannot be downloaded: the
tests that need them are skipped with a sentence that says what to copy where.
"""
from __future__ import annotations

from pathlib import Path

from cnnlab.config import DATA_ENV
from cnnlab.core import datasets

DOWNLOADABLE = ("mnist", "fashion")          # what torchvision can fetch into the data root


class DataUnavailable(Exception):
    """The digit and clothing sets are not in the data root and could not be downloaded."""


def ensure_downloadable_sets(root: Path) -> list[str]:
    """Make sure MNIST and Fashion-MNIST are in ``root``: load them, and where one is missing,
    let torchvision download it there (once: later runs find the files). Returns the names it
    had to download; raises DataUnavailable with one sentence when that is impossible."""
    fetched = []
    for name in DOWNLOADABLE:
        for split in ("train", "test"):
            try:
                datasets.load(name, split, root)
                continue
            except datasets.DataMissingError:
                pass
            try:
                datasets.load(name, split, root, download=True)
            except datasets.DataMissingError:
                folders = " and ".join(f"{datasets.get_spec(n).folder}/" for n in DOWNLOADABLE)
                raise DataUnavailable(
                    f"The test data is not in {root} and could not be downloaded (is this machine "
                    f"offline?): set {DATA_ENV} to a folder that holds {folders} (torchvision layout), "
                    "or run the tests once with internet to fetch them there.") from None
            if name not in fetched:
                fetched.append(name)
    return fetched


def flowers_missing(root: Path) -> str | None:
    """Why a flowers5 test cannot run here, or None when the photos are in ``root``."""
    folder = root / datasets.get_spec("flowers5").folder
    if all((folder / split).is_dir() for split in ("train", "test")):
        return None
    return (f"needs the flowers5 photos, which cannot be downloaded: copy the {folder.name} folder "
            f"(train/ and test/, one folder per class) to {folder}")
