"""Prepared data sets for the own classes, read defensively.

They load from a folder or a zip in ``ImageFolder`` layout (``<class>/<picture>``, at any depth:
the picture's folder names its class), or from an annotation text file of ``filename label`` lines
(the course's format) with an optional JSON of class names (``cat_to_name.json``:
``{"1": "pink primrose", ...}``). Bad files and rows are reported by name and skipped; a label
outside the names is an ``OwnDataError`` naming the line.
"""
from __future__ import annotations

import json
import re
import zipfile
from pathlib import Path, PurePosixPath

from ...core import imageio
from ...i18n import Text
from .data import (
    IMAGE_SUFFIXES,
    NAME_MAX,
    ZIP_MAX_BYTES,
    ZIP_MAX_MEMBERS,
    OwnDataError,
    PreparedSet,
    joined,
    max_class_pictures,
    max_pictures,
)


# --------------------------------------------------------------------------- loading prepared sets
class _Files:
    """Files by their relative path (POSIX), read lazily with a size cap: a folder, a zip or loose files."""

    def __init__(self, names: list[str], read, label: str):
        self.names = [n for n in names if not _hidden(n)]
        self._read = read
        self.label = label

    def read(self, name: str) -> bytes:
        return self._read(name)


def _hidden(name: str) -> bool:
    parts = PurePosixPath(name).parts
    return any(p.startswith(".") or p == "__MACOSX" for p in parts) or name.endswith("/")


def _folder_files(root: Path) -> _Files:
    root = Path(root)
    names = sorted(str(p.relative_to(root).as_posix()) for p in root.rglob("*") if p.is_file())

    def read(name: str) -> bytes:
        p = root / name
        if p.stat().st_size > imageio.MAX_BYTES:
            raise OwnDataError(Text("own.member_big", name=name, mb=imageio.MAX_BYTES / 2**20))
        return p.read_bytes()
    return _Files(names, read, root.name)


def zip_files(path: Path) -> _Files:
    path = Path(path)
    try:
        z = zipfile.ZipFile(path)
        infos = [i for i in z.infolist() if not i.is_dir()]
    except (zipfile.BadZipFile, OSError, ValueError) as err:
        raise OwnDataError(Text("own.bad_zip", file=path.name)) from err
    if len(infos) > ZIP_MAX_MEMBERS:
        raise OwnDataError(Text("own.zip_members", file=path.name, n=ZIP_MAX_MEMBERS))
    by_name = {i.filename: i for i in infos}
    budget = [ZIP_MAX_BYTES]

    def read(name: str) -> bytes:
        info = by_name[name]
        if info.file_size > imageio.MAX_BYTES:
            raise OwnDataError(Text("own.member_big", name=name, mb=imageio.MAX_BYTES / 2**20))
        if info.file_size > budget[0]:
            raise OwnDataError(Text("own.zip_big", file=path.name, mb=ZIP_MAX_BYTES / 2**20))
        with z.open(info) as f:
            data = f.read(imageio.MAX_BYTES + 1)     # the header's size may lie: read no more than allowed
        if len(data) > imageio.MAX_BYTES:
            raise OwnDataError(Text("own.member_big", name=name, mb=imageio.MAX_BYTES / 2**20))
        budget[0] -= len(data)
        return data
    return _Files(sorted(by_name), read, path.name)


def _loose_files(paths: list[Path], names: list[str] | None = None) -> _Files:
    names = names or [Path(p).name for p in paths]
    by_name = dict(zip(names, map(Path, paths)))

    def read(name: str) -> bytes:
        p = by_name[name]
        if p.stat().st_size > imageio.MAX_BYTES:
            raise OwnDataError(Text("own.member_big", name=name, mb=imageio.MAX_BYTES / 2**20))
        return p.read_bytes()
    return _Files(list(by_name), read, "the uploaded files")


def load_dataset(source: str | Path | list, names: list[str] | None = None) -> PreparedSet:
    """A prepared data set from a folder, a zip file, or a list of uploaded files (pictures plus an
    annotation ``.txt`` and an optional names ``.json``, or a single zip). ``names`` gives the
    uploaded files' original names when their paths are temporary ones."""
    if isinstance(source, (list, tuple)):
        paths = [Path(p) for p in source]
        if len(paths) == 1 and zipfile.is_zipfile(paths[0]):
            files = zip_files(paths[0])
        else:
            files = _loose_files(paths, names)
    else:
        path = Path(source)
        files = _folder_files(path) if path.is_dir() else zip_files(path)
    return read_files(files)


def read_files(files: _Files) -> PreparedSet:
    texts = [n for n in files.names if n.lower().endswith(".txt")]
    jsons = [n for n in files.names if n.lower().endswith(".json")]
    if len(texts) > 1:
        named = [n for n in texts if re.search(r"label|annot", PurePosixPath(n).name, re.I)]
        if len(named) != 1:
            raise OwnDataError(Text("own.many_txt", names=joined(texts[:5], "own.join_names")))
        texts = named
    if texts:
        return _read_annotations(files, texts[0], jsons[0] if jsons else None)
    return _read_imagefolder(files)


