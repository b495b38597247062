"""The Inside tab through its API, as the page (and gradio_client users) call it: one request per
stroke returns every layer, the maps shown are the model's own numbers, an opened map's sum is
its value, bad input gets a sentence, and the live view follows the class's run."""
from __future__ import annotations

import base64
import io
import re

import numpy as np
import pytest
import torch
from chinese import chinese_client
from gradio_client.exceptions import AppError
from handwriting import DIGITS, render
from PIL import Image

from cnnlab.config import TrainConfig
from cnnlab.core import checkpoints
from cnnlab.core.preprocess import sketch_to_mnist
from cnnlab.lessons import inside
from cnnlab.ui.inside import LiveRenderer

DATA_URL = re.compile(r"url\('data:image/png;base64,([A-Za-z0-9+/=]+)'\)")


def data_url(image: Image.Image) -> str:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def sections(layers: str) -> list[str]:
    return re.findall(r"<section class='ins-stage'.*?</section>", layers, flags=re.S)


def sprite(section: str) -> np.ndarray:
    png = base64.b64decode(DATA_URL.search(section).group(1))
    image = Image.open(io.BytesIO(png))
    assert image.mode == "P"
    return np.asarray(image)


def test_one_stroke_returns_every_layer_with_the_models_own_numbers(client):
    drawing = render(DIGITS[5])
    layers, detail = client.predict(data_url(drawing), "mnist-cnn", False, "", api_name="/inside_show")
    assert len(layers.encode()) + len(detail.encode()) < 150_000           # light enough for a phone
    parts = sections(layers)
    shapes = [re.search(r"data-shape='([^']*)'", p).group(1) for p in parts]
    assert shapes == ["1 x 28 x 28", "16 x 28 x 28", "16 x 28 x 28", "16 x 14 x 14", "32 x 14 x 14",
                      "32 x 14 x 14", "32 x 7 x 7", "1568", "10", "10"]
    assert "448 parameters" in parts[1] and "12,896 parameters" in parts[4] and "15,690 parameters" in parts[8]
    assert "Click any feature map" in detail
    # the sprites hold the same numbers a forward hook of our own reads from the model
    cnn = checkpoints.load("checkpoints/mnist-cnn.pt")
    x = sketch_to_mnist(np.asarray(drawing), cnn.mean, cnn.std).tensor
    f = cnn.model.features
    hooked = {}
    handles = [m.register_forward_hook(lambda m, i, o, k=k: hooked.__setitem__(k, o[0].detach().clone()))
               for k, m in ((1, f[1]), (2, f[2]), (3, f[3]), (4, f[5]), (5, f[6]), (6, f[7]))]
    with torch.no_grad():
        cnn.model(x)
    for h in handles:
        h.remove()
    for k, values in hooked.items():
        c, h, w = values.shape
        scale = float(values.abs().max())
        expected = np.clip(np.rint(inside.STEPS + inside.STEPS * values.numpy() / scale), 0, 2 * inside.STEPS)
        shown = sprite(parts[k]).reshape(h, c, w).transpose(1, 0, 2)      # channel k sits at columns k*w...
        assert np.mean(shown == expected) > 0.999, k                       # (rounding at .5 may differ)
        assert np.abs(shown.astype(int) - expected).max() <= 1
        assert parts[k].count("<button") == c
    assert re.search(r"The network says <b>5</b>", parts[-1])


def test_an_opened_map_shows_its_kernel_and_a_sum_equal_to_its_value(client):
    drawing = data_url(render(DIGITS[8]))
    detail = client.predict(drawing, "mnist-cnn", False, "4:7:6:5", api_name="/inside_open")
    assert "Convolution 2 · map 8 of 32" in detail and "The kernel: 5 x 5 weights" in detail
    total = re.search(r"=&nbsp; <b>(−?[\d.]+)</b>.*?the map&#x27;s value at row 6, column 5: (−?[\d.]+)", detail, re.S)
    assert total and total.group(1) == total.group(2)
    assert detail.count("<td") == 25 and "ch 16:" in detail                   # 16 input channels' sums
    # the same pick comes back with the next stroke, in the same single response
    layers, detail2 = client.predict(drawing, "mnist-cnn", True, "4:7:6:5", api_name="/inside_show")
    assert "Convolution 2 · map 8 of 32" in detail2 and "one colour scale for all layers" in layers
    # a pooling map explains its pixel as the largest of its square
    pool = client.predict(drawing, "mnist-cnn", False, "3:0:7:7", api_name="/inside_open")
    assert "the largest of this 2 x 2 square of ReLU" in pool
    # no pixel chosen yet: the strongest pixel of the map
    strongest = client.predict(drawing, "mnist-cnn", False, "1:2:-1:-1", api_name="/inside_open")
    assert "Convolution 1 · map 3 of 16" in strongest


