"""The class's own classes: the picture store (``PictureStore``) and the rate limit on adding.

``PictureStore`` keeps the teacher's classes (2-10 named classes, each open or closed for
collection) and their pictures on the laptop, under ``<runs_dir>/own/``, so they survive a restart
and never leave the classroom:

    own/classes.json                  the classes in order: id, name, open for collection
    own/pictures/<class id>/<digest>.jpg

Every picture is decoded by the app's safe decoder (``imageio.load_photo``: size-capped, from the
header first), turned upright and re-encoded as a small JPEG (longest side ``PICTURE_SIDE``), so
disk use stays bounded (``LIMITS["own_class_pictures"]``, ``LIMITS["own_pictures"]``). A class
id never changes when the class is renamed, so pictures stay where they are. The file name is the
digest of the stored bytes: the same picture twice in a class is stored once, and the backbone's
features are cached by that digest (``cnnlab.lessons.own.model``). Prepared data sets are read
in ``prepared.py``.
"""
from __future__ import annotations

import hashlib
import io
import json
import os
import re
import shutil
import tempfile
import threading
import time
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from PIL import Image

from ...config import LIMITS
from ...core import imageio
from ...i18n import Refusal, Text

PICTURE_SIDE = 224                 # longest side stored: what the backbone sees (224 x 224 after the crop)
JPEG_QUALITY = 85                  # ~10-20 kB a picture at 224 px
KEEP_BYTES = 64 * 1024             # a JPEG already this small (and <= 224 px, upright) is kept as it is
NAME_MAX = 40                      # characters in a class name
MIN_PICTURES = 5                   # a class needs at least this many pictures to train
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".gif", ".webp", ".bmp", ".tif", ".tiff")
ZIP_MAX_BYTES = 300 * 1024 * 1024  # uncompressed bytes read from one zip (a zip bomb stops here)
ZIP_MAX_MEMBERS = 5000             # entries in one zip
RATE_BURST = 12                    # a student may add this many pictures at once ...
RATE_PER_S = 1.0                   # ... then one a second (the teacher is not limited)
RATE_CLIENTS = 500                 # buckets kept (oldest forgotten first)


class OwnDataError(Refusal, ValueError):
    """Something the user must fix; its argument is a ``Text`` (a sentence that says what, in the
    reader's language when the page renders it; ``str()`` is English)."""


def joined(parts, key: str = "own.join_sentences") -> Text | str:
    """Texts (or plain strings) said one after another, joined the way each language joins them
    (``own.join_sentences``: sentences; ``own.join_items``: a list of problems; ``own.join_names``:
    names); "" when there is nothing to say."""
    parts = [p for p in parts if p]
    if not parts:
        return ""
    out = parts[0]
    for part in parts[1:]:
        out = Text(key, a=out, b=part)
    return out


def max_classes() -> int:
    return int(LIMITS["own_classes"].high)


def max_class_pictures() -> int:
    return int(LIMITS["own_class_pictures"].high)


def max_pictures() -> int:
    return int(LIMITS["own_pictures"].high)


# --------------------------------------------------------------------------- pictures
def encode_picture(source: str | Path | bytes) -> bytes:
    """A photo (path or bytes) -> the stored JPEG bytes: decoded safely, upright, RGB, longest side
    at most PICTURE_SIDE. Raises imageio.ImageInputError with a sentence for a bad file."""
    data = imageio.read_bytes(source)
    photo = imageio.load_photo(data, max_side=PICTURE_SIDE)
    if _stored_form(data, photo):
        return data                      # already one of ours (an exported set coming back): same digest
    buffer = io.BytesIO()
    photo.image.save(buffer, format="JPEG", quality=JPEG_QUALITY)
    return buffer.getvalue()


def _stored_form(data: bytes, photo: imageio.Photo) -> bool:
    """True when ``data`` is a small, upright RGB JPEG that decoded cleanly: storing it again as it is
    keeps its digest (re-encoding a JPEG changes its bytes), so a re-imported export adds nothing twice."""
    if photo.format != "JPEG" or len(data) > KEEP_BYTES or photo.notes or max(photo.original_size) > PICTURE_SIDE:
        return False
    with Image.open(io.BytesIO(data)) as im:
        return im.mode == "RGB" and im.getexif().get(0x0112, 1) == 1


