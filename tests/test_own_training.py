"""Training on the class's own classes (issue 16): a small real set made from the shipped flower
photos, trained as the shared job's "own" run, reaches a sensible accuracy on held-out pictures
and on flowers5's own test photos; its checkpoint loads strictly with the class names; too few
pictures are refused with the count needed; features are read once."""
from __future__ import annotations

import functools
import sys
import threading
from pathlib import Path

import pytest
import torch

from cnnlab.core import checkpoints, datasets
from cnnlab.core.inference import answer
from cnnlab.lessons.own.data import PictureStore, open_picture
from cnnlab.lessons.own.model import FeatureCache, OwnRun, default_config
from cnnlab.server.jobs import TrainJob
from cnnlab.server.zoo import ModelZoo

CLASSES = ("daisy", "sunflower", "tulip")
PER_CLASS = 20

FLOWERS = datasets.get_spec("flowers5").folder     # the flower photos' folder under the data root


@pytest.fixture(scope="module")
def trained(flowers_root, tmp_path_factory):
    """Three flower classes of 20 photos each, trained once as the shared run."""
    tmp = tmp_path_factory.mktemp("own")
    store = PictureStore(tmp / "runs" / "own")
    for name in CLASSES:
        cls = store.create(name)
        store.add(cls.id, sorted((flowers_root / FLOWERS / "train" / name).glob("*.jpg"))[:PER_CLASS])
    cache = FeatureCache(tmp / "runs" / "own" / "features")
    zoo = ModelZoo(tmp / "no-shipped")
    job = TrainJob(zoo, tmp / "runs", request_threads=None)
    message = job.start_own(OwnRun(store, cache))
    assert "started" in str(message)
    assert job.wait(300)
    return store, cache, job, zoo


@pytest.mark.slow
def test_a_small_flower_set_trains_to_a_sensible_accuracy(trained):
    store, cache, job, zoo = trained
    snap = job.state()
    assert snap.state == "finished", snap.status
    assert snap.mode == "own"
    r = snap.results
    assert r["classes"] == list(CLASSES)
    assert r["test_images"] == 12                                  # 20% of each class held out
    assert r["test_accuracy"] >= 0.75, snap.status                 # chance is 33%
    assert sum(map(sum, r["confusion_matrix"])) == 12
    assert len(snap.accuracy) >= 3                                  # viewers saw a curve, not one point
    assert snap.grid is not None and snap.grid.predictions is not None


@pytest.mark.slow
def test_the_kept_model_learns_from_every_picture_once_the_held_out_accuracy_is_measured(trained):
    """The accuracy shown is that of a head that never saw the 12 held-out pictures; the model
    the class keeps then learns from all 60, and the status says so."""
    _, _, job, _ = trained
    metrics = checkpoints.load(job.latest_path).metrics
    assert metrics["train_images"] == 48 and metrics["test_images"] == 12
    assert metrics["model_images"] == 60
    assert "all 60 pictures" in str(job.state().status)


@pytest.mark.slow
def test_the_kept_head_is_a_second_one_that_learned_the_held_out_pictures_too(trained, tmp_path):
    """The saved head is not the measured one: it learned the held-out pictures, so it fits them
    better than the head that never saw them (whose accuracy the class is shown)."""
    store, cache, _, _ = trained
    run = OwnRun(store, cache)                                     # the features are cached: seconds
    *_, done = run.events(threading.Event())                     # the last event: "done"
    run.finish(tmp_path / "own.pt", done)
    kept = checkpoints.load(tmp_path / "own.pt").model
    held = run._tensor(run.held_files)

    def loss(head) -> float:
        with torch.no_grad():
            return torch.nn.functional.cross_entropy(head.eval()(held.images), held.labels).item()
    assert not torch.equal(kept.head[1].weight, run.model.head[1].weight)
    assert loss(kept.head) < loss(run.model.head)


