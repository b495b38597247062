"""cnnlab.core.tsne, cnnlab.core.maps and cnnlab.core.snapshots: features per model, the fixed sample, t-SNE
maps, placing new points, the training snapshots and their animated GIF, and the maps shipped with the checkpoints."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

from cnnlab.config import TrainConfig
from cnnlab.core import checkpoints, datasets, maps, snapshots, tsne
from cnnlab.core.cache import file_digest
from cnnlab.core.nets.models import MODELS, build_model, get_model_info
from cnnlab.core.plots import animation_gif
from cnnlab.core.training import TrainEvent

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = sorted((ROOT / "checkpoints").glob("*.pt"))


def _last_linear(module: nn.Module) -> nn.Linear:
    return [m for m in module.modules() if isinstance(m, nn.Linear)][-1]


@pytest.mark.parametrize("name", list(MODELS))
def test_embed_gives_what_the_last_layer_sees(name):
    """Every registered model: one feature row per image, exactly as wide as its final linear
    layer's input, and predictions that are valid classes."""
    spec = datasets.get_spec("flowers5" if get_model_info(name).inputs == "photo" else "mnist")
    kwargs = {"pretrained": False} if get_model_info(name).inputs == "photo" else {}
    torch.manual_seed(0)
    model = build_model(name, spec, **kwargs)
    images = torch.randint(0, 256, (3, spec.channels, spec.size, spec.size), dtype=torch.uint8)
    features, preds = tsne.embed(model, images, spec)
    assert features.shape == (3, _last_linear(model.head).in_features)
    assert features.dtype == np.float32 and np.isfinite(features).all()
    assert preds.shape == (3,) and ((0 <= preds) & (preds < spec.num_classes)).all()
    assert model.training, "embed() must leave the model in the mode it found it in"


def test_sample_is_balanced_nested_and_fixed():
    labels = np.repeat(np.arange(10), [50, 80, 100, 100, 100, 100, 100, 100, 100, 100])
    small, big = tsne.balanced_sample(labels, 300), tsne.balanced_sample(labels, 600)
    assert np.bincount(labels[small], minlength=10).tolist() == [30] * 10
    counts = np.bincount(labels[big], minlength=10)
    assert counts[0] == 50 and counts.sum() == 600 and counts.max() - counts[1:].min() <= 1
    assert set(small) <= set(big)                     # the snapshot sample sits inside the map
    assert np.array_equal(small, tsne.balanced_sample(labels, 300))
    assert not np.array_equal(small, tsne.balanced_sample(labels, 300, seed=1))
    assert len(tsne.balanced_sample(labels, 10_000)) == len(labels)


@pytest.fixture(scope="module")
def mnist_test(data_root):
    return datasets.load("mnist", "test", data_root)


@pytest.fixture(scope="module")
def pixel_map(mnist_test):
    """A map of 800 MNIST test digits made from raw pixels (the placement machinery does not
    depend on which features it maps)."""
    indices = tsne.balanced_sample(mnist_test.labels.numpy(), 800)
    pixels = tsne.raw_pixels(mnist_test.images[indices])
    projection = tsne.fit_projection(pixels)
    reduced = projection(pixels)
    coords = np.asarray(tsne.run_tsne(reduced), np.float32)
    labels = mnist_test.labels.numpy()[indices]
    return maps.TsneMap("mnist", "pixels", datasets.MNIST_CLASSES, indices, labels, labels, coords,
                       reduced, projection, 30.0)


@pytest.mark.slow
def test_tsne_is_deterministic_for_a_seed(pixel_map):
    again = np.asarray(tsne.run_tsne(pixel_map.features), np.float32)
    assert np.array_equal(again, pixel_map.coords)
    assert tsne.neighbour_agreement(pixel_map.coords, pixel_map.labels) > 0.6   # chance: 0.1


def _held_out(test, indices, per_class=3):
    """Test digits that are not on the map: ``per_class`` of each class."""
    free = np.setdiff1d(np.arange(len(test)), indices)
    labels = test.labels.numpy()[free]
    return np.concatenate([free[labels == k][:per_class] for k in range(10)])


def _majority_hits(m: maps.TsneMap, points, labels) -> int:
    """How many placed points have their own class as the most common of 10 map neighbours."""
    return sum(np.bincount(m.labels[m.nearest(p, 10)], minlength=len(m.classes)).argmax() == t
               for p, t in zip(points, labels))


