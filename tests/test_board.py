"""The class board's storage and counting: concurrent students, restarts, exports, safety, and the
correction loop (fine-tuning on the class's drawings)."""
from __future__ import annotations

import csv
import io
import threading
import zipfile
from dataclasses import replace

import numpy as np
import pytest
import torch

from cnnlab.core import checkpoints, datasets, finetune
from cnnlab.core.nets.models import build_model
from cnnlab.lessons.board import drawings
from cnnlab.lessons.board.drawings import BoardError, Thumbnails
from cnnlab.lessons.board.store import BoardStore
from cnnlab.server.zoo import LATEST, ModelZoo
from cnnlab.ui import board as board_ui

UNIFORM = [0.1] * 10


def drawing(seed: int) -> np.ndarray:
    """A distinct 28x28 'drawing' per seed (white ink on black, as the model sees it)."""
    rng = np.random.default_rng(seed)
    image = np.zeros((28, 28), np.uint8)
    image[4:24, 4:24] = rng.integers(0, 256, (20, 20), dtype=np.uint8)
    return image


@pytest.fixture()
def store(tmp_path):
    s = BoardStore(tmp_path / "board.sqlite")
    yield s
    s.close()


def test_thirty_students_submitting_at_once_lose_nothing(store):
    students, each = 32, 8
    barrier = threading.Barrier(students + 1)
    errors, ids = [], []
    lock = threading.Lock()

    def student(i):
        barrier.wait()
        try:
            for k in range(each):
                r = store.add(drawing(i * 100 + k), k % 10, (k + i) % 10, UNIFORM, "mnist-cnn", f"student-{i}", f"s{i}")
                with lock:
                    ids.append(r.submission.id)
        except Exception as err:  # any failure is the test's failure
            errors.append(err)

    def viewer():                           # the projector reads while everyone writes
        barrier.wait()
        for _ in range(20):
            store.summary()

    threads = [threading.Thread(target=student, args=(i,)) for i in range(students)]
    threads.append(threading.Thread(target=viewer))
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors
    rows = store.submissions()
    assert len(rows) == students * each == len(set(ids))
    assert {(r.session_hash, r.nickname) for r in rows} == {(f"student-{i}", f"s{i}") for i in range(students)}
    per_student = {}
    for r in rows:
        per_student[r.session_hash] = per_student.get(r.session_hash, 0) + 1
    assert set(per_student.values()) == {each}
    assert store.summary().total == students * each


def test_two_stores_on_one_file_share_the_board(tmp_path):
    # e.g. the app and a second process (an export script) writing at the same time
    a, b = BoardStore(tmp_path / "b.sqlite"), BoardStore(tmp_path / "b.sqlite")
    try:
        threads = [threading.Thread(target=lambda s=s, j=j: [s.add(drawing(j * 50 + k), 1, 1, UNIFORM, "m", f"x{j}")
                                                           for k in range(20)])
                   for j, s in enumerate((a, b, a, b))]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        assert a.count() == b.count() == 80
    finally:
        a.close()
        b.close()


def test_drawings_survive_a_restart(tmp_path):
    path = tmp_path / "runs" / "board.sqlite"
    s = BoardStore(path)
    s.new_session("Monday 4B")
    first = s.add(drawing(1), 3, 8, UNIFORM, "mnist-cnn", "abc", "Ana").submission
    version = s.version()
    s.close()
    again = BoardStore(path)
    try:
        assert again.current_session().title == "Monday 4B"
        [row] = again.submissions()
        assert (row.id, row.intended, row.predicted, row.nickname) == (first.id, 3, 8, "Ana")
        assert np.array_equal(row.image, drawing(1))
        assert again.version() == version
        assert again.add(drawing(2), 1, 1, UNIFORM, "m", "abc").submission.id > first.id
    finally:
        again.close()


