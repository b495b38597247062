"""The Photo tab in a real (headless Chromium) browser: upload a photo, read the answer."""
from __future__ import annotations

from pathlib import Path

import pytest
from conftest import open_tab

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.browser


def open_photo_tab(page):
    open_tab(page, "Photo")
    page.wait_for_selector("#photo-input input[type=file]", state="attached")


def test_upload_a_photo_read_the_answer_and_see_where_it_looked(page):
    from playwright.sync_api import expect
    open_photo_tab(page)
    page.locator("#photo-input input[type=file]").set_input_files(str(ROOT / "demo" / "fashion-sneaker.jpg"))
    expect(page.locator("#photo-verdict")).to_contain_text("Sneaker", timeout=30_000)
    expect(page.locator("#photo-verdict")).to_contain_text("fairly sure")
    expect(page.locator("#photo-probs")).to_contain_text("Sneaker")
    expect(page.locator("#photo-seen img")).to_be_visible()
    page.locator("#photo-saliency input[type=checkbox]").check()
    expect(page.locator("#photo-heat img")).to_be_visible(timeout=30_000)


def test_on_a_phone_a_broken_file_shows_a_message_and_the_next_photo_works(page, tmp_path):
    from playwright.sync_api import expect
    page.set_viewport_size({"width": 390, "height": 844})         # a phone held upright
    open_photo_tab(page)
    bad = tmp_path / "holiday.jpg"
    bad.write_text("this is not really a photo\n" * 40)
    page.locator("#photo-input input[type=file]").set_input_files(str(bad))
    expect(page.get_by_text("not a picture this app can read").first).to_be_visible(timeout=30_000)
    expect(page.locator("#photo-verdict")).to_contain_text("That did not work")
    page.locator("#photo-input input[type=file]").set_input_files(str(ROOT / "demo" / "fashion-bag.jpg"))
    expect(page.locator("#photo-verdict")).to_contain_text("Bag", timeout=30_000)
