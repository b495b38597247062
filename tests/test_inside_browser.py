"""The Inside tab in a real browser, the server's walk (/inside_show: the page's way where the
browser does not answer; here the page's modules are blocked): a digit drawn with the mouse walks
through every layer, a map opens with its kernel and its sum, by mouse and by keyboard, and a
phone-sized screen wraps the maps without sideways scrolling. Screenshots go to $INSIDE_SHOTS
(default: tmp). The browser's own live walk: tests/test_inside_engine_browser.py."""
from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
from conftest import open_tab as open_named_tab
from handwriting import DIGITS
from playwright.sync_api import expect
from rungate import RunGate

from cnnlab.config import TrainConfig

pytestmark = pytest.mark.browser

CANVAS = "#inside-sketch canvas"
AREA = (0.2, 0.15, 0.8, 0.85)
CNN_SHAPES = ["1 x 28 x 28", "16 x 28 x 28", "16 x 28 x 28", "16 x 14 x 14", "32 x 14 x 14",
              "32 x 14 x 14", "32 x 7 x 7", "1568", "10", "10"]


class Traffic:
    def __init__(self, page):
        self.open: set = set()
        page.on("request", lambda r: self.open.add(r) if "/gradio_api/" in r.url and "heartbeat" not in r.url
                else None)
        page.on("requestfinished", lambda r: self.open.discard(r))
        page.on("requestfailed", lambda r: self.open.discard(r))

    def settle(self, page, timeout_ms: int = 20_000) -> None:
        waited, quiet = 0, 0
        while waited < timeout_ms and quiet < 400:
            page.wait_for_timeout(50)
            waited += 50
            quiet = 0 if self.open else quiet + 50
        assert not self.open, f"requests still open after {timeout_ms} ms"


def draw(page, strokes) -> None:
    page.locator(CANVAS).scroll_into_view_if_needed()
    box = page.locator(CANVAS).bounding_box()
    x0, y0, x1, y1 = AREA
    for stroke in strokes:
        points = [(box["x"] + (x0 + x * (x1 - x0)) * box["width"], box["y"] + (y0 + y * (y1 - y0)) * box["height"])
                  for x, y in stroke]
        page.mouse.move(*points[0])
        page.mouse.down()
        for x, y in points[1:]:
            page.mouse.move(x, y, steps=3)
        page.mouse.up()
        page.wait_for_timeout(120)


