"""The Train tab in a real browser: click Train, watch the loss curve grow, click Stop, and the
Train button comes back."""
from __future__ import annotations

import math
import re
import time

import httpx
import pytest
from conftest import ROOT, open_tab, served, server_requests
from playwright.sync_api import expect
from rungate import RunGate

from cnnlab.config import TrainConfig

pytestmark = pytest.mark.browser

LINE_LENGTH = """() => [...document.querySelectorAll('#train-loss path[aria-roledescription="line mark"]')]
                       .reduce((n, p) => n + (p.getAttribute('d') || '').length, 0)"""


def wait_for(predicate, timeout=120.0):
    end = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < end, "timed out"
        time.sleep(0.05)


def test_train_shows_a_growing_curve_and_stop_brings_train_back(page, idle_job):
    defaults = TrainConfig()
    size = 10_000                                              # a shorter epoch: quick to watch and stop
    last = math.ceil(size / defaults.batch_size) * defaults.epochs
    open_tab(page, "Train")
    train, stop = page.locator("#train-start"), page.locator("#train-stop")
    expect(train).to_be_enabled(timeout=60_000)
    expect(stop).to_be_disabled()
    page.locator("#train-size input").fill(str(size))
    page.keyboard.press("Enter")
    # Held before batches 2-4 long enough that each adds a point, before batch 5 while we look, and
    # before the last batch until Stop has arrived: the run cannot end on its own during the test.
    with RunGate(idle_job, hold=[2, 3, 4, 5, last]) as gate:
        train.click()
        expect(page.locator("#train-notice")).to_contain_text("started", timeout=15_000)
        expect(train).to_be_disabled(timeout=10_000)
        expect(stop).to_be_enabled()
        gate.release_pointwise(3, defaults.event_every_s)
        gate.wait_held()
        status = page.locator("#train-status")
        expect(status).to_contain_text(re.compile(r"step 4/"), timeout=120_000)
        page.wait_for_function(f"({LINE_LENGTH})() > 0", timeout=30_000)
        first = page.evaluate(LINE_LENGTH)
        first_status = status.inner_text()
        asked = server_requests(page)
        gate.release(held_at_least_s=defaults.event_every_s + 0.05)   # batch 5 adds a point
        page.wait_for_function(f"({LINE_LENGTH})() > {first}", timeout=600_000)    # the curve grew
        expect(status).not_to_have_text(first_status, timeout=120_000)
        # ... heard through the page's long poll alone: no Gradio request while the run goes on
        assert asked and not [u for u in asked if "/gradio_api/" in u], asked
        assert all("/cnnlab/train/feed" in u for u in asked), asked
        grid = page.locator("#train-grid figure")
        expect(grid).to_have_count(16)
        stop.click()
        wait_for(lambda: idle_job.state().state != "running")  # the server has the Stop
        gate.release()
        # "Stopped training ...: measuring and saving", then (t-SNE snapshot and all) "Stopped after N steps"
        expect(status).to_contain_text(re.compile(r"Stopped after \d"), timeout=600_000)
    expect(train).to_be_enabled(timeout=60_000)
    expect(stop).to_be_disabled()
    expect(page.locator("#train-results")).to_contain_text("Test accuracy")
    expect(page.locator("#train-confusion img")).to_be_visible(timeout=10_000)
    expect(page.locator("#train-download")).to_be_visible()


KEY = "heron-3"


@pytest.fixture(scope="module")
def keyed_url(tmp_path_factory, data_root):
    """The app as a teacher starts it on the school network: with a teacher key."""
    from cnnlab.config import AppConfig
    config = AppConfig(data_dir=str(data_root), checkpoint_dir=str(ROOT / "checkpoints"),
                       runs_dir=str(tmp_path_factory.mktemp("keyed-runs")), teacher_key=KEY, tabs="train")
    with served(config) as (_, url):
        yield url


def test_at_a_runs_end_the_teachers_page_is_drawn_at_once_and_the_class_spreads(browser, keyed_url):
    pages = []
    for width in (1280, 390):                                  # the teacher's laptop, a student's phone
        context = browser.new_context(viewport={"width": width, "height": 900}, locale="en-US")
        pages.append(context.new_page())
        pages[-1].goto(keyed_url)
        open_tab(pages[-1], "Train")
        expect(pages[-1].locator("#train-start")).to_be_enabled(timeout=60_000)
    teacher, student = pages
    # A class of 300 phones follows the run (made-up pages): the server spreads their refreshes
    # over its longest spread, and every page here waits 99% of it (Math.random, after the load).
    for k in range(300):
        httpx.get(f"{keyed_url}cnnlab/train/feed", params={"since": -1, "wait": 0, "page": f"phone{k}"}, timeout=30)
    for p in pages:
        p.evaluate("Math.random = () => 0.99")
    teacher.locator("#train-key input").fill(KEY)
    teacher.locator("#train-size input").fill("1000")
    teacher.keyboard.press("Enter")
    teacher.locator("#train-start").click()
    # The run ends on its own: the teacher's page (the key typed in) asks for its refresh at once
    # (within the run's few seconds and its end: well before the class's 59 s) ...
    expect(teacher.locator("#train-results")).to_contain_text("Test accuracy", timeout=45_000)
    expect(teacher.locator("#train-start")).to_be_enabled()
    # ... a student's page shows the end (with the test accuracy) from the feed at once, and its
    # refresh (the results, the pictures) is still ~59 s away.
    expect(student.locator("#train-status")).to_contain_text("test accuracy", timeout=15_000)
    assert "Test accuracy" not in student.locator("#train-results").inner_text()
    for p in pages:
        p.context.close()
