"""The Playground in a real browser (issue 27): it trains in the page, on a laptop and on a
phone-sized screen: Play (the boundary changes, the clouds' accuracy rises, and the page sends
the server nothing while it plays), Pause, Step, Reset (the same initial weights), a setting
changed between steps, the race, the setting in the address, own points, the weights file, and
the tab in Chinese."""
from __future__ import annotations

import json
import re

import pytest
from conftest import server_requests
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

PG = "window.cnnlabPlayground"
STEP = f"() => {PG}.p.stepCount"
ACCURACY = "() => parseFloat(document.querySelector('#pg-view .pg-acc').textContent)"
WEIGHTS = f"() => JSON.stringify({PG}.p.net.W.map((w) => Array.from(w)).concat({PG}.p.net.b.map((b) => Array.from(b))))"
PICTURE = "() => document.querySelector('#pg-view canvas.pg-main').toDataURL()"
# Whatever sticks out past the right edge of the screen (the page may not scroll sideways).
OVERFLOW = """() => { const w = document.documentElement.clientWidth;
  return [...document.querySelectorAll('.pgp *')].filter((e) => e.offsetParent !== null
    && e.getBoundingClientRect().right > w + 1).map((e) => e.id || e.className).slice(0, 5); }"""


def open_playground(browser, url, viewport=(1280, 900), locale="en-US", query=""):
    context = browser.new_context(viewport={"width": viewport[0], "height": viewport[1]}, locale=locale,
                                  accept_downloads=True)
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.goto(url + query)
    page.wait_for_function(f"() => {PG} && {PG}.p !== undefined", timeout=30_000)
    page.errors = errors
    return context, page


@pytest.mark.parametrize("viewport", [(1280, 900), (390, 844)], ids=["laptop", "phone"])
def test_play_pause_step_reset_and_a_setting_between_steps_with_no_request_while_playing(browser, app_server,
                                                                                        viewport):
    context, page = open_playground(browser, app_server[1], viewport)
    try:
        expect(page.locator("#pg-view .pg-step")).to_have_text("0")           # lesson 1, the curve
        page.locator("#pg-preset-classification").click()
        expect(page.locator("#pg-view .pg-acc")).to_be_visible()
        start = page.evaluate(WEIGHTS)
        picture = page.evaluate(PICTURE)
        first = page.evaluate(ACCURACY)
        requests = server_requests(page)
        page.locator("#pg-play").click()
        expect(page.locator("#pg-play")).to_have_text("Pause")
        page.wait_for_function(f"({ACCURACY})() >= 97", timeout=30_000)      # the course reaches 98-100%
        assert page.evaluate(PICTURE) != picture                              # the boundary moved
        page.locator("#pg-play").click()
        expect(page.locator("#pg-play")).to_have_text("Play")
        assert requests == [], requests                                       # the server did nothing
        assert first < 97 and page.evaluate(STEP) >= 10
        stopped = page.evaluate(STEP)
        page.wait_for_timeout(600)
        assert page.evaluate(STEP) == stopped                                 # Pause stops at once
        page.locator("#pg-step").click()
        assert page.evaluate(STEP) == stopped + 2                             # the preset's 2 steps per frame
        expect(page.locator("#pg-view .pg-step")).to_have_text(str(stopped + 2))
        page.select_option("#pg-lr", "0.1")                                  # between steps: same network
        assert page.evaluate(f"{PG}.settings.lr") == 0.1 and page.evaluate(STEP) == stopped + 2
        page.locator("#pg-step").click()
        assert page.evaluate(STEP) == stopped + 4
        page.locator("#pg-reset").click()
        assert page.evaluate(STEP) == 0 and page.evaluate(WEIGHTS) == start   # the same initial weights
        expect(page.locator("#pg-view .pg-step")).to_have_text("0")
        page.locator("#pg-layers").fill("2")
        page.locator("#pg-layers").dispatch_event("change")                  # a new shape: a new network
        assert page.evaluate(f"{PG}.settings.hidden") == [10, 10]
        assert page.locator("#pg-view .pg-neuron").count() == 20              # every neuron's map
        assert page.evaluate("document.documentElement.scrollWidth") <= viewport[0]
        assert page.evaluate(OVERFLOW) == []
        box = page.locator("#pg-view canvas.pg-main").bounding_box()
        assert box["width"] > 0.6 * min(viewport[0], 460)                      # the picture uses the screen
        page.locator("#pg-preset-race").click()                                # lesson 3: the race
        page.wait_for_function(f"() => {PG}.race.stepCount >= 40", timeout=30_000)
        expect(page.locator("#pg-race [data-optimizer=adam]")).to_have_text(re.compile(r"\d\.\d{4}"))
        assert page.errors == []
    finally:
        context.close()


