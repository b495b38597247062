"""Out-of-distribution honesty (issue 19): a photo that shows none of the model's classes is
called unfamiliar, and the novelty model is stored in the checkpoint as safely as the weights."""
from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw

from cnnlab.core import checkpoints, datasets, inference, novelty
from cnnlab.core.checkpoints import CheckpointError
from cnnlab.core.nets.models import build_model

pytestmark = pytest.mark.usefixtures("one_thread")


def clusters(n: int, seed: int, shift: float = 0.0, d: int = 100, classes: int = 4):
    """Points of ``classes`` Gaussian clusters in ``d`` dimensions (``shift``: moved away)."""
    g = torch.Generator().manual_seed(seed)
    centres = torch.randn(classes, d, generator=torch.Generator().manual_seed(0)) * 3
    labels = torch.arange(n) % classes
    return centres[labels] + torch.randn(n, d, generator=g) + shift, labels


def test_points_of_the_training_classes_are_familiar_and_others_are_not():
    x, y = clusters(2000, 1)
    held, _ = clusters(400, 2)
    model = novelty.fit(x, y, held, k=32)
    familiar = (model.strangeness(clusters(1000, 3)[0]) <= 1).float().mean()
    assert 0.93 <= familiar <= 0.995, "about the chosen quantile of new points of the classes pass"
    assert (model.strangeness(clusters(500, 4, shift=4.0)[0]) > 1).all(), "points far away are unfamiliar"
    assert (model.strangeness(torch.randn(500, 100) * 3) > 1).float().mean() > 0.9


def test_what_lies_outside_the_main_directions_is_unfamiliar_too():
    """A point that matches the classes inside the kept directions but has a part no training
    image has (a digit shown to the flower model) is caught by the residual, which the distance
    in the kept directions cannot see; each limit takes half the held-out budget."""
    x, y = clusters(2000, 1)
    held, _ = clusters(400, 2)
    model = novelty.fit(x, y, held, k=32)
    assert model.residual_limit is not None
    u = novelty.unit(clusters(500, 3)[0])
    z = u - model.mean
    off = z - (z @ model.basis) @ model.basis.T                  # the part outside the kept directions
    odd = u + 0.3 * off / off.norm(dim=1, keepdim=True)          # ... made longer
    assert (model.distance(odd) <= model.limit).float().mean() > 0.9, "the distance alone lets them through"
    assert (model.strangeness(odd) > 1).all(), "the residual does not"
    assert (model.strangeness(u) > 1).float().mean() < 0.05
    flagged = (model.strangeness(held) > 1).float().mean()
    assert flagged <= 1 - novelty.QUANTILE + 1e-6
    full = novelty.fit(x, y, held, k=100)                         # every direction kept: no residual
    assert full.residual_limit is None


def test_payload_round_trip_and_refusals():
    x, y = clusters(500, 1)
    model = novelty.fit(x, y, clusters(100, 2)[0], k=16)
    again = novelty.Novelty.from_payload(model.to_payload())
    probe = clusters(20, 5)[0]
    assert torch.allclose(again.strangeness(probe), model.strangeness(probe))
    older = {k: v for k, v in model.to_payload().items() if k != novelty.RESIDUAL}   # fitted before the residual
    assert novelty.Novelty.from_payload(older).residual_limit is None
    for bad in (torch.tensor(0.0), torch.tensor([1.0, 2.0]), "big"):
        with pytest.raises(ValueError):
            novelty.Novelty.from_payload(model.to_payload() | {novelty.RESIDUAL: bad})
    bad = model.to_payload() | {"precision": torch.zeros(3, 3)}
    with pytest.raises(ValueError):
        novelty.Novelty.from_payload(bad)
    with pytest.raises(ValueError):
        novelty.Novelty.from_payload(model.to_payload() | {"limit": torch.tensor(float("nan"))})
    with pytest.raises(ValueError):
        novelty.Novelty.from_payload({"mean": "no"})


@pytest.fixture()
def mlp_checkpoint(tmp_path):
    spec = datasets.get_spec("mnist")
    torch.manual_seed(0)
    model = build_model("mlp", spec).eval()
    path = checkpoints.save(tmp_path / "m.pt", model, "mlp", "mnist")
    with torch.no_grad():
        features = model.embed(torch.randn(200, 1, 28, 28))
    return path, novelty.fit(features, torch.arange(200) % 10, features[:50], k=8)


def test_checkpoint_carries_novelty_and_answers_report_it(mlp_checkpoint):
    path, model = mlp_checkpoint
    payload = checkpoints.read_payload(path)
    payload["novelty"] = model.to_payload()
    checkpoints.save_payload(path, payload)
    loaded = checkpoints.load(path)
    assert loaded.novelty is not None
    x = torch.randn(3, 1, 28, 28)
    with torch.no_grad():
        logits, strangeness = inference.scores(loaded, x)
        assert torch.allclose(logits, loaded.model(x), atol=1e-6), "the same answer, one pass"
    assert strangeness.shape == (3,) and (strangeness > 0).all()