@pytest.mark.slow
def test_new_points_land_among_their_class_and_leave_the_map_alone(pixel_map, mnist_test, tmp_path):
    """Held-out digits placed into a raw-pixel map (after a save/load round trip, as for a shipped
    map) land mostly among their own class (raw pixels mix classes: the map's own points have
    ~80% same-class neighbourhoods), and the map itself does not move."""
    loaded = maps.TsneMap.load(pixel_map.save(tmp_path / "m.tsne.npz"))
    assert loaded.precomputed and loaded.n == pixel_map.n
    before = loaded.coords.copy()
    new = _held_out(mnist_test, loaded.indices)
    xy = loaded.place(tsne.raw_pixels(mnist_test.images[new]))
    assert _majority_hits(loaded, xy, mnist_test.labels.numpy()[new]) >= 0.6 * len(new)   # chance: 10%
    assert np.array_equal(loaded.coords, before)
    assert np.abs(xy).max() < 1.5 * np.abs(before).max()     # on the map, not flung off it


def _step(model, train, spec, steps, start=0):
    opt = torch.optim.Adam(model.parameters(), 3e-3)
    for i in range(start, start + steps):
        x = datasets.normalize(train.images[i * 64:(i + 1) * 64], spec)
        loss = nn.functional.cross_entropy(model(x), train.labels[i * 64:(i + 1) * 64])
        opt.zero_grad()
        loss.backward()
        opt.step()


@pytest.fixture(scope="module")
def recorded(data_root):
    return record_a_run(data_root)[0]


def record_a_run(data_root, end: bool = True):
    """A recorder fed like the training job does: start, an eval with unchanged weights, a
    little training, the end (unless ``end`` is False: the run still trains)."""
    spec = datasets.get_spec("mnist")
    torch.manual_seed(0)
    model = build_model("cnn", spec)
    train = datasets.load("mnist", "train", data_root)
    recorder = snapshots.SnapshotRecorder(data_root, n=300, every_s=0)
    config = TrainConfig(dataset="mnist", model="cnn")
    recorder(TrainEvent("start"), model, config)
    recorder(TrainEvent("eval", step=5, epoch=0.01, val_acc=0.1), model, config)
    _step(model, train, spec, 40)
    if end:
        recorder(TrainEvent("done", step=45, epoch=0.1, val_acc=0.9), model, config)
    return recorder, model, config


@pytest.mark.slow
def test_snapshots_are_recorded_and_stay_aligned(recorded):
    rec, maps = recorded.all_maps()
    assert len(rec.snapshots) == 3 and "finished" in str(rec.note)
    assert rec.note.in_("zh") == "已记录这次训练的 3 个快照（训练已结束）。"
    assert [s.step for s in rec.snapshots] == [0, 5, 45]
    assert rec.snapshots[0].features.shape == (300, tsne.PCA_DIMS)
    first, same, trained = maps
    span = np.ptp(first, axis=0).max()
    # Identical features (no training in between): points stay put (warm start + Procrustes);
    # a map recomputed from scratch and not aligned would be turned or mirrored at random.
    assert np.linalg.norm(first - same, axis=1).mean() < 0.1 * span
    # After training, classes separate more than in the untrained network's map.
    assert tsne.neighbour_agreement(trained, rec.labels) > tsne.neighbour_agreement(first, rec.labels)


@pytest.mark.slow
def test_snapshot_maps_wait_for_the_runs_end_then_are_made_in_the_background(data_root):
    """While the run trains, its snapshots wait (mapping beside the training starved the server);
    once it ends, nobody asks for a map: the recorder's own thread makes them, so the slider and
    the GIF work soon after."""
    recorded, model, config = record_a_run(data_root, end=False)
    assert len(recorded.recording().snapshots) == 2                  # two snapshots wait ...
    assert not recorded.mapping and recorded.mapped() == 0           # ... and nothing maps them
    with pytest.raises(snapshots.NothingYet):                         # how a stop ends a mapping
        recorded.map_at(1, stop=lambda: True)
    assert recorded.mapped() == 0
    recorded(TrainEvent("done", step=45, epoch=0.1, val_acc=0.9), model, config)
    assert recorded.mapping                                           # the run's end starts the mapper
    assert recorded.wait_for_maps(120)
    assert recorded.mapped() == len(recorded.recording().snapshots) == 3 and not recorded.mapping


@pytest.mark.slow
def test_gif_export_is_an_animation(recorded, tmp_path):
    rec, maps = recorded.all_maps()
    path = animation_gif(rec, maps, tmp_path / "run.gif")
    with Image.open(path) as im:
        assert im.format == "GIF" and im.is_animated and im.n_frames == 3
        assert im.size[0] >= 300 and im.size[1] >= 300


