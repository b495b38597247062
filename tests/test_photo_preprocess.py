"""Photo preprocessing: a clothing photo becomes a Fashion-MNIST-like 28x28 (light object on black,
centred, longest side filling the frame), and a flower photo becomes exactly the input its
checkpoint was trained on (size and normalisation travel with the checkpoint)."""
from __future__ import annotations

import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw, ImageFilter

from cnnlab.core import checkpoints, datasets
from cnnlab.core.nets.models import softmax_probs
from cnnlab.core.preprocess import photo_to_fashion, prepare_for, to_tensor

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "demo"))
from make_examples import product_photo  # noqa: E402


def photo(background=235, item=40, size=(640, 480), box=(250, 100, 400, 420), gradient=20.0,
          noise=6.0, specks=0, seed=0) -> Image.Image:
    """A synthetic phone photo: one rounded item on paper, soft edges, uneven light and noise."""
    rng = np.random.default_rng(seed)
    w, h = size
    yy, xx = np.mgrid[0:h, 0:w]
    paper = background + gradient * (xx / w - 0.5) + gradient * (yy / h - 0.5)
    im = Image.fromarray(np.clip(paper, 0, 255).astype(np.uint8)).convert("RGB")
    draw = ImageDraw.Draw(im)
    for _ in range(specks):                          # crumbs on the table
        x, y = rng.integers(20, w - 20), rng.integers(20, h - 20)
        draw.ellipse((x, y, x + 5, y + 5), fill=(item,) * 3)
    if box:
        draw.rounded_rectangle(box, radius=20, fill=(item, item, item + 10))
    im = im.filter(ImageFilter.GaussianBlur(1.5))
    a = np.asarray(im, np.float32) + rng.normal(0, noise, (h, w, 3))
    return Image.fromarray(np.clip(a, 0, 255).astype(np.uint8))


def lit_box(seen: np.ndarray, level: int = 60):
    ys, xs = np.nonzero(seen > level)
    return ys.min(), ys.max(), xs.min(), xs.max()


def assert_light_item_on_black_centred(seen: np.ndarray, box=(250, 100, 400, 420)):
    assert seen.shape == (28, 28) and seen.dtype == np.uint8
    y0, y1, x0, x1 = lit_box(seen)
    assert seen[y0:y1 + 1, x0:x1 + 1].mean() > 180          # a light object ...
    outside = np.ones_like(seen, bool)
    outside[y0:y1 + 1, x0:x1 + 1] = False
    assert seen[outside].max() < 40                          # ... on black
    assert y1 - y0 + 1 >= 27                                 # the longest (vertical) side fills the frame
    width = round(27 * (box[2] - box[0]) / (box[3] - box[1]))
    assert abs((x1 - x0 + 1) - width) <= 2                   # aspect ratio kept
    assert abs((x0 + x1) / 2 - 13.5) <= 1                    # centred left-right


def test_dark_item_on_light_background_becomes_light_on_black():
    assert_light_item_on_black_centred(photo_to_fashion(photo()).seen)


def test_light_item_on_dark_background_stays_light_on_black():
    assert_light_item_on_black_centred(photo_to_fashion(photo(background=30, item=220)).seen)


def test_uneven_light_across_the_paper_is_not_mistaken_for_the_item():
    """A lamp on one side: the paper goes from grey to white (80 grey levels corner to corner)."""
    assert_light_item_on_black_centred(photo_to_fashion(photo(gradient=80.0)).seen)


def test_crumbs_on_the_table_do_not_stretch_the_crop():
    assert_light_item_on_black_centred(photo_to_fashion(photo(specks=6)).seen)


def test_item_off_centre_in_the_photo_is_centred_in_the_frame():
    seen = photo_to_fashion(photo(box=(20, 200, 140, 460))).seen
    assert_light_item_on_black_centred(seen, box=(20, 200, 140, 460))


def test_a_photo_of_nothing_stays_dark_instead_of_amplifying_noise():
    seen = photo_to_fashion(photo(box=None)).seen
    assert seen.max() < 60


