"""The Photo tab through its public API (gradio_client against the launched app), as a student's
phone would use it: both tasks, the honest "not sure", the saliency overlay, and every kind of
bad upload, after each of which the app still answers the next photo."""
from __future__ import annotations

import io
import re
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from chinese import chinese_client
from PIL import Image

from cnnlab.core import datasets
from cnnlab.core.datasets import FLOWERS5_CLASSES
from cnnlab.ui import photo as photo_tab

ROOT = Path(__file__).resolve().parents[1]
SNEAKER = ROOT / "demo" / "fashion-sneaker.jpg"
API = "/classify_photo"

FLOWERS = datasets.get_spec("flowers5").folder     # the flower photos' folder under the data root


def classify(client, path, task="Clothing", model=None, saliency=False):
    from gradio_client import handle_file
    verdict, label, seen, heat = client.predict(handle_file(str(path)), task, model, saliency,
                                                api_name=API)
    return verdict, label, seen, heat


def top_label(label) -> str:
    return label["label"]


def sklearn_photo(name: str) -> Path:
    import sklearn
    return Path(sklearn.__file__).parent / "datasets" / "images" / name


def assert_still_serving(client):
    verdict, label, _, _ = classify(client, SNEAKER)
    assert top_label(label) == "Sneaker", verdict


# --- both tasks ----------------------------------------------------------------------------

def test_clothing_photo_is_recognised_and_shown_as_the_model_sees_it(client):
    verdict, label, seen, heat = classify(client, SNEAKER)
    assert top_label(label) == "Sneaker"
    assert len(label["confidences"]) == 3                       # top 3 with confidence bars
    assert verdict.startswith("## Sneaker") and "fairly sure" in verdict
    model_view = np.asarray(Image.open(seen).convert("L"))
    assert model_view.shape == (280, 280)                       # 28x28, enlarged with visible pixels
    assert model_view[:20, :20].max() < 30                      # black background ...
    assert model_view.max() > 200                               # ... light object, as in Fashion-MNIST


@pytest.mark.parametrize("name", ["trouser", "bag", "ankle-boot"])
def test_each_clothing_example_gets_its_class(client, name):
    _, label, _, _ = classify(client, ROOT / "demo" / f"fashion-{name}.jpg")
    assert top_label(label) == {"trouser": "Trouser", "bag": "Bag", "ankle-boot": "Ankle boot"}[name]


def test_flower_photos_are_recognised(client, flowers_root):
    """Four real test photos of each flowers5 class (never committed: read from the data root)."""
    correct = 0
    for cls in FLOWERS5_CLASSES:
        for path in sorted((flowers_root / FLOWERS / "test" / cls).glob("*.jpg"))[:4]:
            verdict, label, seen, _ = classify(client, path, task="Flower")
            assert top_label(label) in FLOWERS5_CLASSES and verdict.startswith("## ")
            assert Image.open(seen).size == (224, 224)          # the checkpoint's own input size
            correct += top_label(label) == cls
    assert correct >= 14                                        # the shipped model is ~81% accurate


def test_a_model_from_the_other_task_is_not_used(client):
    _, label, _, _ = classify(client, SNEAKER, task="Flower", model="fashion-cnn-deep")
    assert top_label(label) in FLOWERS5_CLASSES


def test_choosing_a_task_lists_its_models(client):
    flower = client.predict("Flower", api_name="/photo_models")
    assert flower["value"] == "flowers5-transfer"
    assert {key for _, key in flower["choices"]} >= {"flowers5-transfer"}
    assert "fashion-cnn-deep" not in {key for _, key in flower["choices"]}
    assert client.predict("Clothing", api_name="/photo_models")["value"] == "fashion-cnn-deep"


def test_saliency_is_drawn_over_the_students_own_photo(client):
    boot = ROOT / "demo" / "fashion-ankle-boot.jpg"
    _, _, _, heat = classify(client, boot, saliency=True)
    shown = np.asarray(Image.open(heat["value"]).convert("RGB")).astype(int)
    original = np.asarray(Image.open(boot).convert("RGB")).astype(int)
    assert heat["visible"] and shown.shape == original.shape   # the whole photo, same size
    changed = np.abs(shown - original).sum(2) > 60             # where the heat was painted
    on_boot = original.min(2) < 200
    assert changed.sum() > 500 and (changed & on_boot).sum() > 0.8 * changed.sum()
    _, _, _, off = classify(client, boot, saliency=False)
    assert off["visible"] is False