def test_accuracy_and_confusion_counts_from_known_submissions(store):
    known = [(3, 3), (3, 8), (3, 8), (7, 1), (7, 7), (0, 0), (9, 4)]
    for i, (meant, saw) in enumerate(known):
        store.add(drawing(i), meant, saw, UNIFORM, "mnist-cnn", f"s{i}")
    s = store.summary()
    assert (s.total, s.correct) == (7, 3)
    assert s.accuracy == pytest.approx(3 / 7)
    assert s.confusion[3, 8] == 2 and s.confusion[3, 3] == 1 and s.confusion[7, 1] == 1 and s.confusion[9, 4] == 1
    assert s.confusion.sum() == 7 and np.trace(s.confusion) == 3
    assert np.array_equal(s.confusion, drawings.confusion_counts(known))
    cell = store.submissions(intended=3, predicted=8)
    assert len(cell) == 2 and all(c.caption.startswith("✗ meant 3 → saw 8") for c in cell)
    assert [c.intended for c in store.submissions(intended=7)] == [7, 7]


def test_an_empty_board_has_no_accuracy(store):
    s = store.summary()
    assert s.total == 0 and s.accuracy is None
    assert "no drawings yet" in board_ui.header_html(s)


def test_a_double_tap_is_stored_once(store):
    a = store.add(drawing(1), 5, 5, UNIFORM, "m", "phone-1")
    b = store.add(drawing(1), 5, 5, UNIFORM, "m", "phone-1")
    assert not a.duplicate and b.duplicate and a.submission.id == b.submission.id
    store.add(drawing(1), 5, 5, UNIFORM, "m", "phone-2")     # another student, same picture: kept
    store.add(drawing(1), 6, 5, UNIFORM, "m", "phone-1")     # same drawing, another digit meant: kept
    assert store.count() == 3


def test_one_student_cannot_take_back_another_students_drawing(store):
    mine = store.add(drawing(1), 2, 2, UNIFORM, "m", "alice").submission
    store.add(drawing(2), 4, 9, UNIFORM, "m", "alice")
    theirs = store.add(drawing(3), 7, 1, UNIFORM, "m", "bob").submission
    assert store.undo_last("mallory") is None
    assert store.undo_last("") is None
    assert store.count() == 3
    removed = store.undo_last("alice")
    assert removed.intended == 4 and removed.session_hash == "alice"
    assert {s.id for s in store.submissions()} == {mine.id, theirs.id}
    assert not any(name.startswith(("delete", "update", "edit")) for name in dir(store))


def test_nicknames_are_cleaned_limited_and_escaped(store):
    assert drawings.clean_nickname("  Ana \n\t Lu\x00cia ") == "Ana Lu cia"
    assert len(drawings.clean_nickname("x" * 500)) == drawings.NICKNAME_MAX
    evil = "<script>alert(1)</script>"
    s = store.add(drawing(1), 3, 8, UNIFORM, "m", "abc", evil).submission
    assert s.nickname == evil[:drawings.NICKNAME_MAX] and len(s.nickname) == drawings.NICKNAME_MAX
    shown = board_ui.confirmation_html(s)
    assert "<script>" not in shown and "&lt;script&gt;" in shown
    store.new_session("<img src=x onerror=alert(1)>")
    assert "<img" not in board_ui.header_html(store.summary())


def test_bad_submissions_are_refused_with_a_reason(store):
    with pytest.raises(BoardError, match="0 to 9"):
        store.add(drawing(1), 10, 3, UNIFORM, "m", "abc")
    with pytest.raises(BoardError, match="0 to 9"):
        store.add(drawing(1), "seven", 3, UNIFORM, "m", "abc")
    with pytest.raises(BoardError, match="28x28"):
        store.add(np.zeros((280, 280), np.uint8), 1, 1, UNIFORM, "m", "abc")
    with pytest.raises(BoardError, match="10 numbers"):
        store.add(drawing(1), 1, 1, [0.5, 0.5], "m", "abc")
    assert store.count() == 0