def _limited(out: PreparedSet, name: str, per_class: dict[str, int], over: dict[str, int]) -> bool:
    """True when one more picture of class ``name`` still fits the limits (counted in ``over`` if not)."""
    if per_class.get(name, 0) >= max_class_pictures() or len(out.items) >= max_pictures():
        over[name] = over.get(name, 0) + 1
        return False
    per_class[name] = per_class.get(name, 0) + 1
    return True


def _finish(out: PreparedSet, over: dict[str, int]) -> PreparedSet:
    total_over = sum(over.values())
    if total_over and len(out.items) >= max_pictures():
        out.notes.append(Text("own.over_limit", n=total_over, limit=max_pictures()))
    else:
        for name, n in over.items():
            out.notes.append(Text("own.class_over_limit", n=n, name=name, limit=max_class_pictures()))
    if not out.items:
        raise OwnDataError(joined([Text("own.empty_set"), joined(out.bad[:3], "own.join_items")]))
    out.classes = [c for c in out.classes if any(item[0] == c for item in out.items)] or out.classes
    return out


def _read_imagefolder(files: _Files) -> PreparedSet:
    out, per_class, over = PreparedSet(), {}, {}
    loose = 0
    for name in files.names:
        path = PurePosixPath(name)
        if path.suffix.lower() not in IMAGE_SUFFIXES:
            out.bad.append(Text("own.not_image_file", name=name))
            continue
        if len(path.parts) < 2:
            loose += 1
            out.bad.append(Text("own.not_in_class_folder", name=name))
            continue
        cls = " ".join(path.parts[-2].split())[:NAME_MAX]
        if cls not in out.classes:
            out.classes.append(cls)
        if not _limited(out, cls, per_class, over):
            continue
        try:
            out.items.append((cls, name, files.read(name)))
        except OwnDataError as err:
            out.bad.append(err.args[0])
    if loose and not out.items:
        raise OwnDataError(Text("own.loose_files"))
    return _finish(out, over)


def read_names(text: str, file: str) -> dict[str, str]:
    """A names JSON -> {label: class name}: a dict (``cat_to_name.json``) or a list (label = index)."""
    try:
        data = json.loads(text)
    except ValueError as err:
        raise OwnDataError(Text("own.bad_json", file=file, why=str(err).split(":")[0])) from None
    if isinstance(data, list):
        data = {str(i): v for i, v in enumerate(data)}
    if not isinstance(data, dict) or not data or not all(isinstance(v, (str, int)) for v in data.values()):
        raise OwnDataError(Text("own.bad_names", file=file))
    return {str(k).strip(): " ".join(str(v).split())[:NAME_MAX] for k, v in data.items()}


def _read_annotations(files: _Files, txt: str, names_file: str | None) -> PreparedSet:
    out, per_class, over = PreparedSet(), {}, {}
    try:
        text = files.read(txt).decode("utf-8-sig", errors="replace")
    except OwnDataError as err:
        raise OwnDataError(err.args[0]) from None
    names = read_names(files.read(names_file).decode("utf-8-sig", errors="replace"), names_file) \
        if names_file else None
    if names:
        ordered = sorted(names, key=lambda k: (not k.isdigit(), int(k) if k.isdigit() else 0, k))
        out.classes = list(dict.fromkeys(names[k] for k in ordered))
    base = PurePosixPath(txt).parent
    pictures = {n for n in files.names if PurePosixPath(n).suffix.lower() in IMAGE_SUFFIXES}
    by_base: dict[str, str] = {}
    for n in sorted(pictures):
        by_base.setdefault(PurePosixPath(n).name, n)
    by_name = {names[k]: names[k] for k in names} if names else {}
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.rsplit(maxsplit=1)
        if len(parts) != 2:
            out.bad.append(Text("own.bad_row", line=number, text=line[:60]))
            continue
        filename, label = parts[0].strip().strip('"'), parts[1].strip()
        if names is not None:
            cls = names.get(label) or by_name.get(label)
            if cls is None:
                known = ", ".join(list(names)[:8]) + (", …" if len(names) > 8 else "")
                raise OwnDataError(Text("own.label_unknown", line=number, file=PurePosixPath(txt).name,
                                                                label=label[:40], names_file=names_file,
                                                                known=known))
        else:
            cls = " ".join(label.split())[:NAME_MAX]
            if cls not in out.classes:
                out.classes.append(cls)
        member = str(base / filename) if str(base) != "." else filename
        if member not in pictures:
            member = by_base.get(PurePosixPath(filename).name)
        if member is None:
            out.bad.append(Text("own.missing_file", line=number, name=filename[:80]))
            continue
        if not _limited(out, cls, per_class, over):
            continue
        try:
            out.items.append((cls, member, files.read(member)))
        except OwnDataError as err:
            out.bad.append(err.args[0])
    return _finish(out, over)
