"""Every Gradio internal cnnlab relies on, in one place, with a start-up check (``self_check``).

Gradio's public API is ``gradio`` (``gr.*``). What cnnlab does beyond it lives here, and only
here (``tests/test_layout.py`` checks): the per-session bookkeeping below, Gradio's locale store
in the page (reached through its hashed ``assets/core-*.js``, ``change_locale_js``) and the
``I18nData`` a ``gr.I18n`` key becomes. ``self_check()`` runs when the app is built and stops it
with one sentence if the installed Gradio is not the pinned one in these respects: an upgrade then
fails loudly at start-up instead of quietly in class.

Serving a whole lesson without slowing down: Gradio's per-session bookkeeping and the collector.

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
import copy
import datetime
import functools
import gc
import glob
import inspect
import os
import re
from dataclasses import dataclass

from gradio.i18n import I18nData

PINNED = "6.31.0"        # requirements.txt pins this Gradio: what the code below was checked against


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

    if getattr(state_holder.SessionState, "cnnlab_light", False):
        return
    state_holder.SessionState = light_session_class(state_holder.SessionState)


def light_session_class(base):
    """Gradio's ``SessionState`` (``base``), building each block's config when first needed."""

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

    return LightSessionState


SKIP = {"__type__": "update"}     # gr.skip(): an output left as it is


def quick_skips() -> None:
    """Make an output a handler leaves alone (``gr.skip()``, or a component missing from the dict
    it returns) cost nothing. Gradio 6.31 treats it as an update like any other: it builds a
    new component from the old one's arguments and stores it in the session (~2 ms of the
    server's busy core per output; 30 ms for a Train tick that changes nothing, times every phone
    twice a second), only to send the same ``{"__type__": "update"}``. Now such outputs are sent as
    that at once; the others go through Gradio's own ``postprocess_data``, unchanged."""
    from gradio.blocks import Blocks

    if getattr(Blocks.postprocess_data, "cnnlab_quick", False):
        return
    Blocks.postprocess_data = quick_skip_postprocess(Blocks.postprocess_data)


def quick_skip_postprocess(original):
    """``Blocks.postprocess_data`` (``original``) with bare skips answered without work."""
    from gradio.blocks import convert_component_dict_to_list

    @functools.wraps(original)
    async def postprocess_data(self, block_fn, predictions, state):
        outputs = list(block_fn.outputs)
        if block_fn.batch or block_fn.is_validator_function or len(outputs) < 2:
            return await original(self, block_fn, predictions, state)
        if isinstance(predictions, dict) and predictions == SKIP:
            predictions = [dict(SKIP) for _ in outputs]
        elif isinstance(predictions, dict) and predictions:
            predictions = convert_component_dict_to_list(outputs, predictions)
        if not isinstance(predictions, (list, tuple)) or len(predictions) != len(outputs):
            return await original(self, block_fn, predictions, state)   # Gradio says what is wrong
        skipped = [isinstance(p, dict) and p == SKIP and not b.stateful for p, b in zip(predictions, outputs)]
        if not any(skipped):
            return await original(self, block_fn, predictions, state)
        kept = [i for i, s in enumerate(skipped) if not s]
        done = []
        if kept:
            rest = copy.copy(block_fn)
            rest.outputs = [outputs[i] for i in kept]
            sent = [predictions[i] for i in kept]     # Gradio takes a single output's value bare
            done = await original(self, rest, sent if len(kept) > 1 else sent[0], state)
        answer = [dict(SKIP) for _ in outputs]
        for i, value in zip(kept, done):
            answer[i] = value
        return answer

    postprocess_data.cnnlab_quick = True
    return postprocess_data


def launch_kwargs(policy: SessionPolicy | None = None) -> dict:
    """What ``demo.launch(...)`` needs for bounded sessions: ``demo.launch(..., **launch_kwargs())``."""
    from starlette.middleware import Middleware

    light_sessions()
    quick_skips()
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


# ----------------------------------------------------------------------------- the page's locale
def change_locale_js(locale: str) -> str:
    """A JS statement (in an async function) that switches Gradio's locale store to ``locale`` (a
    JS expression). Gradio itself only follows navigator.language; its store is reached through
    its own hashed module, already loaded, so importing it again hands back the same instance."""
    return ("const core = performance.getEntriesByType('resource').map(e => e.name)\n"
            "      .find(n => /\\/assets\\/core-[^/]*\\.js$/.test(n));\n"
            "    if (core) { try { (await import(core)).changeLocale(" + locale + "); }"
            " catch (e) { console.warn(e); } }")


def is_i18n(value) -> bool:
    """Whether a component's text is a ``gr.I18n`` key (translated in the browser)."""
    return isinstance(value, I18nData)


# ----------------------------------------------------------------------------- the start-up check
class GradioChanged(RuntimeError):
    """The installed Gradio does not behave as the pinned one where cnnlab relies on its internals."""


