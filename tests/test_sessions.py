"""A lesson does not slow down: the server forgets the sessions nobody can come back to
(issue 11.3; cnnlab.server.gradio_compat). Without it every REST call left ~1,000 objects behind for good,
and the collector's pauses grew through the lesson (bench/soak.py measures those)."""
from __future__ import annotations

import io
import json
import socket
import time
from urllib.parse import urlparse

import gradio as gr
import httpx
import pytest
from PIL import Image


def png() -> bytes:
    image = Image.new("L", (280, 280), 255)
    image.paste(0, (120, 40, 160, 240))                      # a "1"
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def call(http: httpx.Client, url: str, api: str, data: list, session: str | None = None) -> str:
    body = {"data": data} | ({"session_hash": session} if session else {})
    r = http.post(f"{url}/gradio_api/call/{api}", json=body)
    r.raise_for_status()
    event = None
    with http.stream("GET", f"{url}/gradio_api/call/{api}/{r.json()['event_id']}") as stream:
        for line in stream.iter_lines():
            if line.startswith("event:"):
                event = line.split(":", 1)[1].strip()
            elif line.startswith("data:") and event in ("complete", "error"):
                assert event == "complete", line
                return line[5:].strip()
    raise AssertionError(f"{api}: no answer")


def added(http: httpx.Client, url: str, session: str) -> int:
    """The counter app's /add in ``session``: the count after adding one."""
    return json.loads(call(http, url, "add", [], session=session))[-1]


def wait_until(condition, timeout: float = 30.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return condition()


def test_rest_calls_leave_no_sessions_behind(app_server):
    """Sixty drawings sent the way any REST client sends them (upload, /call/predict_digit, no
    session) leave the server holding no more sessions than before."""
    demo, url = app_server
    url = url.rstrip("/")
    queue = demo._queue
    sessions_before = len(demo.state_holder.session_data)
    queued_before = len(queue.pending_messages_per_session)
    with httpx.Client(timeout=60) as http:
        for _ in range(60):
            r = http.post(f"{url}/gradio_api/upload", files={"files": ("sketch.png", png(), "image/png")})
            r.raise_for_status()
            sketch = {"background": None, "layers": [], "id": None,
                      "composite": {"path": r.json()[0], "meta": {"_type": "gradio.FileData"}}}
            assert "sure" in call(http, url, "predict_digit", [sketch, "mnist-cnn", False])
    assert wait_until(lambda: len(demo.state_holder.session_data) <= sessions_before + 2, timeout=10), \
        f"{len(demo.state_holder.session_data) - sessions_before} sessions kept after 60 session-less calls"
    assert len(queue.pending_messages_per_session) <= queued_before + 2
    assert len(queue.pending_event_ids_session) <= queued_before + 2


class Heartbeat:
    """What an open page holds: the /heartbeat/<session> stream (closed = the page was closed)."""

    def __init__(self, url: str, session: str):
        u = urlparse(url)
        self.sock = socket.create_connection((u.hostname, u.port), timeout=30)
        self.sock.sendall(f"GET /gradio_api/heartbeat/{session} HTTP/1.1\r\nHost: {u.netloc}\r\n\r\n".encode())
        assert self.sock.recv(4096).startswith(b"HTTP/1.1 200")

    def close(self):
        self.sock.close()


@pytest.fixture()
def counter_app():
    """A small app with one gr.State (a counter), served with a short session policy."""
    from cnnlab.server import gradio_compat
    with gr.Blocks(analytics_enabled=False) as demo:
        count = gr.State(0)
        shown = gr.Number()
        gr.Button("+1").click(lambda n: (n + 1, n + 1), count, [count, shown], api_name="add")
    demo.queue()
    policy = gradio_compat.SessionPolicy(api_idle_s=1.0, api_sessions_max=3, closed_page_s=1.0, sweep_every_s=0.1)
    _, url, _ = demo.launch(prevent_thread_lock=True, quiet=True, server_port=None,
                            **gradio_compat.launch_kwargs(policy))
    yield demo, url.rstrip("/")
    demo.close()


@pytest.mark.slow
def test_an_open_page_keeps_its_state_and_an_idle_api_session_does_not(counter_app):
    demo, url = counter_app
    sessions = demo.state_holder.session_data
    page = Heartbeat(url, "page-1")
    try:
        with httpx.Client(timeout=60) as http:
            assert added(http, url, "page-1") == 1
            assert added(http, url, "client-1") == 1
            assert wait_until(lambda: "client-1" not in sessions), "an idle API session was kept"
            assert "page-1" in sessions                       # idle just as long, but its page is open
            assert added(http, url, "page-1") == 2
            assert added(http, url, "client-1") == 1      # started afresh
    finally:
        page.close()
    assert wait_until(lambda: "page-1" not in sessions), "a closed page's state was kept"


def test_api_sessions_are_capped(counter_app):
    """However fast REST clients invent sessions, no more than api_sessions_max are kept."""
    demo, url = counter_app
    with httpx.Client(timeout=60) as http:
        for i in range(12):
            call(http, url, "add", [], session=f"client-{i}")
        assert wait_until(lambda: len(demo.state_holder.session_data) <= 3, timeout=10)
        for _ in range(12):
            call(http, url, "add", [])                         # no session at all: none kept
    assert wait_until(lambda: len(demo.state_holder.session_data) <= 3, timeout=10)
    assert len(demo._queue.pending_messages_per_session) <= 3


def test_a_new_session_builds_no_block_configs_yet_a_deep_link_sees_the_values(counter_app):
    """A session starts without copying every block's config (issue 11.3: that was most of a REST
    call's cost), and Gradio's deep-link route still sees the whole page with this session's values."""
    demo, url = counter_app
    with httpx.Client(timeout=60) as http:
        assert added(http, url, "page-2") == 1
        state = demo.state_holder.session_data["page-2"]
        assert len(state.config_values) < len(demo.blocks)               # only what the event touched
        r = http.get(f"{url}/gradio_api/deep_link", params={"session_hash": "page-2"})
        r.raise_for_status()
        assert len(state.config_values) >= len(demo.blocks) - 1          # the whole page, when asked
        numbers = [c for c in state.components if c.get("type") == "number"]
        assert numbers and numbers[0]["props"]["value"] == 1


def test_the_queue_summarises_its_monitoring_figures_now_and_then(counter_app):
    """Gradio's queue summarised its last 10,000 events with pandas after every event; the lesson
    got slower as they piled up. Now it keeps fewer and summarises every few hundred."""
    from cnnlab.server import gradio_compat
    demo, _ = counter_app
    queue = demo._queue
    assert queue.ANALYTICS_MAX_EVENTS == gradio_compat.ANALYTICS_EVENTS
    assert queue.ANAYLTICS_CACHE_FREQUENCY == gradio_compat.ANALYTICS_EVERY
