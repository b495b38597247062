"""Compare runs in a real browser: two finished runs of the lesson appear in the table, both are
overlaid on the accuracy and loss plots, unticking one leaves one curve; the grid's size line
answers as the lists are typed; the section fits a phone."""
from __future__ import annotations

import re

import pytest
from conftest import open_tab
from playwright.sync_api import expect

from cnnlab.config import TrainConfig

pytestmark = pytest.mark.browser

OVERLAY = "() => document.querySelector('#runs-overlay img')?.src || ''"
LOADED = "() => (document.querySelector('#runs-overlay img')?.naturalWidth || 0) > 300"


@pytest.fixture()
def two_runs(app_server, idle_job):
    """Two short runs that differ only in the learning rate, kept in the lesson's runs."""
    index = app_server[0].ctx.runs
    for lr in (0.003, 0.0003):
        assert "started" in str(idle_job.start(TrainConfig(model="mlp", lr=lr, train_size=2000, epochs=2,
                                                           val_size=500, eval_every_s=0.2)))
        assert idle_job.wait(600)
    return index.runs()[-2:]


def picked(page, pick, runs) -> list[str]:
    return [r.label for r in runs if pick.get_by_label(r.label).is_checked()]


def test_overlay_two_runs_and_untick_one(page, two_runs):
    first, second = two_runs
    open_tab(page, "Train")
    table = page.locator("#runs-table")
    expect(table).to_contain_text(f"{second.test_accuracy:.2%}", timeout=30_000)
    expect(table).to_contain_text(f"{first.test_accuracy:.2%}")
    pick = page.locator("#runs-pick")
    for run in two_runs:                                       # the last two are picked until a viewer picks
        expect(pick.get_by_label(run.label)).to_be_checked(timeout=15_000)
    overlay = page.locator("#runs-overlay img")
    overlay.scroll_into_view_if_needed(timeout=30_000)
    expect(overlay).to_be_visible()
    page.wait_for_function(LOADED, timeout=30_000)             # a drawn figure (what it holds: test_runs.py)
    both = page.evaluate(OVERLAY)
    page.locator("#runs-section").screenshot(path="/tmp/runs-compare.png")
    pick.get_by_label(first.label).uncheck()
    page.wait_for_function(f"({OVERLAY})() != {both!r}", timeout=30_000)   # redrawn with one run
    page.wait_for_function(LOADED, timeout=30_000)
    assert picked(page, pick, two_runs) == [second.label]
    expect(page.locator("#runs-csv")).to_be_visible()


def test_the_grid_size_answers_as_the_lists_are_typed(page, idle_job):
    open_tab(page, "Train")
    page.locator("#runs-grid-section").get_by_text("Hyperparameter grid").click()
    size = page.locator("#runs-grid-size")
    expect(size).to_contain_text("4 configurations (2 x 2 x 1 x 1)", timeout=15_000)
    lrs = page.locator("#runs-grid-lrs textarea")
    lrs.fill("0.1, 0.01, 0.001, 0.0001")
    lrs.blur()
    expect(size).to_contain_text("8 configurations (4 x 2 x 1 x 1), each trains at most 15 s", timeout=15_000)
    page.locator("#runs-grid-optimizers").get_by_label("SGD").check()
    expect(size).to_contain_text(re.compile(r"✗ 16 configurations .* more than the 12"), timeout=15_000)


def test_compare_runs_fits_a_phone(browser, app_server, two_runs):
    context = browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=2,
                                  is_mobile=True, has_touch=True)
    try:
        page = context.new_page()
        page.goto(app_server[1])
        open_tab(page, "Train")
        page.locator("#runs-pick").scroll_into_view_if_needed()
        expect(page.locator("#runs-pick").get_by_label(two_runs[-1].label)).to_be_visible(timeout=30_000)
        expect(page.locator("#runs-overlay img")).to_be_visible(timeout=30_000)
        width = page.evaluate("() => document.documentElement.scrollWidth")
        assert width <= 390, f"the page scrolls sideways: {width} px"
        page.screenshot(path="/tmp/runs-phone.png", full_page=False)
    finally:
        context.close()