def picture_digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:24]


@dataclass(frozen=True)
class OwnClass:
    id: str
    name: str
    open: bool = False
    count: int = 0


@dataclass
class AddReport:
    """What happened to a batch of pictures."""
    added: int = 0
    duplicates: int = 0
    bad: list[Text] = field(default_factory=list)       # "name: why" for every file skipped
    refused: Text | str = ""                            # why the rest were not added (a limit)

    def merge(self, other: AddReport) -> AddReport:
        self.added += other.added
        self.duplicates += other.duplicates
        self.bad += other.bad
        self.refused = self.refused or other.refused
        return self


@dataclass
class PreparedSet:
    """A data set read from a folder, a zip or loose files: class names in order, the picture
    bytes with their class (not decoded yet) and what was skipped."""
    classes: list[str] = field(default_factory=list)
    items: list[tuple[str, str, bytes]] = field(default_factory=list)    # (class, file name, bytes)
    bad: list[Text] = field(default_factory=list)                        # "name: why"
    notes: list[Text] = field(default_factory=list)                      # limits that cut it short

    def counts(self) -> dict[str, int]:
        out = {c: 0 for c in self.classes}
        for c, _, _ in self.items:
            out[c] += 1
        return out


class PictureStore:
    """The own classes and their pictures on disk. Thread-safe: one lock around every change;
    reads see a consistent list. ``version`` bumps on every change (views refresh from it)."""

    def __init__(self, root: str | Path):
        self.root = Path(root)
        self.pictures_dir = self.root / "pictures"
        self.pictures_dir.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._classes: list[dict] = []
        self._counts: dict[str, int] = {}
        self._next = 1
        self.version = 0
        self._load()

    # ---- the class list
    def _load(self) -> None:
        index = self.root / "classes.json"
        if index.is_file():
            try:
                data = json.loads(index.read_text(encoding="utf-8"))
                self._classes = [{"id": str(c["id"]), "name": str(c["name"]), "open": bool(c.get("open"))}
                                 for c in data.get("classes", [])]
                self._next = int(data.get("next", len(self._classes) + 1))
            except (ValueError, KeyError, TypeError, AttributeError):
                self._classes = []                   # a damaged index: start again, pictures stay on disk
        for c in self._classes:
            folder = self.pictures_dir / c["id"]
            self._counts[c["id"]] = len(list(folder.glob("*.jpg"))) if folder.is_dir() else 0

    def _save(self) -> None:
        self.version += 1
        data = json.dumps({"classes": self._classes, "next": self._next}, indent=1)
        fd, tmp = tempfile.mkstemp(dir=self.root, prefix=".classes.", suffix=".tmp")
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(data)
        os.replace(tmp, self.root / "classes.json")

    def classes(self) -> list[OwnClass]:
        with self._lock:
            return [OwnClass(c["id"], c["name"], c["open"], self._counts.get(c["id"], 0)) for c in self._classes]

    def total(self) -> int:
        with self._lock:
            return sum(self._counts.get(c["id"], 0) for c in self._classes)

    def get(self, class_id: str) -> OwnClass:
        for c in self.classes():
            if c.id == class_id:
                return c
        raise OwnDataError(Text("own.no_class"))

    def find(self, name: str) -> OwnClass | None:
        key = name.strip().casefold()
        return next((c for c in self.classes() if c.name.casefold() == key), None)

    def _clean_name(self, name, exclude: str | None = None) -> str:
        name = " ".join(str(name or "").split())
        if not name:
            raise OwnDataError(Text("own.name_empty"))
        if len(name) > NAME_MAX:
            raise OwnDataError(Text("own.name_long", n=NAME_MAX, name=name[:NAME_MAX]))
        same = self.find(name)
        if same is not None and same.id != exclude:
            raise OwnDataError(Text("own.name_taken", name=name))
        return name

    def create(self, name: str, open: bool = True) -> OwnClass:
        with self._lock:
            name = self._clean_name(name)
            if len(self._classes) >= max_classes():
                raise OwnDataError(Text("own.too_many_classes", n=max_classes()))
            class_id = f"c{self._next}"
            self._next += 1
            self._classes.append({"id": class_id, "name": name, "open": bool(open)})
            self._counts[class_id] = 0
            (self.pictures_dir / class_id).mkdir(exist_ok=True)
            self._save()
            return self.get(class_id)

    def rename(self, class_id: str, name: str) -> OwnClass:
        with self._lock:
            entry = self._entry(class_id)
            entry["name"] = self._clean_name(name, exclude=class_id)
            self._save()
            return self.get(class_id)

    def set_open(self, class_id: str, open: bool) -> OwnClass:
        with self._lock:
            self._entry(class_id)["open"] = bool(open)
            self._save()
            return self.get(class_id)

    def delete(self, class_id: str) -> OwnClass:
        with self._lock:
            gone = self.get(class_id)
            self._classes = [c for c in self._classes if c["id"] != class_id]
            self._counts.pop(class_id, None)
            shutil.rmtree(self.pictures_dir / class_id, ignore_errors=True)
            self._save()
            return gone

    def clear_pictures(self) -> int:
        """Delete every picture (the classes stay); returns how many were deleted."""
        with self._lock:
            n = self.total()
            for c in self._classes:
                shutil.rmtree(self.pictures_dir / c["id"], ignore_errors=True)
                (self.pictures_dir / c["id"]).mkdir()
                self._counts[c["id"]] = 0
            self._save()
            return n

    def _entry(self, class_id: str) -> dict:
        for c in self._classes:
            if c["id"] == class_id:
                return c
        raise OwnDataError(Text("own.no_class"))

    # ---- pictures
    def pictures(self, class_id: str) -> list[Path]:
        """The class's picture files, newest first."""
        folder = self.pictures_dir / class_id
        files = [p for p in folder.glob("*.jpg")] if folder.is_dir() else []
        return sorted(files, key=lambda p: (-_mtime(p), p.name))

    def snapshot(self) -> list[tuple[OwnClass, list[Path]]]:
        """Every class with its pictures (oldest first, a stable order), under the lock."""
        with self._lock:
            return [(c, sorted(self.pictures(c.id), key=lambda p: p.name)) for c in self.classes()]

    def add(self, class_id: str, sources: Iterable, names: Iterable[str] | None = None,
            require_open: bool = False) -> AddReport:
        """Add pictures (paths or bytes) to a class. Each is decoded and re-encoded outside the lock;
        the limits are checked under it, so many students adding at once never overfill a class.
        Bad files go into the report by name; a full class stops the batch (``refused``)."""
        report = AddReport()
        sources = list(sources)
        names = list(names) if names is not None else [_source_name(s) for s in sources]
        cls = self.get(class_id)
        if require_open and not cls.open:
            raise OwnDataError(Text("own.not_open", name=cls.name))
        for source, name in zip(sources, names):
            try:
                data = encode_picture(source)
            except imageio.ImageInputError as err:
                report.bad.append(Text("own.not_picture", name=name, why=err.args[0] if err.args else str(err)))
                continue
            outcome = self._put(class_id, data, require_open)
            if outcome in ("added", "duplicate"):
                report.added += outcome == "added"
                report.duplicates += outcome == "duplicate"
            else:
                report.refused = outcome
                break
        return report

    def _put(self, class_id: str, data: bytes, require_open: bool) -> str:
        """Store one encoded picture: "added", "duplicate", or the Text saying which limit stops it."""
        digest = picture_digest(data)
        with self._lock:
            try:
                entry = self._entry(class_id)
            except OwnDataError as err:
                return err.args[0]
            if require_open and not entry["open"]:
                return Text("own.not_open", name=entry["name"])
            path = self.pictures_dir / class_id / f"{digest}.jpg"
            if path.exists():
                return "duplicate"
            if self._counts.get(class_id, 0) >= max_class_pictures():
                return Text("own.class_full", name=entry["name"], n=max_class_pictures())
            if self.total() >= max_pictures():
                return Text("own.store_full", n=max_pictures())
            path.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".new.", suffix=".tmp")
            with os.fdopen(fd, "wb") as f:
                f.write(data)
            os.chmod(tmp, 0o644)
            os.replace(tmp, path)
            self._counts[class_id] = self._counts.get(class_id, 0) + 1
            self.version += 1
            return "added"

    def remove_picture(self, class_id: str, digest: str) -> bool:
        with self._lock:
            path = self.pictures_dir / class_id / f"{digest}.jpg"
            if not re.fullmatch(r"[0-9a-f]{24}", digest) or not path.exists():
                return False
            path.unlink()
            self._counts[class_id] = max(0, self._counts.get(class_id, 0) - 1)
            self.version += 1
            return True

    # ---- prepared data sets in and out
    def import_set(self, prepared: PreparedSet) -> AddReport:
        """Add a loaded data set: its classes join the existing ones by name (new names become new
        classes, while there is room), its pictures go into them."""
        report = AddReport(bad=list(prepared.bad))
        notes = list(prepared.notes)
        for name in prepared.classes:
            if self.find(name) is None:
                if len(self.classes()) >= max_classes():
                    notes.append(Text("own.too_many_names", n=len(prepared.classes), limit=max_classes()))
                    break
                self.create(name, open=False)
        for name in prepared.classes:
            cls = self.find(name)
            if cls is None:
                continue
            items = [(data, label) for cname, label, data in prepared.items if cname == name]
            part = self.add(cls.id, [d for d, _ in items], [n for _, n in items])
            report.merge(part)
        if notes:
            report.refused = joined([report.refused] + notes)
        return report

    def export_zip(self, path: str | Path) -> Path:
        """The pictures as a zip: ``own-classes/<class>/<picture>.jpg`` (ImageFolder layout), plus
        ``own-classes/annotations.txt`` (``<class>/<picture>.jpg <label>`` lines, labels 1, 2, ...)
        and ``own-classes/cat_to_name.json`` (label -> class name), the course's two formats."""
        path = Path(path)
        lines, names = [], {}
        with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as z:
            for k, (cls, files) in enumerate(self.snapshot(), start=1):
                folder = _safe_folder(cls.name)
                names[str(k)] = cls.name
                for f in files:
                    member = f"{folder}/{f.name}"
                    z.write(f, f"own-classes/{member}")
                    lines.append(f"{member} {k}")
            z.writestr("own-classes/annotations.txt", "\n".join(lines) + "\n")
            z.writestr("own-classes/cat_to_name.json", json.dumps(names, indent=1, ensure_ascii=False) + "\n")
        return path


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except FileNotFoundError:
        return 0.0


