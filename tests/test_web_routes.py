"""What a phone fetches beside Gradio's page (cnnlab.server.web): the engine's files and a model's
weights, each sent once and then answered with 304 while unchanged; the page compressed."""
from __future__ import annotations

import gzip

import httpx
import pytest

from cnnlab.core.nets import webexport

GZIP = {"Accept-Encoding": "gzip, deflate"}        # what Chromium asks for over plain http


@pytest.fixture(scope="module")
def url(app_server):
    return app_server[1]


def test_the_engine_files_are_served_as_modules_and_revalidated(url):
    r = httpx.get(f"{url}cnnlab/web/engine/model.js", headers=GZIP)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/javascript")
    assert "export function" in r.text
    again = httpx.get(f"{url}cnnlab/web/engine/model.js", headers={"If-None-Match": r.headers["etag"]})
    assert again.status_code == 304 and not again.content


@pytest.mark.parametrize("path", ["engine/../../../app.py", "../core/checkpoints.py", "engine/nothing.js"])
def test_nothing_outside_the_web_folder_is_served(url, path):
    assert httpx.get(f"{url}cnnlab/web/{path}").status_code == 404


def test_the_shipped_cnn_travels_once_and_small(url):
    r = httpx.get(f"{url}cnnlab/weights/mnist-cnn", headers=GZIP)
    assert r.status_code == 200
    header, _ = webexport.unpack(r.content)
    assert header["classes"] == [str(d) for d in range(10)]
    assert r.num_bytes_downloaded <= 150_000, f"{r.num_bytes_downloaded} bytes on the wire"
    again = httpx.get(f"{url}cnnlab/weights/mnist-cnn", headers={"If-None-Match": r.headers["etag"], **GZIP})
    assert again.status_code == 304


def test_a_model_the_browser_cannot_run_or_does_not_exist_gets_a_sentence(url):
    r = httpx.get(f"{url}cnnlab/weights/no-such-model?lang=zh")
    assert r.status_code == 404 and "no-such-model" in r.text and "模型" in r.text
    r = httpx.get(f"{url}cnnlab/weights/flowers5-transfer")
    assert r.status_code == 422 and r.text


def test_the_page_itself_goes_out_compressed(url):
    r = httpx.get(url, headers=GZIP)
    assert r.status_code == 200 and r.headers.get("content-encoding") == "gzip"
    assert r.num_bytes_downloaded < len(r.content) / 3
    raw = httpx.get(url, headers={"Accept-Encoding": "identity"})
    assert raw.headers.get("content-encoding") is None and gzip.compress(raw.content)
