"""The network builder in a real browser: start from an empty stack, add a convolution, see the
sentence for a stack that cannot work, fix it, watch the shapes and the total change, train it as
the shared run, and see it answer in the Draw tab as the latest run."""
from __future__ import annotations

import re

import pytest
from handwriting import DIGITS
from playwright.sync_api import expect
from test_draw_browser import Traffic, draw_with_mouse, shown

pytestmark = pytest.mark.browser


def pick(page, elem_id: str, option: str | re.Pattern) -> None:
    page.locator(f"#{elem_id} input").click()
    page.get_by_role("option", name=option).click()


def table_rows(page) -> list[str]:
    return [r.inner_text() for r in page.locator("#builder-table tbody tr").all()]


def test_build_a_small_network_train_it_and_draw_with_it(page, idle_job):
    page.get_by_role("tab", name="Train").click()
    page.locator("#builder").get_by_text("Build your own network").click()
    pick(page, "builder-template", "empty (just flatten)")
    page.locator("#builder-load").click()
    total = page.locator("#builder-total")
    expect(total).to_have_text("7,850")                       # logistic regression: 784 x 10 + 10
    verdict = page.locator("#builder-verdict")
    expect(verdict).to_have_attribute("data-ok", "1")

    pick(page, "builder-row", re.compile(r"^1\. flatten"))
    pick(page, "builder-type", "convolution")
    page.locator("#builder-size input").fill("4")
    pick(page, "builder-kernel", "3")
    pick(page, "builder-padding", "1")
    page.locator("#builder-add").click()                      # after the flatten: cannot work
    expect(verdict).to_have_attribute("data-ok", "0")
    expect(verdict).to_contain_text("Layer 2 (convolution) needs an image")
    page.locator("#builder-up").click()                       # move it before the flatten
    expect(verdict).to_have_attribute("data-ok", "1")
    expect(total).to_have_text(f"{4 * 9 + 4 + 4 * 28 * 28 * 10 + 10:,}")
    rows = table_rows(page)
    assert "4 x 28 x 28" in rows[1] and "conv 4, 3x3, padding 1" in rows[1]
    assert "\t3136\t" in rows[2]                                # flatten: 4 x 28 x 28 numbers
    expect(page.locator("#train-model input")).to_have_value("Your own network (built below)")

    page.locator("#train-size input").fill("1000")            # a quick run: 8 steps
    page.keyboard.press("Enter")
    page.locator("#train-epochs input[type=number]").fill("1")
    page.keyboard.press("Enter")
    page.locator("#builder-train").click()
    expect(page.locator("#train-notice")).to_contain_text("started", timeout=15_000)
    expect(page.locator("#train-status")).to_contain_text("Finished", timeout=240_000)
    assert idle_job.state().config["model"] == "custom"

    page.get_by_role("tab", name="Draw").click()
    page.wait_for_selector("#sketch canvas")
    traffic = Traffic(page)
    page.locator("#draw-model input").click()
    page.get_by_role("option", name=re.compile("^latest run: custom on mnist")).click()
    traffic.settle(page)
    draw_with_mouse(page, DIGITS[1])
    traffic.settle(page)
    assert re.search(r"\d+% sure", page.inner_text("#draw-answer")), page.inner_text("#draw-answer")
    assert shown(page).isdigit()


def test_the_editor_fits_a_phone(browser, app_server):
    context = browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=2,
                                  is_mobile=True, has_touch=True)
    try:
        page = context.new_page()
        page.goto(app_server[1])
        page.get_by_role("tab", name="Train").click()
        page.locator("#builder").get_by_text("Build your own network").click()
        expect(page.locator("#builder-total")).to_be_visible()
        page.locator("#builder-add").scroll_into_view_if_needed()
        width = page.evaluate("() => document.documentElement.scrollWidth")
        assert width <= 390, f"the page scrolls sideways: {width} px"
        page.screenshot(path="/tmp/builder-phone.png", full_page=False)
    finally:
        context.close()