def test_mapping_back_to_the_photo_is_recorded_for_the_saliency_overlay():
    prepared = photo_to_fashion(photo())
    x0, y0 = prepared.offset
    assert abs(x0 - 250) <= 3 and abs(y0 - 100) <= 3        # the crop starts at the item's corner
    assert prepared.scale == pytest.approx(28 / 321, rel=0.03)


@pytest.fixture(scope="module")
def fashion_model():
    path = ROOT / "checkpoints" / "fashion-cnn-deep.pt"
    if not path.exists():
        pytest.fail(f"{path} is missing: the shipped Fashion-MNIST checkpoint is needed")
    return checkpoints.load(path)


@pytest.mark.slow
def test_fashion_mnist_items_survive_the_trip_through_a_product_photo(data_root, fashion_model):
    """Oracle: a Fashion-MNIST test item turned into a shop photo (enlarged 10x, inverted,
    coloured, white margin, JPEG) comes back close to the original 28x28, and the shipped model
    answers (nearly always) the same on both, losing no accuracy."""
    import io
    test = datasets.load("fashion", "test", root=data_root)
    m, n = fashion_model, 200
    corr, same, right_direct, right_photo = [], 0, 0, 0
    for i in range(n):
        item, label = test.images[i, 0].numpy(), int(test.labels[i])
        buf = io.BytesIO()
        product_photo(item, (40 + i % 5 * 40, 60, 160 - i % 5 * 30)).save(buf, "JPEG", quality=90)
        prepared = photo_to_fashion(Image.open(buf), m.mean, m.std)
        corr.append(np.corrcoef(prepared.seen.ravel(), item.ravel())[0, 1])
        direct = int(softmax_probs(m.model, to_tensor(item, m.mean, m.std)).argmax())
        via_photo = int(softmax_probs(m.model, prepared.tensor).argmax())
        same += via_photo == direct
        right_direct += direct == label
        right_photo += via_photo == label
    assert np.median(corr) > 0.93 and np.percentile(corr, 10) > 0.8
    assert same >= 0.92 * n
    assert right_photo >= right_direct - 0.03 * n


@pytest.fixture(scope="module")
def flower_model():
    path = ROOT / "checkpoints" / "flowers5-transfer.pt"
    if not path.exists():
        pytest.fail(f"{path} is missing: the shipped flowers5 checkpoint is needed")
    return checkpoints.load(path)


def test_flower_preprocessing_matches_an_explicit_torchvision_pipeline(flower_model):
    """Oracle: Resize(short side) + CenterCrop + ToTensor + Normalize with the checkpoint's own
    input size, mean and std."""
    from torchvision import transforms as T
    m = flower_model
    image = photo(size=(600, 400), box=(240, 60, 360, 340), item=180)   # 600x400 -> 336x224, crop
    expected = T.Compose([T.Resize(m.input_size), T.CenterCrop(m.input_size), T.ToTensor(),
                          T.Normalize(m.mean, m.std)])(image).unsqueeze(0)
    prepared = prepare_for(m, image)
    assert prepared.tensor.shape == (1, 3, m.input_size, m.input_size)
    assert prepared.seen.shape == (m.input_size, m.input_size, 3)
    assert (prepared.tensor - expected).abs().max() < 0.01


def test_flower_preprocessing_follows_whatever_the_checkpoint_says():
    """A checkpoint with another input size and normalisation gets exactly that."""
    stub = SimpleNamespace(spec=datasets.get_spec("flowers5"), input_size=160,
                           mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225))
    image = photo(size=(300, 400))
    prepared = prepare_for(stub, image)
    assert prepared.tensor.shape == (1, 3, 160, 160)
    seen = torch.from_numpy(prepared.seen.copy()).permute(2, 0, 1).float() / 255
    mean, std = torch.tensor(stub.mean).view(3, 1, 1), torch.tensor(stub.std).view(3, 1, 1)
    assert torch.allclose(prepared.tensor[0], (seen - mean) / std, atol=1e-5)
