"""The Playground's two server calls, over HTTP as the page makes them (Gradio's component server
functions of cnnlab.ui.playground.PlayPage): the PyTorch code of the browser's settings, and the
GIF of a run from the frames the page sends once. Everything else runs in the browser."""
from __future__ import annotations

import base64
import io

import httpx
import pytest
from PIL import Image

from cnnlab.lessons import playground as pg


@pytest.fixture(scope="module")
def call(app_server):
    demo, url = app_server
    page = next(b for b in demo.blocks.values() if getattr(b, "elem_id", None) == "pg-page")

    def post(fn: str, payload, headers=None):
        r = httpx.post(url.rstrip("/") + "/gradio_api/component_server",
                       json={"data": payload, "component_id": page._id, "fn_name": fn, "session_hash": "pgtest"},
                       headers=headers or {}, timeout=60)
        assert r.status_code == 200, r.text
        return r.json()
    return post


def test_the_code_of_the_browsers_settings(call):
    s = {**pg.PRESETS["classification"].to_dict(), "features": ["x1", "x2"], "hidden": [10]}
    out = call("playground_code", {"settings": s, "steps": 100, "lang": "en"})
    assert out["code"] == pg.code_for(pg.PRESETS["classification"], 100)
    own = call("playground_code", {"settings": {"dataset": "own-curve", "own": [[0, 0], [1, 1]]}, "steps": 100})
    assert "POINTS = [(0.0, 0.0)" in own["code"]


def test_settings_out_of_range_get_a_sentence_in_the_readers_language(call):
    out = call("playground_code", {"settings": {"dataset": "curve", "lr": 100}, "lang": "en"})
    assert out == {"error": "The learning rate must be between 1e-05 and 10 (got 100)."}
    out = call("playground_code", {"settings": {"dataset": "curve", "lr": 100}, "lang": "zh"})
    assert out["error"].startswith("学习率必须在")
    assert "error" in call("playground_code", "not settings")
    assert "error" in call("playground_code", {"settings": {"hidden": [16] * 7}})


def test_the_gif_of_the_frames_the_page_sends(call):
    def frame(c):
        b = io.BytesIO()
        Image.new("RGB", (320, 348), (c, 80, 160)).save(b, format="PNG")
        return "data:image/png;base64," + base64.b64encode(b.getvalue()).decode()
    out = call("playground_gif", {"frames": [frame(10 * i) for i in range(8)], "lang": "en"})
    gif = Image.open(io.BytesIO(base64.b64decode(out["gif"].split(",", 1)[1])))
    assert gif.format == "GIF" and gif.n_frames == 8
    out = call("playground_gif", {"frames": [frame(0)] * 61, "lang": "zh"})
    assert "60" in out["error"]
    assert "error" in call("playground_gif", {"frames": [frame(0)]})
