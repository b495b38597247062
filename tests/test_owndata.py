"""The own classes' picture store and the loaders of prepared data sets (issue 16): ImageFolder
folders and zips, annotation files with a names JSON, bad files and rows reported by name,
limits, concurrent adds, the rate limit, export and re-import."""
from __future__ import annotations

import io
import json
import threading
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from cnnlab.config import LIMITS
from cnnlab.lessons.own import data as owndata
from cnnlab.lessons.own.data import OwnDataError, PictureStore, RateLimit
from cnnlab.lessons.own.prepared import load_dataset


def jpeg(seed: int, size=(300, 200), colour=None) -> bytes:
    """A distinct little photo (noise over a colour), as JPEG bytes."""
    rng = np.random.default_rng(seed)
    base = np.array(colour or rng.integers(0, 255, 3), np.uint8)
    pixels = np.clip(base + rng.integers(-40, 40, (size[1], size[0], 3)), 0, 255).astype(np.uint8)
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="JPEG")
    return buffer.getvalue()


def imagefolder(root: Path, layout: dict[str, int], seed: int = 0) -> Path:
    for k, (name, n) in enumerate(layout.items()):
        (root / name).mkdir(parents=True, exist_ok=True)
        for i in range(n):
            (root / name / f"{name}-{i}.jpg").write_bytes(jpeg(seed + 100 * k + i))
    return root


def test_imagefolder_folder_loads_classes_and_reports_bad_files_by_name(tmp_path):
    root = imagefolder(tmp_path / "set", {"pen": 3, "eraser": 2})
    (root / "pen" / "broken.jpg").write_bytes(b"not a jpeg at all")
    (root / "eraser" / "notes.doc").write_bytes(b"hello")
    (root / "loose.jpg").write_bytes(jpeg(99))
    (root / ".DS_Store").write_bytes(b"junk")                      # hidden files are ignored
    prepared = load_dataset(root)
    assert sorted(prepared.classes) == ["eraser", "pen"]
    assert prepared.counts() == {"eraser": 2, "pen": 4}           # the broken file is read, decoded later
    assert any("notes.doc" in str(b) for b in prepared.bad)
    assert any("loose.jpg" in str(b) and "class folder" in str(b) for b in prepared.bad)
    store = PictureStore(tmp_path / "own")
    report = store.import_set(prepared)
    assert report.added == 5
    assert any("broken.jpg" in str(b) for b in report.bad)             # decoded: reported by name, skipped
    assert {c.name: c.count for c in store.classes()} == {"eraser": 2, "pen": 3}


def test_imagefolder_zip_with_a_top_folder_and_train_test_splits(tmp_path):
    path = tmp_path / "set.zip"
    with zipfile.ZipFile(path, "w") as z:
        for split in ("train", "test"):
            for name in ("cat", "dog"):
                for i in range(3):
                    z.writestr(f"animals/{split}/{name}/{i}.jpg", jpeg(hash((split, name, i)) % 1000))
        z.writestr("__MACOSX/animals/._x.jpg", b"junk")
    prepared = load_dataset(path)
    assert prepared.counts() == {"cat": 6, "dog": 6}
    assert prepared.bad == []


def test_annotation_file_with_names_json(tmp_path):
    root = tmp_path / "flowers"
    (root / "jpg").mkdir(parents=True)
    for i in range(6):
        (root / "jpg" / f"image_{i:05d}.jpg").write_bytes(jpeg(i))
    rows = [f"jpg/image_{i:05d}.jpg {1 + i % 2}" for i in range(6)]
    rows.insert(2, "a-row-without-a-label")
    rows.append("jpg/missing.jpg 1")
    (root / "labels.txt").write_text("\n".join(rows) + "\n")
    (root / "cat_to_name.json").write_text(json.dumps({"1": "pink primrose", "2": "moon orchid"}))
    prepared = load_dataset(root)
    assert prepared.classes == ["pink primrose", "moon orchid"]
    assert prepared.counts() == {"pink primrose": 3, "moon orchid": 3}
    assert any("line 3" in str(b) and "filename label" in str(b) for b in prepared.bad)
    assert any("missing.jpg" in str(b) for b in prepared.bad)


def test_annotation_label_outside_the_names_is_a_clear_error(tmp_path):
    root = tmp_path / "set"
    root.mkdir()
    for i in range(3):
        (root / f"{i}.jpg").write_bytes(jpeg(i))
    (root / "labels.txt").write_text("0.jpg 1\n1.jpg 2\n2.jpg 7\n")
    (root / "cat_to_name.json").write_text(json.dumps({"1": "pen", "2": "eraser"}))
    with pytest.raises(OwnDataError, match=r"Line 3 of labels.txt has the label '7', which is not one of the "
                                           r"class names in cat_to_name.json \(1, 2\)"):
        load_dataset(root)


def test_annotation_file_without_names_uses_the_labels_and_matches_uploaded_files_by_name(tmp_path):
    paths = []
    for i in range(4):
        p = tmp_path / f"upload{i}" / f"photo{i}.jpg"           # gradio keeps each upload in its own folder
        p.parent.mkdir()
        p.write_bytes(jpeg(i))
        paths.append(p)
    (tmp_path / "ann.txt").write_text("photo0.jpg cup\nphoto1.jpg cup\nphoto2.jpg mug\nphoto3.jpg mug\n")
    prepared = load_dataset(paths + [tmp_path / "ann.txt"])
    assert prepared.counts() == {"cup": 2, "mug": 2}