def test_no_photo_asks_for_one(client):
    verdict, label, seen, _ = client.predict(None, "Clothing", None, False, api_name=API)
    assert "Add a photo" in verdict and not label and seen is None


# --- saying "not sure" -----------------------------------------------------------------------

def test_a_scene_that_is_not_clothing_gets_not_sure(client):
    verdict, _, _, _ = classify(client, sklearn_photo("china.jpg"))
    assert "I'm not sure - this doesn't look like the clothes I was trained on" in verdict


def test_a_photo_with_no_flower_gets_not_sure_however_sure_the_numbers_look(client, flowers_root):
    """Issue 19: the temple used to get "sunflower 91%". The flower model now also asks whether
    the photo looks like any flower photo it learned from (cnnlab.core.novelty)."""
    verdict, _, _, _ = classify(client, sklearn_photo("china.jpg"), task="Flower")
    assert "I'm not sure" in verdict and "unlike every photo of my classes" in verdict, verdict
    verdict, label, _, _ = classify(client, sorted((flowers_root / FLOWERS / "test" / "sunflower")
                                                   .glob("*.jpg"))[0], task="Flower")
    assert "unlike every photo" not in verdict, "a real flower is familiar"


def test_a_photo_of_nothing_gets_not_sure(client, tmp_path):
    p = tmp_path / "wall.jpg"
    noise = np.random.default_rng(1).normal(0, 3, (480, 640, 1))
    Image.fromarray(np.clip(225 + noise, 0, 255).astype(np.uint8).repeat(3, 2)).save(p)
    verdict, _, _, _ = classify(client, p)
    assert "I'm not sure" in verdict and "cannot find an object" in verdict


def test_scene_check_accepts_a_product_shot_in_uneven_light_and_rejects_a_landscape():
    h, w = 480, 640
    yy, xx = np.mgrid[0:h, 0:w]
    paper = 235 + 80 * (xx / w - 0.5) + 40 * (yy / h - 0.5)      # a lamp on the right
    paper[100:420, 250:400] = 40                                  # one dark item
    shot = Image.fromarray(np.clip(paper, 0, 255).astype(np.uint8)).convert("RGB")
    assert photo_tab.scene_problem(shot) is None
    assert photo_tab.scene_problem(_sneaker()) is None
    assert "not plain" in photo_tab.scene_problem(Image.open(sklearn_photo("china.jpg")))
    assert "cannot find an object" in photo_tab.scene_problem(Image.new("RGB", (640, 480), "white"))


def test_verdict_rules():
    """Pure rules: sure only with a clear winner; unsure text names the best guess and why."""
    from cnnlab.core.inference import Answer
    classes = ("Sneaker", "Sandal", "Bag")

    def result(*p):
        return Answer(dict(zip(classes, p)), classes[int(np.argmax(p))], int(np.argmax(p)), max(p), None)
    assert photo_tab.verdict(result(0.9, 0.05, 0.05), "Clothing")[0]
    assert not photo_tab.verdict(result(0.5, 0.3, 0.2), "Clothing")[0]          # low top probability
    assert not photo_tab.verdict(result(0.62, 0.38, 0.0), "Clothing")[0]         # runner-up too close
    sure, text = photo_tab.verdict(result(0.9, 0.05, 0.05), "Clothing", "The background is not plain")
    assert not sure and "background is not plain" in text and "**Sneaker** (90%)" in text


# --- bad input never breaks it ---------------------------------------------------------------

def _png_chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def _bomb(path: Path, side: int = 20000) -> None:
    comp = zlib.compressobj(9)
    body = b"".join(comp.compress(bytes(side + 1)) for _ in range(side)) + comp.flush()
    header = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)        # 8-bit greyscale
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + _png_chunk(b"IHDR", header) + _png_chunk(b"IDAT", body)
                     + _png_chunk(b"IEND", b""))


def _truncated(path: Path, fmt: str) -> None:
    buf = io.BytesIO()
    Image.open(SNEAKER).save(buf, fmt)
    path.write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])


BAD = {
    "notes.jpg": (lambda p: p.write_text("not a photo at all\n" * 50), "not a picture"),
    "empty.png": (lambda p: p.write_bytes(b""), "empty"),
    "cut.jpg": (lambda p: _truncated(p, "JPEG"), "damaged or incomplete"),
    "cut.png": (lambda p: _truncated(p, "PNG"), "damaged or incomplete"),
    "bomb.png": (_bomb, "too large to open safely"),
    "dot.png": (lambda p: Image.new("RGB", (1, 1), "white").save(p), "too small"),
    "strip.png": (lambda p: Image.new("RGB", (10000, 9), "white").save(p), "long and thin"),
}