@pytest.mark.slow
def test_the_checkpoint_carries_the_class_names_and_classifies_unseen_flowers(trained, flowers_root):
    store, _, job, zoo = trained
    loaded = checkpoints.load(job.latest_path)
    assert loaded.dataset == datasets.OWN and loaded.classes == CLASSES and loaded.spec.kind == "photo"
    assert zoo.get("latest").classes == CLASSES
    payload = torch.load(job.latest_path, weights_only=True)
    assert set(payload["state_dict"]) == {"head.1.weight", "head.1.bias"}   # only the head learned
    with pytest.raises(checkpoints.CheckpointError, match="names 1 own classes"):
        checkpoints.from_payload({**payload, "classes": ["daisy"]})
    payload["state_dict"]["head.1.extra"] = torch.zeros(1)
    with pytest.raises(checkpoints.CheckpointError, match="do not match"):
        checkpoints.from_payload(payload)
    right = total = 0
    for label, name in enumerate(CLASSES):
        for path in sorted((flowers_root / FLOWERS / "test" / name).glob("*.jpg"))[:10]:
            result = answer(loaded, open_picture(path))
            right += result.top_index == label
            total += 1
    assert right / total >= 0.7, f"{right}/{total} unseen test flowers right"
    assert (Path(store.root) / "model.pt").is_file()


@pytest.mark.slow
def test_features_are_read_once_and_a_second_run_only_trains_the_head(trained, monkeypatch):
    store, cache, job, _ = trained
    paths = [p for _, files in store.snapshot() for p in files]
    assert cache.missing(paths) == []
    assert len(list(cache.folder.glob("*.npy"))) == len(paths)
    again = FeatureCache(cache.folder)                              # after a restart: from disk
    assert again.missing(paths) == []

    def read_again(images):
        raise AssertionError("a cached picture was read through the backbone again")
    monkeypatch.setattr(again.backbone, "features", read_again)
    job.start_own(OwnRun(store, again, default_config(epochs=5)))
    assert job.wait(60)
    assert job.state().state == "finished", job.state().status


# Issue 28: 3 flower classes x 30 real photos added as a teacher would, Train, then 20 unseen test
# photos a class (bench/own_flowers.py): the goal, and the floor the stock features reach today.
OWN_GOAL = 0.92
OWN_FLOOR = 0.85             # 86.7%, 52 of 60 (README, Known limits)


@functools.cache
def own_flowers_accuracy(data_root: Path) -> float:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))
    import own_flowers
    right, total, _ = own_flowers.measure(own_flowers.CLASSES.split(","), data_root=data_root)
    return right / total


@pytest.mark.slow
@pytest.mark.parametrize("figure", [OWN_FLOOR, pytest.param(OWN_GOAL, marks=pytest.mark.xfail(
    strict=True, reason="goal not reached yet: the stock ImageNet features (README, Known limits)"))],
    ids=["floor", "goal"])
def test_own_classes_on_real_flower_photos(figure, flowers_root):
    accuracy = own_flowers_accuracy(flowers_root)
    assert accuracy >= figure, f"{accuracy:.1%} < {figure:.0%}"


def test_too_few_pictures_are_refused_with_the_count_needed(tmp_path, flowers_root):
    store = PictureStore(tmp_path / "own")
    a, b = store.create("daisy"), store.create("rose")
    store.add(a.id, sorted((flowers_root / FLOWERS / "train" / "daisy").glob("*.jpg"))[:5])
    store.add(b.id, sorted((flowers_root / FLOWERS / "train" / "rose").glob("*.jpg"))[:3])
    with pytest.raises(ValueError, match=r"at least 5 pictures to train; 'rose' has 3 \(add 2 more\)"):
        OwnRun(store, FeatureCache(tmp_path / "f"))
    store.delete(b.id)
    with pytest.raises(ValueError, match="at least 2 classes"):
        OwnRun(store, FeatureCache(tmp_path / "f"))