def test_new_board_starts_empty_and_clear_only_empties_the_current_board(store):
    for i in range(3):
        store.add(drawing(i), i, i, UNIFORM, "m", "abc")
    old = store.current_session()
    new = store.new_session("after the break")
    assert new.id != old.id and store.summary().total == 0
    store.add(drawing(9), 1, 7, UNIFORM, "m", "abc")
    assert store.count() == 1 and store.count(old.id) == 3
    assert store.clear() == 1
    assert store.count() == 0 and store.count(old.id) == 3
    with pytest.raises(BoardError, match="no board"):
        store.count(999)


def test_export_csv_and_zip_hold_every_drawing(store, tmp_path):
    store.add(drawing(1), 3, 8, [0.0] * 8 + [1.0, 0.0], "mnist-cnn", "a", "=HYPERLINK(1)")
    store.add(drawing(2), 7, 7, UNIFORM, "mnist-cnn", "b", "Bo")
    rows = list(csv.DictReader(open(store.export_csv(tmp_path / "b.csv"), encoding="utf-8")))
    assert [(r["intended"], r["predicted"], r["correct"]) for r in rows] == [("3", "8", "0"), ("7", "7", "1")]
    assert rows[0]["nickname"] == "'=HYPERLINK(1)"          # a spreadsheet shows it, never runs it
    assert float(rows[0]["p8"]) == 1.0 and rows[1]["nickname"] == "Bo"
    with zipfile.ZipFile(store.export_zip(tmp_path / "b.zip")) as z:
        names = z.namelist()
        assert "labels.csv" in names and "README.txt" in names
        pngs = sorted(n for n in names if n.endswith(".png"))
        assert pngs == sorted(r["png"] for r in rows)
        assert pngs[0].startswith("3/") and pngs[1].startswith("7/")       # one folder per digit meant
        assert np.array_equal(drawings.decode_png(z.read(rows[0]["png"])), drawing(1))
        assert len(list(csv.DictReader(io.StringIO(z.read("labels.csv").decode())))) == 2


def test_thumbnails_frame_right_in_blue_and_wrong_in_orange(store, tmp_path):
    right = store.add(drawing(1), 2, 2, UNIFORM, "m", "a").submission
    wrong = store.add(drawing(2), 2, 5, UNIFORM, "m", "a").submission
    thumbs = Thumbnails(tmp_path / "thumbs")
    from PIL import Image
    r, w = (np.asarray(Image.open(thumbs.path(s))) for s in (right, wrong))
    assert tuple(r[-1, 0]) == (0x00, 0x72, 0xB2) and tuple(w[-1, 0]) == (0xD5, 0x5E, 0x00)
    assert r.shape == (30 + 28 * 4 + 4, 30 + 28 * 4 + 4, 3)              # square, label band on top
    assert (w[:30] == 255).all(axis=2).sum() > 50                        # "2 -> 5" written in white
    big = np.asarray(Image.fromarray(drawing(2)).resize((112, 112), Image.BILINEAR))
    assert np.array_equal(w[30:-4, 17:-17, 0], big)                     # the drawing, 4x, in the frame
    items = board_ui.gallery_items([wrong, right], thumbs)
    assert items[0][1] == "✗ meant 2 → saw 5" and items[1][1] == "✓ meant 2 → saw 2"


def test_confusion_table_marks_the_diagonal_blue_and_mistakes_orange():
    cm = drawings.confusion_counts([(3, 3), (3, 8), (3, 8)])
    styled = board_ui.confusion_table(cm)
    css = styled._compute().ctx                       # (row, col) -> [(property, value)]
    assert any(p == "background-color" and v.startswith("#0072B2") for p, v in css[(3, 4)])
    assert any(p == "background-color" and v.startswith("#D55E00") for p, v in css[(3, 9)])
    assert not any(p == "background-color" for p, v in css.get((0, 1), []))
    assert styled.data.iloc[3, 9] == 2


# ---------------------------------------------------------------- correction loop

@pytest.fixture(scope="module")
def tiny_zoo(tmp_path_factory):
    """An untrained MNIST CNN (shipped checkpoints may not exist yet), in its own zoo."""
    folder = tmp_path_factory.mktemp("zoo")
    torch.manual_seed(0)
    checkpoints.save(folder / "mnist-cnn.pt", build_model("cnn", datasets.get_spec("mnist")), "cnn", "mnist")
    return ModelZoo(folder)


