"""The Weather tab in a real browser: run the lesson, watch the loss curve, see the actual and
predicted maximum over the 2015 dates, and the table of errors; on a laptop and on a phone-wide
screen (390 px), where nothing may stick out sideways."""
from __future__ import annotations

import os
import threading

import pytest
from conftest import open_tab
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

LINES = """(id) => [...document.querySelectorAll(id + ' path[aria-roledescription="line mark"]')]
                   .map(p => (p.getAttribute('d') || '').length)"""

def start(page, epochs: int):
    open_tab(page, "Weather")
    epochs_box = page.locator("#weather-epochs input[type=number]")
    epochs_box.fill(str(epochs))
    epochs_box.press("Enter")
    page.locator("#weather-train").click()


def run_lesson(page, epochs: int = 15):
    start(page, epochs)
    status = page.locator("#weather-status")
    expect(status).to_contain_text(f"Finished after {epochs} epochs", timeout=120_000)
    expect(status).to_contain_text("same as yesterday")
    expect(page.locator("#weather-train")).to_be_enabled()


def check_plots(page):
    page.wait_for_function(f"({LINES})('#weather-dates').filter(n => n > 100).length >= 2", timeout=30_000)
    page.wait_for_function(f"({LINES})('#weather-loss-plot').filter(n => n > 20).length >= 2", timeout=30_000)
    expect(page.locator("#weather-table")).to_contain_text("the network")
    expect(page.locator("#weather-table")).to_contain_text("same as yesterday")


def shoot(page, name):
    folder = os.environ.get("CNNLAB_SCREENSHOTS")
    if folder:
        page.locator("#weather-dates").screenshot(path=os.path.join(folder, "dates-" + name))
        page.screenshot(path=os.path.join(folder, name), full_page=True)


def test_the_lesson_runs_and_draws_the_dates_plot(page):
    run_lesson(page)
    check_plots(page)
    page.locator("#weather-code").get_by_text("The code that runs").click()
    expect(page.locator("#weather-code-manual")).to_contain_text("x.mm(weights)")
    shoot(page, "weather-1280.png")


def test_on_a_phone_wide_screen_nothing_sticks_out_sideways(browser, app_server):
    context = browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=2,
                                  is_mobile=True, has_touch=True)
    try:
        page = context.new_page()
        page.goto(app_server[1])
        run_lesson(page, epochs=8)
        check_plots(page)
        page.locator("#weather-code").get_by_text("The code that runs").click()
        expect(page.locator("#weather-code-nn")).to_contain_text("nn.Linear")
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        box = page.locator("#weather-dates").bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= 390
        shoot(page, "weather-390.png")
    finally:
        context.close()


def test_stop_ends_a_long_run_and_train_comes_back(page, idle_job, app_server):
    # idle_job: a class run left going by an earlier test would starve the weather worker (it runs
    # at low priority on purpose) before the run gets going.
    start(page, 2000)
    status = page.locator("#weather-status")
    expect(status).to_contain_text("/2000 · step", timeout=60_000)
    expect(page.locator("#weather-train")).to_be_disabled()
    # Stop under load: every worker thread held by other work (Event-blocked, so certain), and the
    # run must still end while they hold (a Stop that waited for the worker would not).
    worker = app_server[0].offered["weather_worker"]
    release = threading.Event()
    busy = [threading.Event() for _ in range(worker.threads)]
    try:
        for started in busy:
            worker.submit(lambda started=started: (started.set(), release.wait(600)))
        assert all(started.wait(60) for started in busy)
        page.locator("#weather-stop").click(timeout=60_000)      # (a busy test machine draws slowly)
        expect(status).to_contain_text("Stopped after", timeout=60_000)
    finally:
        release.set()
    expect(status).to_contain_text("same as yesterday")
    expect(page.locator("#weather-train")).to_be_enabled()
    expect(page.locator("#weather-stop")).to_be_disabled()
    page.wait_for_timeout(2000)
    expect(status).to_contain_text("Stopped after")           # no late update from the stopped run


def test_a_chinese_reader_sees_the_plots_table_and_limits_in_chinese(browser, app_server):
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="zh-CN")
    page = context.new_page()
    try:
        page.goto(app_server[1])
        open_tab(page, "天气")
        expect(page.locator("#weather-table")).to_contain_text("和昨天一样", timeout=30_000)   # the page's load
        expect(page.locator("#weather-table")).to_contain_text("神经网络（请按“训练”）")
        expect(page.locator("#weather-status")).to_contain_text("按下训练按钮")
        page.locator("#weather-source").get_by_text("你自己的 CSV").click()
        expect(page.locator("#weather-csv-limits")).to_contain_text("限制：CSV 文件不超过 5 MB")
        assert "same as yesterday" not in page.inner_text("#weather-table")
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
    finally:
        context.close()
