"""The Draw tab through its API, as gradio_client users (and the browser's canvas) call it."""
from __future__ import annotations

import base64
import io
import re

import numpy as np
import pytest
from gradio_client import handle_file
from gradio_client.exceptions import AppError
from handwriting import DIGITS, render
from PIL import Image

from cnnlab.core import datasets


def sketchpad(path) -> dict:
    return {"background": None, "layers": [], "composite": handle_file(str(path)), "id": None}


def data_url(image: Image.Image) -> str:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def mnist_as_drawn(data_root, digit: int) -> Image.Image:
    """The first MNIST test image of ``digit`` as a student's canvas would hold it: black ink on
    white, 280x280."""
    test = datasets.load("mnist", "test", root=data_root)
    index = int(np.flatnonzero(test.labels.numpy() == digit)[0])
    return Image.fromarray(255 - test.images[index, 0].numpy()).resize((280, 280), Image.BILINEAR)


def shown_digit(verdict_html: str) -> str:
    return re.sub(r"<[^>]+>", " ", verdict_html).split()[0]


def test_an_empty_canvas_gives_a_hint_not_an_error(client, tmp_path):
    blank = tmp_path / "blank.png"
    Image.new("L", (280, 280), 255).save(blank)
    verdict, probs, seen, heat = client.predict(sketchpad(blank), "mnist-cnn", False, api_name="/predict_digit")
    assert "Draw a digit" in verdict and "error" not in verdict.lower()
    assert probs is None or not probs.get("confidences")
    assert "<img" not in seen and "<img" not in heat
    # The browser's canvas says "empty" with an empty string.
    verdict, probs, _, _ = client.predict("", "mnist-cnn", True, api_name="/predict_drawing")
    assert "Draw a digit" in verdict


def test_real_mnist_digits_are_recognised(client, tmp_path, data_root):
    right = []
    for digit in range(10):
        path = tmp_path / f"mnist-{digit}.png"
        mnist_as_drawn(data_root, digit).save(path)
        verdict, probs, seen, _ = client.predict(sketchpad(path), "mnist-cnn", False, api_name="/predict_digit")
        assert len(probs["confidences"]) == 10
        assert probs["label"] == shown_digit(verdict)
        assert "data:image/png;base64," in seen                      # the 28x28 the model saw, inline
        right.append(probs["label"] == str(digit))
    assert sum(right) >= 9, right


def test_a_transparent_layer_png_is_read_as_ink_on_white(client, tmp_path, data_root):
    """A drawing layer as browsers export it: black ink on transparent black (0, 0, 0, 0)."""
    ink = mnist_as_drawn(data_root, 7)
    alpha = Image.eval(ink, lambda v: 255 - v)
    layer = Image.merge("RGBA", (Image.new("L", ink.size, 0),) * 3 + (alpha,))
    path = tmp_path / "layer.png"
    layer.save(path)
    verdict, probs, _, _ = client.predict(sketchpad(path), "mnist-cnn", False, api_name="/predict_digit")
    assert probs["label"] == "7" and shown_digit(verdict) == "7"
    _, probs, _, _ = client.predict(data_url(layer), "mnist-cnn", False, api_name="/predict_drawing")
    assert probs["label"] == "7"


def test_the_canvas_endpoint_matches_the_sketchpad_one(client, tmp_path):
    drawing = render(DIGITS[2])
    path = tmp_path / "two.png"
    drawing.save(path)
    by_file = client.predict(sketchpad(path), "mnist-cnn", True, api_name="/predict_digit")
    by_url = client.predict(data_url(drawing), "mnist-cnn", True, api_name="/predict_drawing")
    assert by_file[1]["label"] == by_url[1]["label"] == "2"
    assert by_file[2] == by_url[2]                                   # the same 28x28 input
    assert "<img" in by_url[3] and "data:image/png;base64," in by_url[3]   # saliency overlay, inline


@pytest.mark.parametrize("model", ["mnist-cnn", "mnist-mlp"])
def test_both_shipped_architectures_answer(client, model):
    verdict, probs, _, _ = client.predict(data_url(render(DIGITS[3])), model, False, api_name="/predict_drawing")
    assert len(probs["confidences"]) == 10 and "sure" in verdict


def test_bad_input_gets_a_sentence_that_says_what_to_do(client):
    with pytest.raises(AppError, match="Press Clear and draw again"):
        client.predict("data:image/png;base64,not-a-png", "mnist-cnn", False, api_name="/predict_drawing")
    with pytest.raises(AppError, match="Pick one in the Model list"):
        client.predict(data_url(render(DIGITS[1])), "no-such-model", False, api_name="/predict_drawing")
