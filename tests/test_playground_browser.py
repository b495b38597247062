"""The Playground in a real browser: the two-clouds preset plays and its accuracy rises, on a
laptop and on a phone-sized screen (where nothing may stick out sideways); Pause stops it."""
from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

ACCURACY = "() => parseFloat(document.querySelector('#pg-view .pg-acc').textContent)"
STEP = "() => parseInt(document.querySelector('#pg-view .pg-step').textContent)"
# Whatever sticks out past the right edge of the screen (the page may not scroll sideways).
OVERFLOW = """() => { const w = document.documentElement.clientWidth;
  return [...document.querySelectorAll('#pg-view *, #pg-play, #pg-dataset, #pg-features')]
    .filter((e) => e.getBoundingClientRect().right > w + 1).map((e) => e.className || e.id).slice(0, 5); }"""


@pytest.mark.parametrize("viewport", [(1280, 900), (390, 844)], ids=["laptop", "phone"])
def test_the_clouds_preset_plays_and_its_accuracy_rises(browser, app_server, viewport):
    context = browser.new_context(viewport={"width": viewport[0], "height": viewport[1]})
    page = context.new_page()
    try:
        page.goto(app_server[1])
        expect(page.locator("#pg-view .pg-step")).to_have_text("0", timeout=30_000)   # the curve, drawn
        page.locator("#pg-preset-classification").click()
        expect(page.locator("#pg-view .pg-acc")).to_be_visible(timeout=15_000)
        expect(page.locator("#pg-view .pg-step")).to_have_text("0")
        first = page.evaluate(ACCURACY)
        page.locator("#pg-play").click()
        expect(page.locator("#pg-play")).to_have_text(re.compile("Pause"), timeout=10_000)
        page.wait_for_function(f"({STEP})() >= 10", timeout=30_000)
        middle = page.evaluate(ACCURACY)
        page.wait_for_function(f"({ACCURACY})() >= 97", timeout=60_000)        # the course reaches 98-100%
        assert first < 97 and page.evaluate(ACCURACY) >= 97
        assert page.evaluate(STEP) >= 10 and middle >= first
        assert page.evaluate("document.documentElement.scrollWidth") <= viewport[0]
        assert page.evaluate(OVERFLOW) == []
        page.locator("#pg-play").click()
        expect(page.locator("#pg-play")).to_have_text(re.compile("Play"), timeout=10_000)
        stopped = page.evaluate(STEP)
        page.wait_for_timeout(1500)
        assert page.evaluate(STEP) <= stopped + 2 * 2             # at most a tick already on its way
        box = page.locator("#pg-view canvas.pg-main").bounding_box()
        assert box["width"] > 0.6 * min(viewport[0], 460)          # the picture uses the screen
    finally:
        context.close()


def test_a_chinese_phone_sees_the_playground_in_chinese(browser, app_server):
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="zh-CN")
    page = context.new_page()
    try:
        page.goto(app_server[1])
        expect(page.locator("#pg-view .pg-step")).to_have_text("0", timeout=30_000)
        expect(page.locator("#pg-view .pg-stats")).to_contain_text("训练损失")
        expect(page.locator("#pg-view .pg-legend")).to_contain_text("红线：网络的预测")
        expect(page.locator("#pg-play")).to_have_text("开始")
        page.locator("#pg-play").click()
        expect(page.locator("#pg-play")).to_have_text("暂停", timeout=10_000)    # made by the handler
        page.locator("#pg-play").click()
        expect(page.locator("#pg-play")).to_have_text("开始", timeout=10_000)
        assert "Play" not in page.inner_text("#pg-preset-race") + page.inner_text("#pg-play")
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
    finally:
        context.close()
