"""Shared fixtures: offline environment, one launched app per test session, a gradio_client,
and a headless system Chromium driven by Playwright."""
from __future__ import annotations

import os
import sys
from contextlib import contextmanager
from pathlib import Path

# Offline before anything imports gradio or huggingface_hub (see ../shared/GRADIO_NOTES.md §8).
os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"
os.environ["HF_HUB_DISABLE_TELEMETRY"] = "1"
os.environ["HF_HUB_OFFLINE"] = "1"
ROOT = Path(__file__).resolve().parents[1]
os.environ.setdefault("CNNLAB_DATA", str(ROOT.parent / "shared" / "data"))
sys.path.insert(0, str(ROOT))

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
                 # a synthetic camera (a moving test pattern), allowed without asking: the webcam tests
                 "--use-fake-device-for-media-stream", "--use-fake-ui-for-media-stream"]


def ensure_data() -> Path:
    """$CNNLAB_DATA, with MNIST and Fashion-MNIST in it: fetched there once through torchvision
    when missing; offline and without them, the session ends with one sentence."""
    from testdata import DataUnavailable, ensure_downloadable_sets
    root = Path(os.environ["CNNLAB_DATA"]).expanduser()
    try:
        ensure_downloadable_sets(root)
    except DataUnavailable as err:
        pytest.exit(str(err), returncode=pytest.ExitCode.USAGE_ERROR)
    return root


@pytest.hookimpl(tryfirst=True)
def pytest_configure(config):
    """The tests run in two processes (pytest.ini: -n 2), so the data is made sure of here, once,
    before they start: two processes would download it at once. Where it cannot be had, the
    session runs in this one process instead, and its first test that needs the data ends it
    with the sentence (an exit in a worker process would end it with a traceback)."""
    from testdata import DataUnavailable, ensure_downloadable_sets
    if hasattr(config, "workerinput") or not getattr(config.option, "numprocesses", None):
        return
    try:
        ensure_downloadable_sets(Path(os.environ["CNNLAB_DATA"]).expanduser())
    except DataUnavailable:
        config.option.numprocesses, config.option.dist = 0, "no"


@pytest.fixture(scope="session")
def data_root() -> Path:
    return ensure_data()


@pytest.fixture(scope="session")
def flowers_root(data_root) -> Path:
    """The data root, for tests that need the flowers5 photos (skipped, saying why, without them)."""
    from testdata import flowers_missing
    reason = flowers_missing(data_root)
    if reason:
        pytest.skip(reason)
    return data_root


@contextmanager
def served(config):
    """The real app of ``config`` (an AppConfig), launched as app.py launches it, on a free
    loopback port: (demo, url), closed on leaving."""
    import app
    demo = app.build_demo(config)
    demo.queue(default_concurrency_limit=4, max_size=256)
    kwargs = app.launch_kwargs(config, demo)
    kwargs.update(server_port=None, prevent_thread_lock=True, quiet=True)
    _, url, _ = demo.launch(**kwargs)
    try:
        yield demo, url
    finally:
        demo.close()


@pytest.fixture(scope="session")
def app_server(tmp_path_factory, data_root):
    """The real app, launched once on a free loopback port: (demo, url)."""
    from cnnlab.config import AppConfig
    config = AppConfig(data_dir=str(data_root), checkpoint_dir=str(ROOT / "checkpoints"),
                       runs_dir=str(tmp_path_factory.mktemp("runs")))
    with served(config) as launched:
        yield launched


@pytest.fixture(scope="session")
def _one_client(app_server):
    from gradio_client import Client
    c = Client(app_server[1], verbose=False)
    yield c
    c.close()


@pytest.fixture()
def client(_one_client):
    """A gradio_client on the app, as a new visitor: a fresh session (its own state) on one client
    (a new Client reads the whole 9-tab config and takes a second to close)."""
    _one_client.reset_session()
    yield _one_client


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium")
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture()
def page(browser, app_server):
    """A fresh page on the app, desktop-sized."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-US")
    pg = context.new_page()
    pg.goto(app_server[1])
    yield pg
    context.close()


@pytest.fixture()
def one_thread():
    """One intra-op thread: two threads fight other processes on a busy 2-core machine."""
    import torch
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture()
def idle_job(app_server):
    """The app's shared job, idle before and after the test (the server is shared by all tests)."""
    job = app_server[0].ctx.job
    job.stop()
    assert job.wait(600)
    yield job
    job.stop()
    assert job.wait(600)


def server_requests(page) -> list[str]:
    """The URLs the page asks of the server from now on, except Gradio's own code chunks
    (``/assets/``), which a browser fetches once, when a component first shows, whatever the
    student does. A request per stroke (an answer, an upload, weights) is listed."""
    sent: list[str] = []
    page.on("request", lambda r: None if "/assets/" in r.url else sent.append(r.url))
    return sent


def open_tab(page, name: str) -> None:
    """Open the tab called ``name``; on a narrow screen Gradio moves some tabs into its overflow
    menu (the "..." button), where a student would look for them."""
    page.wait_for_selector("[role=tab]")
    tab = page.get_by_role("tab", name=name, exact=True)
    if tab.count() and tab.first.is_visible():
        tab.first.click()
        return
    page.locator(".overflow-menu button").first.click()
    page.locator(".overflow-dropdown").get_by_text(name, exact=True).click()


# ----------------------------------------------------------------------------- the quick tier
# `pytest -m quick` (README): what a developer runs after every edit, in under 3 minutes on a
# 2-core machine. A test is quick unless it drives a browser, is marked slow or long (more than a
# few seconds: real training, whole test splits, subprocesses), or needs a running app (the
# shared server, or a file of app tests that launches its own).
NOT_QUICK_FIXTURES = {"app_server", "client", "page", "browser", "idle_job"}


def pytest_collection_modifyitems(config, items):
    for item in items:
        if any(item.get_closest_marker(m) for m in ("browser", "slow", "long")):
            continue
        if NOT_QUICK_FIXTURES & set(item.fixturenames) or item.path.stem.endswith(("_app", "_browser")):
            continue
        item.add_marker(pytest.mark.quick)
