"""A student types a batch size past the list into the Train tab (the box takes custom values) and
clicks Train: the page says the allowed range, and no run starts (issue 11: 30000 took 9 GB)."""
from __future__ import annotations

import pytest
from conftest import open_tab
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


def test_a_typed_batch_size_past_the_limit_gets_the_range_and_nothing_starts(page, idle_job):
    before = idle_job.state().run_id
    open_tab(page, "Train")
    train = page.locator("#train-start")
    expect(train).to_be_enabled(timeout=15_000)
    page.locator("#train-batch input").fill("30000")
    page.keyboard.press("Enter")
    train.click()
    expect(page.get_by_text("Batch size must be between 1 and 1,024; you asked for 30,000.")).to_be_visible(
        timeout=15_000)
    expect(train).to_be_enabled()
    assert idle_job.state().run_id == before and not idle_job.is_running