def _safe_folder(name: str) -> str:
    """A class name as a folder name inside a zip: no slashes or leading dots."""
    return re.sub(r"[\\/:*?\"<>|]", "_", name).strip(". ") or "class"


def _source_name(source) -> str:
    return Text("own.a_picture") if isinstance(source, (bytes, bytearray)) else Path(str(source)).name


def open_picture(path: Path) -> Image.Image:
    """A stored picture (our own small JPEG), decoded."""
    with Image.open(path) as im:
        return im.convert("RGB")


# --------------------------------------------------------------------------- the rate limit
class RateLimit:
    """A token bucket per client: ``burst`` pictures at once, then ``per_s`` a second. Refusing
    costs nothing, so one student sending pictures in a loop cannot take the others' turn."""

    def __init__(self, burst: float = RATE_BURST, per_s: float = RATE_PER_S, clients: int = RATE_CLIENTS):
        self.burst, self.per_s, self.clients = float(burst), float(per_s), clients
        self._lock = threading.Lock()
        self._buckets: dict[str, tuple[float, float]] = {}

    def take(self, client: str, n: int = 1, now: float | None = None) -> float:
        """Take ``n`` tokens for ``client``: 0.0 when allowed, else the seconds to wait."""
        now = time.monotonic() if now is None else now
        with self._lock:
            tokens, last = self._buckets.pop(client, (self.burst, now))
            tokens = min(self.burst, tokens + (now - last) * self.per_s)
            if tokens >= n:
                self._buckets[client] = (tokens - n, now)
                wait = 0.0
            else:
                self._buckets[client] = (tokens, now)
                wait = (n - tokens) / self.per_s
            while len(self._buckets) > self.clients:
                self._buckets.pop(next(iter(self._buckets)))
            return wait