def shots() -> Path:
    folder = Path(os.environ.get("INSIDE_SHOTS", "/tmp/inside-shots"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def open_tab(page) -> Traffic:
    page.route("**/cnnlab/web/**", lambda route: route.abort())      # the server's walk
    page.reload()
    traffic = Traffic(page)
    open_named_tab(page, "Inside")
    page.wait_for_selector(CANVAS)
    traffic.settle(page)
    return traffic


def stage_shapes(page) -> list[str]:
    return page.eval_on_selector_all("#inside-layers section.ins-stage", "els => els.map(e => e.dataset.shape)")


def test_a_drawn_digit_walks_through_every_layer_and_a_map_opens(page):
    traffic = open_tab(page)
    assert "Draw a digit" in page.inner_text("#inside-layers")
    draw(page, DIGITS[3])
    traffic.settle(page)
    assert stage_shapes(page) == CNN_SHAPES
    text = page.inner_text("#inside-layers")
    for label in ("Convolution 1", "ReLU", "Max pooling", "Convolution 2", "Flatten", "Dense 1", "Softmax",
                  "448 parameters", "12,896 parameters"):
        assert label in text, label
    assert re.search(r"The network says\s+3", text)
    # every channel of every map layer is there, and each shows its picture (a sprite)
    counts = page.eval_on_selector_all("#inside-layers .ins-maps",
                                       "els => els.map(e => e.querySelectorAll('.ins-map').length)")
    assert counts == [16, 16, 16, 32, 32, 32]
    sprite = page.eval_on_selector("#inside-layers .ins-map", "b => getComputedStyle(b).backgroundImage")
    assert sprite.startswith('url("data:image/png')
    page.screenshot(path=str(shots() / "inside-1280.png"), full_page=True)

    # click the 5th map of Convolution 2: it opens large, with its kernel and the sum
    page.locator("#inside-layers .ins-maps[data-s='4'] .ins-map").nth(4).click()
    traffic.settle(page)
    detail = page.inner_text("#inside-detail")
    assert "Convolution 2 · map 5 of 32" in detail
    assert "The kernel: 5 x 5 weights" in detail and "bias" in detail
    total = re.search(r"=\s+(−?\d+\.\d+)\s+= the map's value at row (\d+), column (\d+): (−?\d+\.\d+)", detail)
    assert total and total.group(1) == total.group(4), detail
    assert page.locator("#inside-detail .ins-table td").count() == 25
    assert re.search(r"ReLU\(−?\d+\.\d+\) = \d+\.\d+", detail)
    page.locator("#inside-detail").screenshot(path=str(shots() / "inside-detail-1280.png"))

    # pick another pixel with the keyboard: arrow keys on the large map
    row, col = int(total.group(2)), int(total.group(3))
    page.focus("#inside-detail .ins-big")
    page.keyboard.press("ArrowRight" if col < 13 else "ArrowLeft")
    traffic.settle(page)
    moved = re.search(r"row (\d+), column (\d+) =", page.inner_text("#inside-detail"))
    assert moved and int(moved.group(1)) == row and int(moved.group(2)) == (col + 1 if col < 13 else col - 1)
    # and with a click on a pixel of the large map (top-left corner: row 0, column 0)
    big = page.locator("#inside-detail .ins-big").bounding_box()
    page.mouse.click(big["x"] + 3, big["y"] + 3)
    traffic.settle(page)
    assert "row 0, column 0 =" in page.inner_text("#inside-detail")

    # drawing more updates the opened map too, in the same single request
    sent = []
    page.on("request", lambda r: sent.append(r.url) if "queue/join" in r.url else None)
    draw(page, [[(0.1, 0.95), (0.9, 0.95)]])
    traffic.settle(page)
    assert len(sent) == 1
    assert "Convolution 2 · map 5 of 32" in page.inner_text("#inside-detail")


def test_maps_open_from_the_keyboard_and_the_mlp_explains_itself(page):
    traffic = open_tab(page)
    draw(page, DIGITS[7])
    traffic.settle(page)
    first = page.locator("#inside-layers .ins-map").first
    first.focus()
    page.keyboard.press("Enter")
    traffic.settle(page)
    assert "Convolution 1 · map 1 of 16" in page.inner_text("#inside-detail")
    assert page.get_attribute("#inside-detail .ins-big", "aria-label").startswith("Convolution 1, map 1")
    page.locator("#inside-model input").click()
    page.get_by_role("option", name=re.compile("^mlp on mnist")).click()
    traffic.settle(page)
    text = page.inner_text("#inside-layers")
    assert "An MLP has no feature maps" in text and "templates" not in text.lower() or "template" in text
    assert stage_shapes(page)[:3] == ["1 x 28 x 28", "784", "256"]
    assert page.locator("#inside-layers .ins-map").count() == 0
    assert page.locator("#inside-layers .ins-tile").count() == 24
    tile = page.locator("#inside-layers .ins-tile").first.bounding_box()     # each template is a picture
    assert tile["width"] >= 40 and tile["height"] >= 40


def test_on_a_phone_the_maps_wrap_and_nothing_scrolls_sideways(browser, app_server):
    context = browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=2,
                                  is_mobile=True, has_touch=True)
    try:
        page = context.new_page()
        page.goto(app_server[1])
        traffic = open_tab(page)
        draw(page, DIGITS[2])
        traffic.settle(page)
        assert stage_shapes(page) == CNN_SHAPES
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        tops = "e => new Set([...e.children].map(b => Math.round(b.getBoundingClientRect().top))).size"
        rows = page.eval_on_selector("#inside-layers .ins-maps[data-s='4']", tops)
        assert rows >= 3                                              # 32 maps wrap onto several rows
        rightmost = "els => Math.max(...els.map(e => e.getBoundingClientRect().right))"
        right = page.eval_on_selector_all("#inside-layers .ins-map", rightmost)
        assert right <= 390
        page.locator("#inside-layers .ins-maps[data-s='1'] .ins-map").nth(2).tap()
        traffic.settle(page)
        assert "Convolution 1 · map 3 of 16" in page.inner_text("#inside-detail")
        assert page.evaluate("document.documentElement.scrollWidth") <= 390
        page.screenshot(path=str(shots() / "inside-390.png"), full_page=True)
    finally:
        context.close()


def test_the_live_view_follows_the_class_run_with_one_short_request_a_tick(page, idle_job):
    """Open while the class's run trains: the first layer's filters and a test picture's maps,
    about once a second, each tick one POST answered at once (no queue join, no event stream)."""
    open_named_tab(page, "Inside")
    page.locator("#inside-live-box").get_by_text("Live: the class's training run").click()
    head = page.locator("#inside-live .ins-head, #inside-live .ins-note").first
    expect(head).to_be_visible(timeout=30_000)      # what the last run left, or "No run is going"
    with RunGate(idle_job, hold=[3]) as gate:
        idle_job.start(TrainConfig(dataset="mnist", model="lenet", epochs=1, train_size=1000, batch_size=100))
        gate.wait_held()
        # this run, going (a finished one's head ends with "finished")
        expect(page.locator("#inside-live .ins > .ins-head").first).to_have_text(
            re.compile(r"^lenet on MNIST digits · step \d+ · epoch [\d.]+$"), timeout=30_000)
        with page.expect_request(lambda r: "/gradio_api/" in r.url and "heartbeat" not in r.url,
                                 timeout=15_000) as tick:
            pass                                    # the page's next request to Gradio: its tick
        assert "/gradio_api/run/predict" in tick.value.url, tick.value.url
        gate.release()
