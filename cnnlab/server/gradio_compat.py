"""Serving a whole lesson without slowing down: Gradio's per-session bookkeeping and the collector.

What a profile of the running app showed (issue 11.3, ``bench/soak.py``):

* Every session costs about 1,000 Python containers (530 lists, 470 dicts): Gradio's
  ``SessionState`` keeps a copy of the page's config for each of the app's ~190 blocks. A REST
  client that sends no ``session_hash`` (``/gradio_api/call/...``) gets a new session on every
  call, and Gradio keeps up to ``state_session_capacity`` (10,000) of them, plus an
  ``asyncio.Queue`` and a set per session in its queue (``pending_messages_per_session``,
  ``pending_event_ids_session``). The heap grows by ~1,000 objects a call and every
  generation-2 collection walks it all, so the stalls grow through the lesson.
* About 0.4 M objects are alive once the server has started (torch, gradio, the Blocks): every
  full collection walked them too, although they live as long as the process.

What this module does about it (``launch_kwargs()``, for ``demo.launch``):

* A session-less REST call's session (Gradio names it after the call's event id, so nobody can
  ever use it again) is dropped as soon as its result has been read.
* A sweeper on the server's event loop drops the other sessions nobody will come back to: one
  with no page open (a REST client or gradio_client naming its own session) once it has been
  idle ``api_idle_s``, and never more than ``api_sessions_max`` of them; a page that was closed
  after ``closed_page_s``. A session whose page is open (its heartbeat stream is connected) is
  never dropped, however long the student idles. ``state_session_capacity`` stays behind it as
  a last resort.
* When the server starts, ``tune_gc()`` collects and freezes the start-up heap
  (``gc.freeze()``), so later collections no longer walk it.
* A new session is cheap (``light_sessions()``): Gradio's ``SessionState`` used to build the
  config of every block when a session began (~130 ms of the server's one busy core for this
  app's ~600 blocks, on every REST call), although only the "deep link" route ever reads all
  of them. Now each is built when first needed.
* Gradio's queue recomputed its monitoring summary (a pandas table of the last 10,000 events,
  grouped, with percentiles) after every single event, so each stroke cost more the longer the
  lesson ran. ``tame_queue_analytics()`` keeps 1,000 events and summarises every 500.

Only the app process needs this; handlers and tabs are unaware of it.
"""
from __future__ import annotations

import asyncio
import contextlib
import datetime
import gc
import os
import re
from dataclasses import dataclass


@dataclass(frozen=True)
class SessionPolicy:
    api_idle_s: float = 60.0      # a named session with no page open (gradio_client) lives this long idle
    api_sessions_max: int = 100   # ... and at most this many of them are kept (the most recently used)
    closed_page_s: float = 600.0  # a closed page keeps its state this long (a laptop waking up reconnects)
    capacity: int = 2000          # Gradio's own LRU bound on all sessions (state_session_capacity)
    sweep_every_s: float = 2.0    # how often the sweeper looks


class Sessions:
    """What the server knows about its sessions beyond Gradio: which pages are open (the page
    holds ``/heartbeat/<hash>`` open while it lives; REST calls and gradio_client never do), and
    the running server (set by the lifespan) to drop finished session-less calls from."""

    HEARTBEAT = re.compile(r"/heartbeat/([^/]+)/?$")
    RESULT = re.compile(r"/call/(?:v2/)?[^/]+/([0-9a-f]{32})/?$")      # GET /call/<api>/<event_id>

    def __init__(self, policy: SessionPolicy):
        self.policy = policy
        self.open_pages: dict[str, int] = {}
        self.server = None

    def middleware(self, app):
        """Wrap an ASGI app (Starlette calls this with the app when it builds its middleware)."""
        return SessionTracker(app, self)

    def result_read(self, event_id: str) -> None:
        """A /call result stream ended: if its session was the call's own, nobody can reach it again."""
        if self.server is not None:
            drop(self.server, [event_id], self)


class SessionTracker:
    """Pure ASGI middleware: counts the heartbeat streams in flight (an open page each) and tells
    ``Sessions`` when a /call result stream has ended."""

    def __init__(self, app, sessions: Sessions):
        self.app, self.sessions = app, sessions

    async def __call__(self, scope, receive, send):
        path = scope.get("path", "") if scope.get("type") == "http" else ""
        if "/heartbeat/" in path and (match := Sessions.HEARTBEAT.search(path)):
            pages, session = self.sessions.open_pages, match.group(1)
            pages[session] = pages.get(session, 0) + 1
            try:
                return await self.app(scope, receive, send)
            finally:
                if pages.get(session, 1) > 1:
                    pages[session] -= 1
                else:
                    pages.pop(session, None)
        if "/call/" in path and scope.get("method") == "GET" and (match := Sessions.RESULT.search(path)):
            try:
                return await self.app(scope, receive, send)
            finally:
                self.sessions.result_read(match.group(1))
        return await self.app(scope, receive, send)


def drop(server, sessions: list[str], known: Sessions) -> int:
    """Forget these sessions (state, then the queue's per-session entries), except one whose page
    is open or that still has an event pending. Runs on the server's event loop, like the queue
    code that shares these dicts. Returns how many were dropped."""
    holder = server.state_holder
    queue = server.get_blocks()._queue
    pending = queue.pending_event_ids_session
    dropped = 0
    for session in sessions:
        if session in known.open_pages or pending.get(session):
            continue
        if session in holder.session_data:
            holder.delete_state(session)                # runs the State components' delete callbacks
            with holder.lock:
                holder.session_data.pop(session, None)
                holder.time_last_used.pop(session, None)
            dropped += 1
        queue.pending_messages_per_session.pop(session, None)
        pending.pop(session, None)
    return dropped


