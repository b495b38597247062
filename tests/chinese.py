"""A gradio_client that asks the app the way a browser set to Chinese does (Accept-Language)."""
from __future__ import annotations

import contextlib

ZH_BROWSER = {"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.8"}


@contextlib.contextmanager
def chinese_client(url: str):
    from gradio_client import Client
    client = Client(url, verbose=False, headers=ZH_BROWSER)
    try:
        yield client
    finally:
        client.close()