def test_the_setting_lives_in_the_address(browser, app_server):
    query = "?data=spiral&classes=3&noise=0.1&points=300&train=0.5&features=x1,x2,sin(x1)&hidden=8,6&act=tanh" \
            "&opt=adam&lr=0.03&batch=10&speed=10&data_seed=5&seed=7"
    context, page = open_playground(browser, app_server[1], query=query)
    try:
        s = page.evaluate(f"{PG}.settings")
        assert (s["dataset"], s["classes"], s["hidden"], s["seed"], s["lr"]) == ("spiral", 3, [8, 6], 7, 0.03)
        assert page.input_value("#pg-dataset") == "spiral" and page.input_value("#pg-lr") == "0.03"
        weights = page.evaluate(WEIGHTS)
        page.select_option("#pg-activation", "relu")
        assert "act=relu" in page.evaluate("location.search")
        link = page.evaluate("location.href")
        other = context.new_page()
        other.goto(link)
        other.wait_for_function(f"() => {PG} && {PG}.p", timeout=30_000)
        assert other.evaluate(f"{PG}.settings") == page.evaluate(f"{PG}.settings")
        assert other.evaluate(WEIGHTS) == weights                             # the same initial weights
        other.goto(app_server[1] + "?data=spiral&lr=fast&hidden=99")
        other.wait_for_function(f"() => {PG} && {PG}.p", timeout=30_000)
        expect(other.locator("#pg-notice")).to_contain_text("lr=fast was not used")
        assert other.evaluate(f"{PG}.settings.dataset") == "spiral"
    finally:
        context.close()


def test_own_points_by_tapping_and_by_csv(browser, app_server):
    context, page = open_playground(browser, app_server[1], (390, 844))
    try:
        page.select_option("#pg-dataset", "own-class")
        expect(page.locator("#pg-own")).to_be_visible()
        canvas = page.locator("#pg-view canvas.pg-main")
        box = canvas.bounding_box()
        canvas.click(position={"x": box["width"] * 0.25, "y": box["height"] * 0.75})
        expect(page.locator("#pg-view .pg-stats")).to_contain_text("at least 2 points")
        for fx, fy in ((0.2, 0.8), (0.3, 0.7)):
            canvas.click(position={"x": box["width"] * fx, "y": box["height"] * fy})
        page.locator("#pg-own-classes [data-class='1']").click()
        for fx, fy in ((0.75, 0.25), (0.8, 0.2), (0.7, 0.3)):
            canvas.click(position={"x": box["width"] * fx, "y": box["height"] * fy})
        own = page.evaluate(f"{PG}.settings.own")
        assert len(own) == 6 and [r[2] for r in own] == [0, 0, 0, 1, 1, 1] and own[0][0] < 0 < own[3][0]
        page.locator("#pg-play").click()
        page.wait_for_function(f"({ACCURACY})() == 100", timeout=30_000)
        page.locator("#pg-play").click()
        page.fill("#pg-own-csv", "x, y\n0, 0\n1, 1\n2, four\n")
        page.locator("#pg-own-use").click()
        expect(page.locator("#pg-notice")).to_contain_text('Line 4 ("2, four")')
        page.fill("#pg-own-csv", "-1, 1\n-0.5, 0.25\n0, 0\n0.5, 0.25\n1, 1\n")
        page.locator("#pg-own-use").click()
        assert page.evaluate(f"{PG}.settings.dataset") == "own-curve" and page.evaluate(f"{PG}.p.data.nAll") == 5
        assert "own=" in page.evaluate("location.search")
    finally:
        context.close()


def test_the_weights_file_saves_and_loads_back(browser, app_server, tmp_path):
    context, page = open_playground(browser, app_server[1])
    try:
        page.locator("#pg-preset-classification").click()
        for _ in range(5):
            page.locator("#pg-step").click()
        trained = page.evaluate(WEIGHTS)
        with page.expect_download() as download:
            page.locator("#pg-weights-save").click()
        path = tmp_path / "weights.json"
        download.value.save_as(path)
        assert json.loads(path.read_text())["format"] == "cnnlab-playground-weights"
        page.locator("#pg-reset").click()
        assert page.evaluate(WEIGHTS) != trained
        page.set_input_files("#pg-weights-file", str(path))
        page.wait_for_function(f"() => ({WEIGHTS})() === {json.dumps(trained)}", timeout=10_000)
        bad = tmp_path / "bad.json"
        bad.write_text("{}")
        page.set_input_files("#pg-weights-file", str(bad))
        expect(page.locator("#pg-notice")).to_contain_text("not a Playground weights file")
        page.locator("#pg-code-box summary").click()
        page.locator("#pg-code-button").click()                              # on demand: the server's code
        expect(page.locator("#pg-code")).to_contain_text("class Net(torch.nn.Module)", timeout=15_000)
    finally:
        context.close()


def test_a_chinese_phone_sees_the_playground_in_chinese(browser, app_server):
    context, page = open_playground(browser, app_server[1], (390, 844), locale="zh-CN")
    try:
        expect(page.locator("#pg-view .pg-stats")).to_contain_text("训练损失")
        expect(page.locator("#pg-view .pg-legend")).to_contain_text("红线：网络的预测")
        expect(page.locator("#pg-play")).to_have_text("开始")
        page.locator("#pg-play").click()
        expect(page.locator("#pg-play")).to_have_text("暂停")
        page.locator("#pg-play").click()
        expect(page.locator("#pg-play")).to_have_text("开始")
        assert "Play" not in page.inner_text("#pg-preset-race") + page.inner_text("#pg-play")
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
    finally:
        context.close()