def sweep(server, known: Sessions, now: datetime.datetime | None = None) -> int:
    """Drop the sessions nobody will come back to (see the module docstring); returns how many."""
    policy, now = known.policy, now or datetime.datetime.now()
    holder = server.state_holder
    queue = server.get_blocks()._queue

    def idle_s(session: str) -> float:
        used = holder.time_last_used.get(session)
        return (now - used).total_seconds() if used else float("inf")

    old, api = [], []                                   # session_data is in order of last use
    for session, state in list(holder.session_data.items()):
        if session in known.open_pages:
            continue
        if state.is_closed:                             # its page was closed
            if idle_s(session) > policy.closed_page_s:
                old.append(session)
        elif idle_s(session) > policy.api_idle_s:       # never had a page: REST or gradio_client
            old.append(session)
        else:
            api.append(session)
    old += api[:max(0, len(api) - policy.api_sessions_max)]     # the least recently used beyond the cap
    # the queue's entries of sessions Gradio no longer holds (evicted, or never made)
    old += [s for s in list(queue.pending_messages_per_session) if s not in holder.session_data]
    old += [s for s in list(queue.pending_event_ids_session) if s not in holder.session_data]
    return drop(server, old, known)


def lifespan(known: Sessions):
    """A FastAPI lifespan: freeze the start-up heap, then sweep every ``sweep_every_s``."""

    @contextlib.asynccontextmanager
    async def run(server):
        known.server = server
        server.cnnlab_sessions = known                  # for tests and benchmarks to look at
        tame_queue_analytics(server.get_blocks()._queue)
        tune_gc()                                       # the server is built: freeze what start-up made

        async def loop():
            while True:
                await asyncio.sleep(known.policy.sweep_every_s)
                try:
                    sweep(server, known)
                except Exception as err:                # noqa: BLE001 - never take the server down
                    print(f"cnnlab: session sweep failed: {err!r}", flush=True)

        task = asyncio.create_task(loop())
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
            known.server = None

    return run


class _NoBlocks:
    """What ``SessionState.__init__`` reads of a Blocks, with no blocks to copy configs of."""

    def __init__(self, blocks):
        self.default_config, self.blocks = blocks.default_config, {}


def light_sessions() -> None:
    """Make Gradio's new sessions cheap: ``SessionState`` copies no block configs when it starts;
    its ``components`` (read by the deep-link route only) fills in the missing ones when asked.
    Everything else ``SessionState`` does is Gradio's own code, unchanged."""
    from gradio import state_holder

    base = state_holder.SessionState
    if getattr(base, "cnnlab_light", False):
        return

    class LightSessionState(base):
        cnnlab_light = True

        def __init__(self, blocks):
            super().__init__(_NoBlocks(blocks))
            self._block_ids = blocks.blocks
            self._values_later: dict = {}

        def _update_value_in_config(self, key, value):
            if key in self.config_values:
                super()._update_value_in_config(key, value)
            else:                                       # built with this value if ever asked for
                self._values_later[key] = value

        @property
        def components(self):
            for key, block in self.blocks_config.blocks.items():
                if key in self._block_ids and key not in self.config_values:
                    self.config_values[key] = self.blocks_config.config_for_block(key, [], block)
                    if key in self._values_later and "props" in self.config_values[key]:
                        self.config_values[key]["props"]["value"] = self._values_later[key]
            self._values_later.clear()
            yield from base.components.fget(self)

    state_holder.SessionState = LightSessionState


def launch_kwargs(policy: SessionPolicy | None = None) -> dict:
    """What ``demo.launch(...)`` needs for bounded sessions: ``demo.launch(..., **launch_kwargs())``."""
    from starlette.middleware import Middleware

    light_sessions()
    known = Sessions(policy or SessionPolicy())
    return dict(state_session_capacity=known.policy.capacity,
                app_kwargs={"lifespan": lifespan(known), "middleware": [Middleware(known.middleware)]})


ANALYTICS_EVENTS = 1000      # events Gradio's queue keeps for its monitoring summary (it kept 10,000)
ANALYTICS_EVERY = 500        # ... summarised every this many events (it was after every one)


def tame_queue_analytics(queue) -> None:
    """Bound the work Gradio's queue does for its monitoring page (``/monitoring``) after each
    event. Its own environment variables (GRADIO_ANALYTICS_MAX_EVENTS,
    GRADIO_ANALYTICS_CACHE_FREQUENCY) win when the teacher sets them."""
    if "GRADIO_ANALYTICS_MAX_EVENTS" not in os.environ and hasattr(queue, "ANALYTICS_MAX_EVENTS"):
        queue.ANALYTICS_MAX_EVENTS = ANALYTICS_EVENTS
    if "GRADIO_ANALYTICS_CACHE_FREQUENCY" not in os.environ and hasattr(queue, "ANAYLTICS_CACHE_FREQUENCY"):
        queue.ANAYLTICS_CACHE_FREQUENCY = ANALYTICS_EVERY      # (sic: Gradio's spelling)


def tune_gc() -> None:
    """Collect, then freeze the start-up heap (torch, gradio, the Blocks, the server: ~0.4 M
    objects that live as long as the process) so that later collections no longer walk it."""
    gc.collect()
    gc.freeze()
