"""The Draw tab answers in the student's browser (cnnlab/ui/web/draw.js): while the pen is still
down, with the mouse and with a finger, on a desktop and a phone screen; with no request to the
server per stroke; with the same answer as the server's /predict_drawing for the same canvas; and
where the page's modules cannot load, the server's way answers as before."""
from __future__ import annotations

import re

import pytest
from conftest import open_tab, server_requests
from handwriting import DIGITS
from test_draw_browser import CANVAS, CANVAS_VALUE, Traffic, draw_with_mouse, shown, to_screen, wait_for_engine

pytestmark = pytest.mark.browser

SIZES = {"desktop": dict(viewport={"width": 1280, "height": 900}),
         "phone": dict(viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True,
                       has_touch=True)}


def answer_text(page) -> str:
    return " ".join(page.inner_text("#draw-answer").split())


def bars(page) -> dict[str, float]:
    """The browser's ten bars: {digit: percent}."""
    rows = page.locator("#draw-bars .cl-bar-row")
    return {rows.nth(k).locator(".cl-bar-name").inner_text():
            float(rows.nth(k).locator(".cl-bar-p").inner_text().rstrip("%"))
            for k in range(rows.count())}


class Pen:
    """A pen that can stay down: the mouse, or a finger (touch events through the DevTools protocol)."""

    def __init__(self, page, context, touch: bool):
        self.page, self.touch = page, touch
        self.cdp = context.new_cdp_session(page) if touch else None

    def down(self, x, y):
        if self.touch:
            self.cdp.send("Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": [{"x": x, "y": y}]})
        else:
            self.page.mouse.move(x, y)
            self.page.mouse.down()

    def move(self, x, y):
        if self.touch:
            self.cdp.send("Input.dispatchTouchEvent", {"type": "touchMove", "touchPoints": [{"x": x, "y": y}]})
        else:
            self.page.mouse.move(x, y, steps=2)

    def up(self):
        if self.touch:
            self.cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
        else:
            self.page.mouse.up()


@pytest.fixture(params=["desktop", "phone"])
def screen(request, browser, app_server):
    context = browser.new_context(locale="en-US", **SIZES[request.param])
    page = context.new_page()
    page.goto(app_server[1])
    open_tab(page, "Draw")
    page.wait_for_selector(CANVAS)
    wait_for_engine(page)
    yield page, context, request.param == "phone"
    context.close()


def test_the_answer_changes_while_the_pen_is_down_and_nothing_is_sent(screen):
    page, context, touch = screen
    pen = Pen(page, context, touch)
    sent = server_requests(page)
    page.locator(CANVAS).scroll_into_view_if_needed()
    # A 1 (the stroke of a 7 without its bar), then, without lifting the pen, the 7's bar: the
    # answer follows the pen.
    one = to_screen(page, [(0.5, 0.0), (0.5, 0.35), (0.5, 0.7), (0.5, 1.0)])
    pen.down(*one[0])
    for p in one[1:]:
        pen.move(*p)
        page.wait_for_timeout(30)
    first = answer_text(page)
    assert re.match(r"^\d \d+% sure", first), first
    bar = to_screen(page, [(0.5, 1.0), (0.3, 0.7), (0.1, 0.4), (0.0, 0.0), (0.4, 0.0), (0.8, 0.0), (1.0, 0.0)])
    seen = {first}
    for p in bar:
        pen.move(*p)
        page.wait_for_timeout(30)
        seen.add(answer_text(page))
    assert len(seen) > 1, seen                                     # it changed, the pen still down
    assert page.locator("#draw-seen canvas.pixels").count() == 1   # what the network sees, drawn here
    assert abs(sum(bars(page).values()) - 100) <= 6               # ten bars, rounded percentages
    pen.up()
    page.wait_for_timeout(300)
    assert sent == [], sent                                        # no request for the whole stroke
    assert page.evaluate("document.documentElement.scrollWidth") <= page.viewport_size["width"]


def test_the_browser_answers_as_the_server_does(page, client):
    open_tab(page, "Draw")
    page.wait_for_selector(CANVAS)
    wait_for_engine(page)
    for digit in (2, 3, 8):
        if page.evaluate(CANVAS_VALUE):
            page.click("#sketch .cl-clear")
        draw_with_mouse(page, DIGITS[digit])
        page.wait_for_timeout(200)
        here = answer_text(page)
        verdict, probs, _, _ = client.predict(page.evaluate(CANVAS_VALUE), "mnist-cnn", False,
                                              api_name="/predict_drawing")
        server = " ".join(re.sub(r"<[^>]+>", " ", verdict).split())
        assert here == server, (here, server)
        theirs = {c["label"]: 100 * c["confidence"] for c in probs["confidences"]}
        ours = bars(page)
        assert ours.keys() == theirs.keys()
        assert max(abs(ours[k] - theirs[k]) for k in ours) <= 0.51, (ours, theirs)


def test_without_the_engine_the_server_answers(browser, app_server):
    """An old browser or a proxy that drops the page's modules: every stroke goes to the server."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-US")
    try:
        page = context.new_page()
        page.route("**/cnnlab/web/**", lambda route: route.abort())
        page.goto(app_server[1])
        open_tab(page, "Draw")
        page.wait_for_selector(CANVAS)
        traffic = Traffic(page)
        draw_with_mouse(page, DIGITS[7])
        traffic.settle(page)
        assert shown(page) == "7" and re.search(r"\d+% sure", page.inner_text("#draw-answer"))
        assert page.locator("#probs").is_visible()                  # Gradio's Label, the server's bars
        assert page.locator("#sketch [data-answers=browser]").count() == 0
    finally:
        context.close()


def test_a_model_the_browser_cannot_fetch_falls_back_to_the_server(browser, app_server):
    """The weights route refuses (as for an LSTM: 422): the server answers that model's strokes."""
    context = browser.new_context(viewport={"width": 1280, "height": 900}, locale="en-US")
    try:
        page = context.new_page()
        page.route("**/cnnlab/weights/**", lambda route: route.fulfill(status=422, body="server only"))
        page.goto(app_server[1])
        open_tab(page, "Draw")
        page.wait_for_selector(CANVAS)
        page.wait_for_selector("#sketch [data-answers=server]", state="attached", timeout=30_000)
        traffic = Traffic(page)
        draw_with_mouse(page, DIGITS[4])
        traffic.settle(page)
        assert shown(page) == "4" and page.locator("#probs").is_visible()
    finally:
        context.close()