def _problems() -> list[str]:
    """What differs from the pinned Gradio, in a few words each (empty: nothing)."""
    import gradio as gr
    from gradio import queueing, routes, state_holder

    problems = []

    def need(ok, what: str) -> None:
        try:
            good = ok()
        except Exception:                               # noqa: BLE001 - any failure is a difference
            good = False
        if not good:
            problems.append(what)

    launch = inspect.signature(gr.Blocks.launch).parameters
    need(lambda: {"state_session_capacity", "app_kwargs", "i18n", "head"} <= set(launch),
         "launch() lacks state_session_capacity, app_kwargs, i18n or head")
    need(lambda: "SessionState(self.blocks)" in inspect.getsource(state_holder.StateHolder.__getitem__),
         "StateHolder no longer makes sessions with SessionState(blocks)")
    holder = state_holder.StateHolder()
    need(lambda: all(hasattr(holder, a) for a in ("session_data", "time_last_used", "lock"))
         and callable(holder.delete_state), "StateHolder's session_data, time_last_used, lock or delete_state")
    queue_init = inspect.getsource(queueing.Queue.__init__)
    need(lambda: all(f"self.{a}" in queue_init for a in ("pending_messages_per_session", "pending_event_ids_session",
                                                        "ANALYTICS_MAX_EVENTS", "ANAYLTICS_CACHE_FREQUENCY")),
         "the queue's per-session fields or its analytics settings")
    need(lambda: callable(routes.App.get_blocks) and "self.state_holder" in inspect.getsource(routes.App.__init__),
         "the server's state_holder or get_blocks()")
    need(_light_sessions_work, "SessionState's config bookkeeping (the light sessions)")
    need(_quick_skips_work, "Blocks.postprocess_data's answer for skipped outputs (the quick skips)")
    need(lambda: is_i18n(gr.I18n()("language.name")) and gr.I18n()("language.name").key == "language.name",
         "gr.I18n keys are no longer I18nData")
    frontend = os.path.join(os.path.dirname(gr.__file__), "templates", "frontend", "assets", "core-*.js")
    cores = glob.glob(frontend)
    need(lambda: len(cores) == 1 and "changeLocale" in open(cores[0], encoding="utf-8").read(),
         "the page's assets/core-*.js with changeLocale")
    return problems


def _light_sessions_work() -> bool:
    """A real session of a one-textbox app: nothing built at first, a value kept for later, the
    block's config (with that value) built when ``components`` is read."""
    import gradio as gr

    base = gradio_session_state()
    with gr.Blocks(analytics_enabled=False) as probe:
        box = gr.Textbox("before")
    session = light_session_class(base)(probe)
    if session.config_values or session.is_closed:
        return False
    session._update_value_in_config(box._id, "after")
    shown = [c for c in session.components if c.get("id") == box._id]
    return len(shown) == 1 and shown[0]["props"]["value"] == "after"


def _quick_skips_work() -> bool:
    """Gradio's ``postprocess_data`` and the quick one answer alike on a probe of three outputs:
    all skipped, some skipped (list and dict), none skipped."""
    import concurrent.futures

    import gradio as gr
    from gradio.blocks import Blocks

    original = getattr(Blocks.postprocess_data, "__wrapped__", Blocks.postprocess_data)
    quick = quick_skip_postprocess(original)
    with gr.Blocks(analytics_enabled=False) as probe:
        a, b, kept = gr.Textbox("a"), gr.Markdown("b"), gr.State({})
        a.submit(lambda x: x, a, [a, b, kept])
    block_fn = next(iter(probe.fns.values()))
    cases = [gr.skip(), [gr.skip(), "new", {"n": 1}], {b: "new"}, {a: gr.skip(), kept: {"n": 2}}, ["x", "y", {}]]

    async def both():
        return [(await original(probe, block_fn, case, None), await quick(probe, block_fn, case, None))
                for case in cases]

    with concurrent.futures.ThreadPoolExecutor(1) as pool:      # a loop of its own, whoever calls
        answers = pool.submit(asyncio.run, both()).result()
    return all(theirs == ours for theirs, ours in answers)


def gradio_session_state():
    """Gradio's own ``SessionState`` class, whether or not ``light_sessions`` has replaced it."""
    from gradio import state_holder

    base = state_holder.SessionState
    return base.__mro__[1] if getattr(base, "cnnlab_light", False) else base


@functools.cache
def self_check() -> None:
    """Raise ``GradioChanged`` (one sentence) unless the installed Gradio behaves as the pinned
    one wherever this module relies on its internals. Runs once per process, at start-up."""
    import gradio as gr

    problems = _problems()
    if problems:
        raise GradioChanged(f"cnnlab needs Gradio {PINNED} (requirements.txt), but the installed Gradio "
                            f"{gr.__version__} differs where cnnlab relies on its internals ({'; '.join(problems)}): "
                            f"install the pinned version with pip install -r requirements.txt.")