def test_recorder_keeps_a_bounded_number_of_snapshots(data_root):
    spec = datasets.get_spec("mnist")
    model = build_model("mlp", spec)
    recorder = snapshots.SnapshotRecorder(data_root, n=200, every_s=0, max_snapshots=5)
    config = TrainConfig(dataset="mnist", model="mlp")
    recorder(TrainEvent("start"), model, config)
    for step in range(1, 12):
        recorder(TrainEvent("eval", step=step), model, config)
    steps = [s.step for s in recorder.recording().snapshots]
    assert len(steps) <= 5 and steps[0] == 0 and steps[-1] == 11
    recorder(TrainEvent("start"), model, config)                 # a new run starts afresh
    assert [s.step for s in recorder.recording().snapshots] == [0]


def test_photo_runs_are_not_snapshotted(data_root):
    spec = datasets.get_spec("flowers5")
    model = build_model("transfer", spec, pretrained=False)
    recorder = snapshots.SnapshotRecorder(data_root)
    recorder(TrainEvent("start"), model, TrainConfig(dataset="flowers5", model="transfer"))
    rec = recorder.recording()
    assert rec.snapshots == () and "frozen" in str(rec.note) and "冻结" in rec.note.in_("zh")
    with pytest.raises(LookupError):
        recorder.map_at(0)


def test_a_held_out_digit_lands_among_its_class_on_the_shipped_map(mnist_test):
    """The real thing: the shipped MNIST CNN's map, held-out test digits through the model."""
    path = ROOT / "checkpoints" / "mnist-cnn.pt"
    if not maps.map_path(path).is_file():
        pytest.skip("checkpoints/mnist-cnn.pt and its map are not there yet")
    m = maps.TsneMap.load(maps.map_path(path))
    loaded = checkpoints.load(path)
    new = _held_out(mnist_test, m.indices)
    features, _ = tsne.embed(loaded.model, mnist_test.images[new], loaded.spec)
    assert _majority_hits(m, m.place(features), mnist_test.labels.numpy()[new]) >= 0.9 * len(new)


@pytest.mark.parametrize("path", SHIPPED, ids=[p.stem for p in SHIPPED])
@pytest.mark.slow
def test_shipped_checkpoints_come_with_a_small_matching_map(path, data_root, request):
    """Every shipped checkpoint has its precomputed map: small, made from these very weights,
    and the model's answers on the map's pictures are its answers today."""
    if checkpoints.read_payload(path)["dataset"] == "flowers5":
        request.getfixturevalue("flowers_root")              # skipped, saying why, without the photos
    mp = maps.map_path(path)
    assert mp.is_file(), f"{mp.name} is missing: run maps.precompute_map({path.name!r}, ...)"
    assert mp.stat().st_size < 2_000_000
    m = maps.TsneMap.load(mp)
    assert m.checkpoint_digest == file_digest(path)
    assert m.raw_coords is not None and m.raw_coords.shape == m.coords.shape
    loaded = checkpoints.load(path)
    test = datasets.load(loaded.dataset, "test", data_root)
    assert m.n == min(tsne.DEFAULT_N, len(test))
    check = m.indices[:: max(1, m.n // 40)][:40]
    _, preds = tsne.embed(loaded.model, test.images[check], loaded.spec)
    assert np.mean(preds == m.preds[np.searchsorted(m.indices, check)]) >= 0.95


def test_maps_made_in_a_child_process_are_the_maps_made_here():
    """The finished run's maps are made in a child process (openTSNE holds Python's lock, and a
    thread of the server stalled every request): the same numbers as in this process, bit for
    bit, and Stop kills the child."""
    import threading

    from cnnlab.core import snapshot_maps
    rng = np.random.default_rng(0)
    features = [rng.normal(size=(60, 80)).astype(np.float16) for _ in range(2)]
    small = [snapshot_maps.reduced(f, 0) for f in features]
    here = snapshot_maps.chain(small, 10.0, 0)
    reduced_away, away = snapshot_maps.map_away(features, 10.0, 0, None, threading.Event())
    assert all(np.array_equal(a, b) for a, b in zip(small, reduced_away))
    assert len(away) == 2 and all(np.array_equal(a, b) for a, b in zip(here, away))
    stop = threading.Event()
    stop.set()
    assert snapshot_maps.map_away(features, 10.0, 0, None, stop) is None