def test_every_drawing_model_answers_and_the_mlp_explains_why_it_has_no_maps(client):
    drawing = data_url(render(DIGITS[4]))
    layers, _ = client.predict(drawing, "mnist-mlp", False, "", api_name="/inside_show")
    assert "An MLP has no feature maps" in layers and layers.count("class='ins-tile'") == inside.TEMPLATES
    assert "class=ins-map" not in layers
    deep, _ = client.predict(drawing, "fashion-cnn-deep", False, "", api_name="/inside_show")
    assert "128 x 3 x 3" in deep and len(deep.encode()) < 150_000
    # a pick left from another model is not an error, just a hint
    _, detail = client.predict(drawing, "mnist-mlp", False, "4:7:6:5", api_name="/inside_show")
    assert "not in this model" in detail


@pytest.mark.parametrize("drawing, pick, message", [
    ("", "", None),                                                   # empty canvas: a hint
    ("data:image/png;base64,AAAA", "", "damaged"),
    ("not a picture", "", "did not arrive as a picture"),
    ("@valid", "1:2:3", "could not be read"),
    ("@valid", "99:0:0:0", None),
])
def test_bad_input_gets_a_sentence(client, drawing, pick, message):
    drawing = data_url(render(DIGITS[1])) if drawing == "@valid" else drawing
    if message is None:
        layers, detail = client.predict(drawing, "mnist-cnn", False, pick, api_name="/inside_show")
        assert "Draw a digit" in layers or "not in this model" in detail
        return
    with pytest.raises(AppError, match=message):
        client.predict(drawing, "mnist-cnn", False, pick, api_name="/inside_show")


def test_an_unknown_model_gets_a_sentence(client):
    with pytest.raises(AppError, match="no model called 'nope'"):
        client.predict(data_url(render(DIGITS[1])), "nope", False, "", api_name="/inside_show")


def test_filters_come_with_the_test_patches_that_excite_them(client):
    html = client.predict("mnist-cnn", api_name="/inside_filters")
    assert "The first layer" in html and html.count("class='ins-filter'") == 16
    assert html.count("<img") == 16 * (1 + inside.PATCHES_PER_FILTER)


def test_the_live_view_follows_the_class_run(client, app_server, idle_job):
    ctx = app_server[0].ctx
    live = ctx.live
    message = str(idle_job.start(TrainConfig(train_size=3000, epochs=1, val_size=500, eval_every_s=1.0)))
    assert "started" in message
    assert idle_job.wait(120)
    version, view, _ = live.snapshot()
    assert view is not None and view.kind == "done" and live.taken >= 2
    latest = ctx.zoo.get("latest")
    np.testing.assert_allclose(view.filters, latest.model.features[0].weight.detach().mean(1).numpy(), atol=1e-6)
    html = client.predict(-1, api_name="/inside_live")
    assert "cnn on MNIST digits" in html and "finished" in html and html.count("class=ins-tile") >= 16
    renderer = LiveRenderer(ctx.live)
    assert renderer.html() is renderer.html()                       # made once, shared by every viewer


def test_a_chinese_reader_gets_the_walk_and_its_errors_in_chinese(app_server):
    drawing = data_url(render(DIGITS[8]))
    with chinese_client(app_server[1]) as zh:
        layers, detail = zh.predict(drawing, "mnist-cnn", False, "4:7:6:5", api_name="/inside_show")
        assert "卷积层 1" in layers and "最大池化" in layers and "展平" in layers and "全连接层 1" in layers
        assert "448 个参数" in layers and re.search(r"网络的判断：<b>8</b>（有 \d+% 的把握）", layers)
        assert "卷积层 2 · 第 8 张特征图（共 32 张）" in detail and "卷积核：5 x 5 个权重" in detail
        assert "Convolution" not in layers + detail and "parameters" not in layers
        mlp, _ = zh.predict(drawing, "mnist-mlp", False, "", api_name="/inside_show")
        assert "MLP 没有特征图" in mlp
        with pytest.raises(AppError, match="没有名为“nope”的模型"):
            zh.predict(drawing, "nope", False, "", api_name="/inside_show")
        with pytest.raises(AppError, match="收到的画已损坏"):
            zh.predict("data:image/png;base64,AAAA", "mnist-cnn", False, "", api_name="/inside_show")
        assert "第一层的 16 个卷积核" in zh.predict("mnist-cnn", api_name="/inside_filters")
