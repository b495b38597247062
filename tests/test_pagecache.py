"""Gradio's page made once per address (cnnlab/server/pagecache.py): the same bytes as Gradio makes
them, a 304 for a browser that has them, and each address its own page."""
from __future__ import annotations

import httpx
import pytest

from cnnlab.server.pagecache import PageCache


def page_cache(demo) -> PageCache:
    """The app's PageCache among its ASGI middleware (Starlette builds the stack on first use)."""
    layer = demo.server_app.middleware_stack if hasattr(demo, "server_app") else demo.app.middleware_stack
    while layer is not None and not isinstance(layer, PageCache):
        layer = getattr(layer, "app", None)
    if layer is None:
        pytest.fail("the app has no PageCache")
    return layer


def test_the_page_is_made_once_and_is_what_gradio_makes(app_server):
    demo, url = app_server
    cache = page_cache(demo)
    with httpx.Client(headers={"Accept-Encoding": "gzip"}) as client:
        first = client.get(url)
        served = cache.served
        again = client.get(url)
        assert again.status_code == 200 and cache.served == served + 1
        assert again.content == first.content and again.headers["content-encoding"] == "gzip"
        cache._pages.clear()                                  # Gradio makes it once more: the same page
        assert client.get(url).content == first.content
        # A browser that has the page gets a 304; another address gets its own page.
        assert client.get(url, headers={"If-None-Match": again.headers["etag"]}).status_code == 304
        other = client.get(url + "?tab=train")
        assert other.status_code == 200 and "cnnlab" in other.text
    with httpx.Client(headers={"Accept-Encoding": "identity"}) as plain:
        raw = plain.get(url)
        assert "content-encoding" not in raw.headers and raw.text == first.text


def test_only_the_page_is_kept(app_server):
    demo, url = app_server
    cache = page_cache(demo)
    httpx.get(url)
    before = len(cache._pages)
    httpx.get(url + "config")
    httpx.get(url + "cnnlab/web/draw.js")
    assert len(cache._pages) == before                   # neither the config nor a script is kept
