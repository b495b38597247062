"""The models the app serves: the shipped checkpoints plus the latest trained run.

Shared by every user, so it is read-only for handlers: models are loaded once (lazily, under a
lock) and only ever replaced as a whole, never changed in place.
"""
from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from pathlib import Path

from ..core import checkpoints
from ..core.checkpoints import Loaded
from ..i18n import DEFAULT, Text, UnknownName, tr

LATEST = "latest"           # key of the latest run trained in this app (Train tab)
# The shipped model each data set starts with (the best one we ship for it).
PREFERRED = {"mnist": "mnist-cnn", "fashion": "fashion-cnn-deep", "flowers5": "flowers5-transfer"}

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Entry:
    key: str                # "mnist-cnn", "latest", ...
    label: Text             # what the UI shows (rendered in the reader's language)
    dataset: str
    path: str


def _label(model: str, dataset: str, accuracy: float | None) -> Text:
    if accuracy:
        return Text("zoo.entry_scored", model=model, dataset=dataset, accuracy=accuracy)
    return Text("zoo.entry", model=model, dataset=dataset)


class ModelZoo:
    def __init__(self, checkpoint_dir: str | Path = "checkpoints"):
        self.checkpoint_dir = Path(checkpoint_dir)
        self._lock = threading.Lock()
        self._loaded: dict[str, Loaded] = {}
        self._entries: dict[str, Entry] = {}
        self.version = 0    # bumps whenever the latest run changes (UIs refresh their choices)
        self.unreadable: dict[str, Text | str] = {}     # file name -> why it could not be read
        for path in sorted(self.checkpoint_dir.glob("*.pt")):
            try:
                payload = checkpoints.read_payload(path)
            except checkpoints.CheckpointError as err:
                log.warning("skipping the checkpoint %s: %s", path, err)
                self.unreadable[path.name] = err.args[0]     # a Text: shown in the reader's language
                continue
            acc = payload.get("metrics", {}).get("test_accuracy")
            self._entries[path.stem] = Entry(path.stem, _label(payload["model"], payload["dataset"], acc),
                                             payload["dataset"], str(path))

    def entries(self, datasets: tuple[str, ...] | None = None) -> list[Entry]:
        """Entries (the latest run first), optionally only those for some data sets."""
        with self._lock:
            items = list(self._entries.values())
        items.sort(key=lambda e: (e.key != LATEST, e.key))
        return [e for e in items if datasets is None or e.dataset in datasets]

    def choices(self, datasets: tuple[str, ...] | None = None, lang: str = DEFAULT) -> list[tuple[str, str]]:
        """(label, key) pairs for a gr.Dropdown, in ``lang``. A shipped file that could not be read is
        listed too, with the reason, so nobody wonders where it went (choosing it says why again)."""
        broken = [(tr(lang, "zoo.broken", name=name, why=why), f"broken:{name}")
                  for name, why in self.unreadable.items()]
        return [(e.label.in_(lang), e.key) for e in self.entries(datasets)] + broken

    def default(self, datasets: tuple[str, ...] | None = None, latest_first: bool = False) -> str | None:
        """The model a tab starts with: the preferred shipped model of the first data set that has
        one, else any shipped model, else the latest run (first of all when ``latest_first``)."""
        keys = [e.key for e in self.entries(datasets)]
        if latest_first and LATEST in keys:
            return LATEST
        for dataset in datasets or PREFERRED:
            if PREFERRED.get(dataset) in keys:
                return PREFERRED[dataset]
        shipped = [k for k in keys if k != LATEST]
        return (shipped or keys or [None])[0]

    def get(self, key: str) -> Loaded:
        with self._lock:
            if key in self._loaded:
                return self._loaded[key]
            entry = self._entries.get(key)
        if entry is None:
            name = key.removeprefix("broken:")
            if name in self.unreadable:
                raise UnknownName(Text("errors.zoo_unreadable", name=name, why=self.unreadable[name]))
            raise UnknownName(Text("errors.zoo_unknown", name=repr(key), choices=", ".join(self._entries)))
        loaded = checkpoints.load(entry.path)
        with self._lock:
            return self._loaded.setdefault(key, loaded)

    def set_latest(self, loaded: Loaded, how: str = "zoo.latest_run") -> None:
        """Publish a freshly trained model (a copy the trainer will not touch again); ``how`` names
        where it came from (a key in cnnlab/i18n: trained, uploaded, fine-tuned on the board)."""
        with self._lock:
            acc = loaded.metrics.get("test_accuracy")
            text = Text("zoo.latest", how=Text(how), model=_label(loaded.model_name, loaded.dataset, acc))
            self._entries[LATEST] = Entry(LATEST, text, loaded.dataset, loaded.path)
            self._loaded[LATEST] = loaded
            self.version += 1