@pytest.mark.slow
def test_finetune_learns_the_class_drawings_and_publishes_latest(tiny_zoo, data_root, tmp_path):
    test = datasets.load("mnist", "test", data_root)          # the last 80 stand in for drawings;
    images, labels = test.images[-80:, 0].numpy(), test.labels[-80:].numpy()   # the check uses the first 500
    source = tiny_zoo.get("mnist-cnn")
    before_weights = {k: v.clone() for k, v in source.model.state_dict().items()}
    config = finetune.FinetuneConfig(epochs=8, lr=3e-3, time_budget_s=30, test_size=500)
    steps = []
    result = finetune.finetune(source, images, labels, data_root, config, progress=lambda f, t: steps.append(f))
    assert result.drawings == 80 and result.test_size == 500 and result.epochs == 8
    assert result.drawings_after > result.drawings_before + 0.3          # it learned the drawings
    assert 0 <= result.test_before <= 1 and 0 <= result.test_after <= 1
    assert steps[0] == 0.0 and steps[-1] == 1.0
    assert all(torch.equal(v, source.model.state_dict()[k]) for k, v in before_weights.items()), \
        "the shared model must not change"
    rows = result.rows()
    assert rows[0][0] == "the class's 80 drawings" and rows[1][0] == "500 MNIST test digits"

    published = finetune.publish(result, source, "mnist-cnn", tiny_zoo, tmp_path, config, board="4B")
    assert tiny_zoo.get(LATEST) is published
    assert published.path.startswith(str(tmp_path / "finetuned"))
    reloaded = checkpoints.load(published.path)
    assert reloaded.metrics["board_drawings"] == 80
    assert reloaded.metrics["board_accuracy_after"] == pytest.approx(result.drawings_after)
    assert reloaded.config["finetuned_from"] == "mnist-cnn"
    x = datasets.normalize(torch.from_numpy(images[:16]).unsqueeze(1), source.spec)
    with torch.no_grad():
        assert torch.equal(reloaded.model(x).argmax(1), result.model.eval()(x).argmax(1))


@pytest.mark.slow
def test_finetune_refuses_too_few_drawings_and_non_digit_models(tiny_zoo, data_root):
    source = tiny_zoo.get("mnist-cnn")
    with pytest.raises(ValueError, match="at least"):
        finetune.finetune(source, np.stack([drawing(i) for i in range(3)]), [1, 2, 3], data_root)
    fashion = checkpoints.from_payload(checkpoints.make_payload(
        build_model("cnn", datasets.get_spec("fashion")), "cnn", "fashion"))
    with pytest.raises(ValueError, match="MNIST model"):
        finetune.finetune(fashion, np.stack([drawing(i) for i in range(6)]), [1] * 6, data_root)


@pytest.mark.slow
def test_finetune_is_the_same_for_the_same_drawings_and_seed(tiny_zoo, data_root):
    """Dropout draws from the global generator: the fine-tune seeds it, so the claim holds."""
    test = datasets.load("mnist", "test", data_root)
    images, labels = test.images[-40:, 0].numpy(), test.labels[-40:].numpy()
    source = tiny_zoo.get("mnist-cnn")
    config = finetune.FinetuneConfig(epochs=2, time_budget_s=30, test_size=100, mnist_mix=32)
    torch.manual_seed(123)                                   # whatever the global generator held before
    first = finetune.finetune(source, images, labels, data_root, config)
    torch.rand(7)
    second = finetune.finetune(source, images, labels, data_root, config)
    assert first.steps == second.steps == 2 * 5
    for (name, a), b in zip(first.model.state_dict().items(), second.model.state_dict().values()):
        assert torch.equal(a, b), f"{name} differs"
    other = finetune.finetune(source, images, labels, data_root, replace(config, seed=1))
    assert not torch.equal(other.model.head[1].weight, first.model.head[1].weight)
