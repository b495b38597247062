"""The network builder in a real browser: start from an empty stack, add a convolution, see the
sentence for a stack that cannot work, fix it, watch the shapes and the total change, train it as
the shared run, and see it answer in the Draw tab as the latest run."""
from __future__ import annotations

import re

import pytest
from conftest import open_tab
from handwriting import DIGITS
from playwright.sync_api import expect
from test_draw_browser import Traffic, draw_with_mouse, shown

pytestmark = pytest.mark.browser


def pick(page, elem_id: str, option: str | re.Pattern) -> None:
    page.locator(f"#{elem_id} input").click()
    page.locator(f"#{elem_id}").get_by_role("option", name=option).click()


def open_train(page) -> None:
    """The Train tab; on a narrow screen Gradio moves it into the tabs' overflow menu."""
    page.wait_for_selector("[role=tab]")
    tab = page.get_by_role("tab", name="Train")
    if tab.is_visible():
        tab.click()
        return
    page.locator(".overflow-menu button").first.click()
    page.locator(".overflow-dropdown").get_by_text("Train", exact=True).click()


def table_rows(page) -> list[str]:
    return [r.inner_text() for r in page.locator("#builder-table tbody tr").all()]


def test_build_a_small_network_train_it_and_draw_with_it(page, idle_job):
    open_tab(page, "Train")
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

    page.locator("#train-size input").fill("1000")            # a quick run: 16 steps
    page.keyboard.press("Enter")
    page.locator("#train-epochs input[type=number]").fill("1")
    page.keyboard.press("Enter")
    page.locator("#builder-train").click()
    expect(page.locator("#train-notice")).to_contain_text("started", timeout=15_000)
    # This run's end, from the job: the status line may still say the last run's "Finished" for a tick.
    assert idle_job.wait(240), "the run did not finish in four minutes"
    assert idle_job.state().state == "finished" and idle_job.state().config["model"] == "custom"
    expect(page.locator("#train-status")).to_contain_text("Finished", timeout=30_000)

    open_tab(page, "Draw")
    page.wait_for_selector("#sketch canvas")
    # The shipped CNN answers in this browser once its weights are in (until then the server would).
    page.wait_for_selector("#sketch [data-answers=browser]", state="attached", timeout=30_000)
    traffic = Traffic(page)
    page.locator("#draw-model input").click()                 # focus asks the server for new runs (settle)
    traffic.settle(page)
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
        open_train(page)
        page.locator("#builder").get_by_text("Build your own network").click()
        expect(page.locator("#builder-total")).to_be_visible()
        page.locator("#builder-add").scroll_into_view_if_needed()
        width = page.evaluate("() => document.documentElement.scrollWidth")
        assert width <= 390, f"the page scrolls sideways: {width} px"
        page.screenshot(path="/tmp/builder-phone.png", full_page=False)
    finally:
        context.close()


MARKER_LINE = """() => [...document.querySelectorAll('#train-loss path[aria-roledescription="line mark"]')]
                       .some(p => (p.getAttribute('stroke') || '').toLowerCase() === '#cc79a7'
                                  && (p.getAttribute('d') || '').length > 0)"""


def test_pause_change_the_learning_rate_and_resume(page, idle_job):
    open_tab(page, "Train")
    train, pause, resume = page.locator("#train-start"), page.locator("#train-pause"), page.locator("#train-resume")
    expect(train).to_be_enabled(timeout=15_000)
    expect(pause).to_be_disabled()
    page.locator("#train-size input").fill("30000")           # long enough that Pause lands mid-run
    page.keyboard.press("Enter")
    page.locator("#train-epochs input[type=number]").fill("3")
    page.keyboard.press("Enter")
    train.click()
    status = page.locator("#train-status")
    expect(status).to_contain_text(re.compile(r"step [1-9]\d*/"), timeout=240_000)
    pause.click()
    expect(status).to_contain_text("Paused at step", timeout=15_000)
    expect(resume).to_be_enabled()
    expect(pause).to_be_disabled()
    assert idle_job._steering.halted.wait(60)
    held = idle_job.state().step
    page.locator("#train-new-lr input").fill("0.0005")
    page.locator("#train-set-lr").click()
    expect(page.locator("#train-notice")).to_contain_text("becomes 0.0005")
    assert idle_job.state().step == held                       # still at the gate
    resume.click()
    expect(status).not_to_contain_text("Paused", timeout=15_000)
    page.wait_for_function(MARKER_LINE, timeout=120_000)      # the change, drawn on the loss curve
    assert idle_job.state().markers[0][2] == 0.0005
    page.locator("#train-loss").screenshot(path="/tmp/builder-lr-marker.png")
    page.locator("#train-stop").click()
    expect(status).to_contain_text("Stopped", timeout=120_000)
    expect(page.locator("#train-results")).to_contain_text("Learning rate changed by the teacher", timeout=120_000)
