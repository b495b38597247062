"""The Train tab in a real browser: click Train, watch the loss curve grow, click Stop, and the
Train button comes back."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

LINE_LENGTH = """() => [...document.querySelectorAll('#train-loss path[aria-roledescription="line mark"]')]
                       .reduce((n, p) => n + (p.getAttribute('d') || '').length, 0)"""




def test_train_shows_a_growing_curve_and_stop_brings_train_back(page, idle_job):
    page.get_by_role("tab", name="Train").click()
    train, stop = page.locator("#train-start"), page.locator("#train-stop")
    expect(train).to_be_enabled(timeout=15_000)
    expect(stop).to_be_disabled()
    page.locator("#train-size input").fill("10000")          # a shorter epoch: quick to watch and stop
    page.keyboard.press("Enter")
    train.click()
    expect(page.locator("#train-notice")).to_contain_text("started", timeout=15_000)
    expect(train).to_be_disabled(timeout=10_000)
    expect(stop).to_be_enabled()
    status = page.locator("#train-status")
    expect(status).to_contain_text(re.compile(r"step \d+/"), timeout=60_000)
    page.wait_for_function(f"({LINE_LENGTH})() > 0", timeout=30_000)
    first = page.evaluate(LINE_LENGTH)
    first_status = status.inner_text()
    page.wait_for_function(f"({LINE_LENGTH})() > {first}", timeout=30_000)     # the curve grew
    expect(status).not_to_have_text(first_status, timeout=10_000)
    grid = page.locator("#train-grid figure")
    expect(grid).to_have_count(16)
    stop.click()
    expect(status).to_contain_text("Stopped", timeout=30_000)
    expect(train).to_be_enabled(timeout=10_000)
    expect(stop).to_be_disabled()
    expect(page.locator("#train-results")).to_contain_text("Test accuracy")
    expect(page.locator("#train-confusion img")).to_be_visible(timeout=10_000)
    expect(page.locator("#train-download")).to_be_visible()