@pytest.mark.parametrize("name", list(BAD))
def test_bad_file_gets_a_clear_message_and_the_app_keeps_serving(client, tmp_path, name):
    from gradio_client.exceptions import AppError
    make, expected = BAD[name]
    path = tmp_path / name
    make(path)
    with pytest.raises(AppError) as info:
        classify(client, path)
    assert expected in str(info.value) and "Traceback" not in str(info.value)
    assert_still_serving(client)


def test_upload_over_the_size_limit_is_refused(client, tmp_path):
    path = tmp_path / "huge.jpg"
    path.write_bytes(b"\xff\xd8\xff" + bytes(11 * 1024 * 1024))    # 11 MB: over the 10 MB limit
    with pytest.raises(Exception) as info:
        classify(client, path)
    assert "size" in str(info.value).lower() or "413" in str(info.value)
    assert_still_serving(client)


def _sneaker() -> Image.Image:
    return Image.open(SNEAKER).convert("RGB")


def _cmyk(p):
    _sneaker().convert("CMYK").save(p, "JPEG", quality=95)


def _grey16(p):
    Image.fromarray(np.asarray(_sneaker().convert("L"), np.uint16) * 257).save(p)


def _palette(p):
    _sneaker().convert("P", palette=Image.ADAPTIVE, colors=16).save(p)


def _transparent(p):
    rgba = _sneaker().convert("RGBA")
    a = np.array(rgba)
    a[..., 3] = np.where(a[..., :3].min(2) > 245, 0, 255)            # white paper -> transparent
    a[a[..., 3] == 0, :3] = 0                                         # ... and black underneath
    Image.fromarray(a, "RGBA").save(p)


def _animated(p):
    other = Image.open(ROOT / "demo" / "fashion-bag.jpg").convert("RGB")
    _sneaker().save(p, save_all=True, append_images=[other], duration=300, loop=0)


def _rotated(p):
    """Stored sideways, as a phone does, with EXIF orientation 6 saying how to turn it upright."""
    exif = Image.Exif()
    exif[0x0112] = 6
    _sneaker().transpose(Image.Transpose.ROTATE_90).save(p, "JPEG", exif=exif, quality=95)


ODD = {"cmyk.jpg": _cmyk, "grey16.png": _grey16, "palette.png": _palette,
       "transparent.png": _transparent, "animated.gif": _animated, "rotated.jpg": _rotated}


@pytest.mark.parametrize("name", list(ODD))
def test_odd_but_valid_photos_get_the_right_answer(client, tmp_path, name):
    path = tmp_path / name
    ODD[name](path)
    verdict, label, _, _ = classify(client, path)
    assert top_label(label) == "Sneaker", verdict


# --- a Chinese reader ------------------------------------------------------------------------

def test_a_chinese_reader_gets_the_answer_and_the_errors_in_chinese(app_server, flowers_root, tmp_path):
    from gradio_client.exceptions import AppError
    with chinese_client(app_server[1]) as zh:
        verdict, label, _, _ = classify(zh, SNEAKER)
        assert top_label(label) == "运动鞋" and verdict.startswith("## 运动鞋") and "我比较有把握" in verdict
        verdict, _, _, _ = classify(zh, sklearn_photo("china.jpg"))
        assert "我拿不准——这不像我训练时见过的服饰" in verdict and "背景不是纯色的" in verdict
        # a flower photo: a Chinese flower name, and the list of the five the model knows
        names = {"daisy": "雏菊", "dandelion": "蒲公英", "rose": "玫瑰", "sunflower": "向日葵", "tulip": "郁金香"}
        path = sorted((flowers_root / FLOWERS / "test" / "sunflower").glob("*.jpg"))[0]
        verdict, label, _, _ = classify(zh, path, task="Flower")
        top = top_label(label)
        assert top in names.values() and re.search(rf"^## {top}|\*\*{top}\*\*", verdict)     # sure, or its best guess
        assert "雏菊、蒲公英、玫瑰、向日葵、郁金香" in verdict
        assert {c["label"] for c in label["confidences"]} <= set(names.values())
        make, _ = BAD["dot.png"]
        make(tmp_path / "dot.png")
        with pytest.raises(AppError, match="这张图片只有 1 x 1 像素：太小了"):
            classify(zh, tmp_path / "dot.png")
        verdict, _, _, _ = zh.predict(None, "Clothing", None, False, api_name=API)
        assert "添加一张照片" in verdict