def test_loose_pictures_without_classes_and_broken_zips_say_what_to_do(tmp_path):
    (tmp_path / "a.jpg").write_bytes(jpeg(1))
    with pytest.raises(OwnDataError, match="do not say which class"):
        load_dataset([tmp_path / "a.jpg"])
    (tmp_path / "bad.zip").write_bytes(b"PK\x03\x04 not really")
    with pytest.raises(OwnDataError, match="not a readable zip"):
        load_dataset(tmp_path / "bad.zip")
    (tmp_path / "names.json").write_text("{oops")
    (tmp_path / "l.txt").write_text("a.jpg 1\n")
    with pytest.raises(OwnDataError, match="names.json is not valid JSON"):
        load_dataset([tmp_path / "a.jpg", tmp_path / "l.txt", tmp_path / "names.json"])


def test_store_survives_a_restart_and_keeps_small_jpegs(tmp_path):
    store = PictureStore(tmp_path / "own")
    pen = store.create("pen")
    big = jpeg(5, size=(2000, 1500))
    report = store.add(pen.id, [big, big])
    assert (report.added, report.duplicates) == (1, 1)
    [path] = store.pictures(pen.id)
    with Image.open(path) as im:
        assert im.format == "JPEG" and max(im.size) == owndata.PICTURE_SIDE
    store.rename(pen.id, "blue pen")
    store.set_open(pen.id, False)
    again = PictureStore(tmp_path / "own")
    assert [(c.name, c.count, c.open) for c in again.classes()] == [("blue pen", 1, False)]
    assert again.clear_pictures() == 1 and again.total() == 0
    assert [c.name for c in again.classes()] == ["blue pen"]


def test_class_names_and_the_class_limit_are_enforced(tmp_path):
    store = PictureStore(tmp_path / "own")
    store.create("pen")
    with pytest.raises(OwnDataError, match="already a class called 'PEN'"):
        store.create("PEN")
    with pytest.raises(OwnDataError, match="Give the class a name"):
        store.create("   ")
    for i in range(int(LIMITS["own_classes"].high) - 1):
        store.create(f"class {i}")
    with pytest.raises(OwnDataError, match="at most 10 classes"):
        store.create("one too many")


def test_a_full_class_refuses_more_and_a_closed_class_refuses_students(tmp_path, monkeypatch):
    monkeypatch.setitem(LIMITS, "own_class_pictures", LIMITS["own_class_pictures"].__class__(
        "Pictures in one class", 5, 6, "test"))
    store = PictureStore(tmp_path / "own")
    cls = store.create("pen")
    report = store.add(cls.id, [jpeg(i) for i in range(9)])
    assert report.added == 6 and "full" in str(report.refused) and store.get(cls.id).count == 6
    store.set_open(cls.id, False)
    with pytest.raises(OwnDataError, match="not open for pictures"):
        store.add(cls.id, [jpeg(50)], require_open=True)


def test_many_students_adding_at_once_lose_nothing(tmp_path):
    store = PictureStore(tmp_path / "own")
    classes = [store.create(name) for name in ("pen", "eraser", "scissors")]
    errors = []

    def student(k: int):
        try:
            for i in range(8):
                store.add(classes[(k + i) % 3].id, [jpeg(1000 * k + i)], require_open=True)
        except Exception as err:                                  # pragma: no cover - the failure shown
            errors.append(err)
    threads = [threading.Thread(target=student, args=(k,)) for k in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    assert store.total() == 80 == sum(len(store.pictures(c.id)) for c in classes)
    assert sum(c.count for c in PictureStore(tmp_path / "own").classes()) == 80


def test_the_rate_limit_lets_a_burst_through_then_one_a_second():
    rate = RateLimit(burst=3, per_s=1.0)
    assert [rate.take("a", now=0.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert rate.take("a", now=0.0) == pytest.approx(1.0)
    assert rate.take("b", now=0.0) == 0.0                         # another student is not slowed down
    assert rate.take("a", now=1.5) == 0.0
    assert rate.take("a", n=5, now=1.5) > 0


def test_export_is_imagefolder_plus_annotations_and_loads_back(tmp_path):
    store = PictureStore(tmp_path / "own")
    for name, n in (("pen", 3), ("eraser", 2)):
        cls = store.create(name)
        store.add(cls.id, [jpeg(hash((name, i)) % 10_000) for i in range(n)])
    out = store.export_zip(tmp_path / "out.zip")
    with zipfile.ZipFile(out) as z:
        names = z.namelist()
        assert "own-classes/cat_to_name.json" in names and "own-classes/annotations.txt" in names
        assert json.loads(z.read("own-classes/cat_to_name.json")) == {"1": "pen", "2": "eraser"}
        assert sum(n.startswith("own-classes/pen/") for n in names) == 3
    back = load_dataset(out)                                      # the annotation file wins
    assert back.counts() == {"pen": 3, "eraser": 2} and back.bad == []
    z = zipfile.ZipFile(out)
    folder = tmp_path / "unzipped"
    z.extractall(folder)
    (folder / "own-classes" / "annotations.txt").unlink()
    (folder / "own-classes" / "cat_to_name.json").unlink()
    assert load_dataset(folder).counts() == {"pen": 3, "eraser": 2}
