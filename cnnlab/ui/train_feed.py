"""The Train tab's pages follow the shared run with one long poll each, not a request a second.

``GET /cnnlab/train/feed?since=V`` answers at once when the run's version is not V (a page that
just opened sends -1), else as soon as it changes, else after ``LONG_POLL_S`` with the same
version. The answer is JSON, encoded once per version and language and shared by every page:

- what changes while a run goes (the status, the three plots' values as Gradio sends them, the 16
  guesses), taken from the same shared ``View`` the Gradio refresh sends;
- ``server``: a key of what only the Gradio refresh draws (a new run or mode, the buttons, the
  results and their pictures, the download, the steering).

The page (web/train_feed.js, the body of a hidden ``gr.HTML``) sets the first part itself with a
browser-only event, and asks Gradio's refresh (one POST, outside the queue) only when ``server``
changed: a few times a run instead of once a second for every phone. Through Gradio a tick cost
the laptop several milliseconds; an answer here is bytes already made.
"""
from __future__ import annotations

import gzip
import json
import time
from collections.abc import Callable

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from ..core.cache import LRU
from ..server.lead import LONG_POLL_S, NO_STORE, PREFIX, number_param, reader_language
from ..server.web import GZIP_LEVEL
from .train_views import SharedViews

FEED_PATH = PREFIX + "/train/feed"
# When a run starts or ends, every page asks for Gradio's refresh (a full render of the tab, ~15 ms
# of the laptop each, twice with the compared runs): each waits a random part of ``spread_s`` first,
# so the pages are served over those seconds instead of queueing behind each other in one instant.
# It grows with the pages that follow the run (none for a page alone): 120 phones spread over 8 s
# took 2-4 s to answer (the laptop also finishes the run then), over 40 s 45 ms
# (bench/class_load.py, 3 minutes each). The page that pressed the button is refreshed at once
# (train.py), the teacher's (the key typed in) after a tick (train_feed.js); every page's status,
# with the test accuracy, comes through the feed at once.
REFRESH_PER_PAGE_S = 0.2    # seconds of spread per page following, besides the first
REFRESH_MOST_S = 60.0       # ... at most (page ids are made up by the pages: a flood of them changes no more)
REFRESH_SPREAD_S = 8.0      # the page's own, when an answer says none (an older server)
PAGE_GONE_S = 60.0          # a page that has not asked for this long has left
PAGES_KEPT = 5000           # page ids remembered at most (an id is what the page makes up: bounded here)
KEPT = 8                    # encoded answers kept: the current version in every language, and a few before


class TrainFeed:
    """The feed of one app's shared run (``job``), drawn by the Train tab's ``views``;
    ``server_key(snap)``: what only the Gradio refresh draws, as text (the page compares it)."""

    def __init__(self, job, views: SharedViews, server_key: Callable):
        self.job, self.views, self.server_key = job, views, server_key
        self._said: LRU[tuple[bytes, bytes]] = LRU(KEPT)     # (version, run, language) -> (JSON, gzipped)
        self._pages: LRU[float] = LRU(PAGES_KEPT)            # page id -> when it last asked

    def following(self) -> int:
        """How many pages asked within the last ``PAGE_GONE_S`` (each sends an id it made up)."""
        gone = time.monotonic() - PAGE_GONE_S
        return sum(seen > gone for seen in self._pages.values())

    def spread_s(self) -> float:
        """Over how many seconds the pages spread their refresh when a run starts or ends."""
        return round(min(REFRESH_PER_PAGE_S * max(0, self.following() - 1), REFRESH_MOST_S), 1)

    def answer(self, snap, lang: str) -> bytes:
        """The JSON for ``snap`` in ``lang``, made once for all pages."""
        return self._made(snap, lang)[0]

    @staticmethod
    def _key(snap, lang: str) -> tuple:
        return snap.version, snap.run_id, lang

    def _made(self, snap, lang: str) -> tuple[bytes, bytes]:
        """(JSON, the same gzipped): when a run changes, every waiting page is answered at once,
        so each answer is compressed once here rather than once per page on the event loop."""
        return self._said.get_or_make(self._key(snap, lang), lambda: self._encode(snap, lang))

    def _encode(self, snap, lang: str) -> tuple[bytes, bytes]:
        view = self.views.get(snap, lang)
        raw = json.dumps({"version": snap.version, "server": self.server_key(snap),
                          "spread_s": self.spread_s(),
                          "status": view.status, "loss": view.payloads["loss"],
                          "accuracy": view.payloads["accuracy"], "race": view.payloads["race"],
                          "grid": view.grid}, ensure_ascii=False, allow_nan=False).encode()
        return raw, gzip.compress(raw, compresslevel=GZIP_LEVEL)

    async def poll(self, request: Request) -> Response:
        q = request.query_params
        since = int(number_param(q.get("since"), -1))
        page = q.get("page", "")
        if 0 < len(page) <= 32 and page.isalnum():
            self._pages.put(page, time.monotonic())
        wait = max(0.0, min(number_param(q.get("wait"), LONG_POLL_S), LONG_POLL_S))
        start = time.perf_counter()
        await self.job.wait_for_change(since, wait)
        waited = time.perf_counter() - start
        snap, lang = self.job.state(), reader_language(request)
        # A new version is drawn in a worker thread (pandas, the grid's HTML): never on the event
        # loop; the pages woken with it find its bytes made.
        raw, packed = self._said.get(self._key(snap, lang)) or await run_in_threadpool(self._made, snap, lang)
        # Server-Timing: how long the poll waited for a change (bench/class_load.py tells the
        # waiting, which is the design, from the serving, which is the laptop's load).
        headers = {**NO_STORE, "Server-Timing": f"wait;dur={waited * 1000:.1f}", "Vary": "Accept-Encoding"}
        if "gzip" in request.headers.get("accept-encoding", ""):
            return Response(packed, media_type="application/json", headers={**headers, "Content-Encoding": "gzip"})
        return Response(raw, media_type="application/json", headers=headers)

    def routes(self) -> list[Route]:
        return [Route(FEED_PATH, self.poll, methods=["GET"])]