@pytest.mark.parametrize("damage", ["shapes", "wrong length", "not a dict", "mirror"])
def test_a_damaged_novelty_or_mirror_field_is_refused(mlp_checkpoint, damage):
    path, model = mlp_checkpoint
    payload = checkpoints.read_payload(path)
    if damage == "shapes":
        payload["novelty"] = model.to_payload() | {"centres": torch.zeros(10, 3)}
    elif damage == "wrong length":                     # fitted on another network's features
        x, y = clusters(300, 1, d=64)
        payload["novelty"] = novelty.fit(x, y, x[:50], k=8).to_payload()
    elif damage == "not a dict":
        payload["novelty"] = [1, 2]
    else:
        payload["mirror"] = "yes"
    checkpoints.save_payload(path, payload)
    with pytest.raises(CheckpointError, match="damaged"):
        checkpoints.load(path)


def test_mirror_averages_the_photo_and_its_mirror_image(mlp_checkpoint):
    path, _ = mlp_checkpoint
    payload = checkpoints.read_payload(path)
    payload["mirror"] = True
    checkpoints.save_payload(path, payload)
    loaded = checkpoints.load(path)
    x = torch.randn(2, 1, 28, 28)
    with torch.no_grad():
        logits, strangeness = inference.scores(loaded, x)
        expected = (loaded.model(x) + loaded.model(x.flip(-1))) / 2
        assert torch.allclose(logits, expected, atol=1e-6) and strangeness is None
        assert torch.allclose(inference.AsAnswered(loaded)(x), expected, atol=1e-6)


@pytest.mark.slow
def test_the_shipped_flower_model_knows_a_temple_is_no_flower(flowers_root):
    """Real photos, the shipped checkpoint: flowers of the test split are familiar, the temple
    (whole and cropped), noise and a shop photo of a sneaker are not."""
    import sklearn

    from cnnlab.core.preprocess import prepare_for
    loaded = checkpoints.load(Path(__file__).resolve().parents[1] / "checkpoints" / "flowers5-transfer.pt")
    assert loaded.novelty is not None and loaded.novelty.stock, "measured on the stock ImageNet features"
    test = datasets.load("flowers5", "test", flowers_root)
    pick = torch.arange(0, len(test), 20)                     # 44 photos of every class
    with torch.no_grad():
        _, strangeness = inference.scores(loaded, datasets.normalize(test.images[pick], test.spec))
    assert (strangeness <= 1).float().mean() >= 0.9
    temple = Image.open(Path(sklearn.__file__).parent / "datasets" / "images" / "china.jpg").convert("RGB")
    odd = [temple, temple.crop((100, 50, 400, 350)), temple.crop((0, 0, 200, 200)),
           Image.fromarray(np.random.default_rng(0).integers(0, 256, (128, 128, 3), dtype=np.uint8)),
           Image.open(Path(__file__).resolve().parents[1] / "demo" / "fashion-sneaker.jpg").convert("RGB")]
    with torch.no_grad():
        _, strangeness = inference.scores(loaded, torch.cat([prepare_for(loaded, im).tensor for im in odd]))
    assert (strangeness > 1).all(), strangeness


def scribble(seed: int) -> Image.Image:
    """A student's scribble on the 280x280 canvas: a random walk of pen strokes, no digit."""
    rng = np.random.default_rng(seed)
    image = Image.new("L", (280, 280), 255)
    pen = ImageDraw.Draw(image)
    p = rng.uniform(60, 220, 2)
    for _ in range(int(rng.integers(15, 30))):
        q = np.clip(p + rng.normal(0, 45, 2), 20, 260)
        pen.line([tuple(p), tuple(q)], fill=0, width=int(rng.integers(12, 26)), joint="curve")
        p = q
    return image


def test_the_draw_tab_is_unsure_about_scribbles_and_sure_about_digits(data_root):
    """The shipped digit CNN through the Draw tab's own handler: most scribbles get "not sure",
    digits drawn with a pen (tests/handwriting.py) do not."""
    from handwriting import DIGITS, render

    from cnnlab.server.zoo import ModelZoo
    from cnnlab.ui import draw
    zoo = ModelZoo(Path(__file__).resolve().parents[1] / "checkpoints")
    assert zoo.get("mnist-cnn").novelty is not None

    def unsure(image) -> bool:
        verdict = draw.predict_digit(zoo, np.asarray(image), "mnist-cnn", False)[0]
        return "not sure" in verdict
    assert sum(unsure(scribble(seed)) for seed in range(12)) >= 8
    assert sum(unsure(render(DIGITS[d])) for d in range(10)) <= 1
