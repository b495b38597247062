"""The Draw tab in a real browser: digits drawn with the mouse (and a finger) as a person would,
stroke by stroke, and the answer the student sees. The browser answers (cnnlab/ui/web/draw.js);
tests/test_draw_engine_browser.py checks that it does so while the pen moves, with no request,
and that the server's way still answers when it cannot."""
from __future__ import annotations

import json
import re

import pytest
from conftest import open_tab, server_requests
from handwriting import DIGITS

pytestmark = pytest.mark.browser

CANVAS = "#sketch canvas"
AREA = (0.2, 0.15, 0.8, 0.85)           # where on the canvas a person writes the digit


# Whether this browser answers the drawing itself (the engine runs, saliency is off).
BROWSER_ANSWERS = """() => { const r = document.querySelector('#sketch [data-answers]');
    const s = document.querySelector('#draw-saliency input');
    return !!r && r.dataset.answers === 'browser' && !(s && s.checked); }"""
NEXT_FRAME = "() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(r)))"

# What the canvas holds now, as it sends it: its PNG data URL, or '' when empty.
CANVAS_VALUE = """() => { const c = document.querySelector('#sketch canvas');
    const root = c.closest('[data-empty]');
    return root && root.dataset.empty === '1' ? '' : c.toDataURL('image/png'); }"""


class Traffic:
    """The app's requests: which are still open, and which drawings were sent for a prediction."""

    def __init__(self, page):
        self.open: set = set()
        self.asked: list = []                    # (request, the drawing it sent) for each queue join
        self.seen = 0                            # how many of them earlier settles accounted for
        page.on("request", self._sent)
        page.on("requestfinished", lambda r: self.open.discard(r))
        page.on("requestfailed", lambda r: self.open.discard(r))

    def _sent(self, request) -> None:
        if "/gradio_api/" not in request.url:
            return
        self.open.add(request)
        if "queue/join" in request.url:
            try:
                drawing = json.loads(request.post_data or "{}").get("data", [None])[0]
            except (ValueError, AttributeError, IndexError):
                drawing = None
            self.asked.append((request, drawing or ""))

    def settle(self, page, timeout_ms: int = 60_000) -> None:
        """Wait until the drawing now on the canvas is answered: by this browser (the next frames),
        or sent for a prediction with every answer back (no fixed pause: a busy machine only makes
        this wait longer)."""
        if page.evaluate(BROWSER_ANSWERS):
            page.evaluate(NEXT_FRAME)
            self.quiet(page, timeout_ms)
            return
        drawing = page.evaluate(CANVAS_VALUE)
        sent = lambda: any(d == drawing for _, d in self.asked[self.seen:])   # noqa: E731
        waited = 0
        while waited < timeout_ms and (self.open or not sent()):
            page.wait_for_timeout(50)            # lets Playwright deliver the request events
            waited += 50
        assert sent(), f"the drawing on the canvas was not sent within {timeout_ms} ms"
        assert not self.open, f"requests still open after {timeout_ms} ms"
        self.quiet(page)

    def quiet(self, page, timeout_ms: int = 60_000) -> None:
        """Wait until 400 ms pass with no request open (for what the page does on its own)."""
        waited, quiet = 0, 0
        while waited < timeout_ms and quiet < 400:
            page.wait_for_timeout(50)
            waited += 50
            quiet = 0 if self.open else quiet + 50
        assert not self.open, f"requests still open after {timeout_ms} ms"
        self.seen = len(self.asked)


def to_screen(page, stroke):
    box = page.locator(CANVAS).bounding_box()
    x0, y0, x1, y1 = AREA
    return [(box["x"] + (x0 + x * (x1 - x0)) * box["width"], box["y"] + (y0 + y * (y1 - y0)) * box["height"])
            for x, y in stroke]


def draw_with_mouse(page, strokes) -> None:
    for stroke in strokes:
        points = to_screen(page, stroke)
        page.mouse.move(*points[0])
        page.mouse.down()
        for x, y in points[1:]:
            page.mouse.move(x, y, steps=3)
        page.mouse.up()
        page.wait_for_timeout(120)                   # the pen lifts between strokes


def draw_with_finger(page, cdp, strokes) -> None:
    """Real touch events (touchstart/move/end), as a phone's screen sends them."""
    for stroke in strokes:
        points = to_screen(page, stroke)
        x, y = points[0]
        cdp.send("Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": [{"x": x, "y": y}]})
        for x, y in points[1:]:
            cdp.send("Input.dispatchTouchEvent", {"type": "touchMove", "touchPoints": [{"x": x, "y": y}]})
        cdp.send("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})
        page.wait_for_timeout(120)


def shown(page) -> str:
    """What the big answer says: a digit, or the hint's first word."""
    return page.inner_text("#draw-answer").split()[0]


def ink_pixels(page) -> int:
    return page.evaluate("""() => { const c = document.querySelector('#sketch canvas');
        const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data; let n = 0;
        for (let i = 0; i < d.length; i += 4) if (d[i] < 128) n++; return n; }""")


def wait_for_engine(page) -> None:
    """Until the browser answers (its module and the model's weights have arrived)."""
    page.wait_for_selector("#sketch [data-answers=browser]", state="attached", timeout=30_000)


@pytest.fixture()
def draw_page(page):
    open_tab(page, "Draw")           # (the Weather tab comes first)
    page.wait_for_selector(CANVAS)
    wait_for_engine(page)
    return page, Traffic(page)


def test_digits_drawn_with_the_mouse_are_recognised(draw_page):
    page, traffic = draw_page
    results = {}
    for digit in (0, 1, 2, 3, 4, 5, 7):
        if ink_pixels(page):
            page.click("#sketch .cl-clear")
            traffic.settle(page)
        assert ink_pixels(page) == 0 and shown(page) == "Draw"
        draw_with_mouse(page, DIGITS[digit])
        traffic.settle(page)
        results[digit] = shown(page)
        assert re.search(r"\d+% sure", page.inner_text("#draw-answer"))
    right = sum(str(d) == answer for d, answer in results.items())
    assert right >= 6, results


def test_the_pen_is_ready_at_once_and_after_clear(draw_page):
    page, traffic = draw_page
    assert shown(page) == "Draw"                                     # the neutral hint, no error
    draw_with_mouse(page, DIGITS[1])                                 # no tool to pick first
    traffic.settle(page)
    assert ink_pixels(page) > 1000 and shown(page) == "1"
    page.click("#sketch .cl-clear")
    traffic.settle(page)
    assert ink_pixels(page) == 0 and shown(page) == "Draw"
    assert page.locator("#draw-seen img").count() == 0
    draw_with_mouse(page, DIGITS[7])
    traffic.settle(page)
    assert ink_pixels(page) > 1000 and shown(page) == "7"


def test_undo_takes_back_one_stroke_at_a_time(draw_page):
    page, traffic = draw_page
    draw_with_mouse(page, DIGITS[4])                                 # two strokes
    traffic.settle(page)
    assert shown(page) == "4"
    both = ink_pixels(page)
    page.click("#sketch .cl-undo")
    traffic.settle(page)
    assert 0 < ink_pixels(page) < both and shown(page) != "Draw"
    page.click("#sketch .cl-undo")
    traffic.settle(page)
    assert ink_pixels(page) == 0 and shown(page) == "Draw"
    assert page.locator("#sketch .cl-undo").is_disabled()
    draw_with_mouse(page, DIGITS[7])
    page.keyboard.press("Control+z")                                 # the crossbar goes
    traffic.settle(page)
    assert 0 < ink_pixels(page) and shown(page) == "7"


def test_undo_and_clear_work_from_the_keyboard(draw_page):
    page, traffic = draw_page
    draw_with_mouse(page, DIGITS[4])                                 # two strokes
    traffic.settle(page)
    both = ink_pixels(page)
    page.focus("#sketch .cl-undo")
    page.keyboard.press("Enter")
    traffic.settle(page)
    assert 0 < ink_pixels(page) < both                               # exactly one stroke went
    page.focus("#sketch .cl-clear")
    page.keyboard.press("Space")
    traffic.settle(page)
    assert ink_pixels(page) == 0 and shown(page) == "Draw"


def test_saliency_and_the_seen_image_appear_inline(draw_page):
    page, traffic = draw_page
    images = []
    page.on("request", lambda r: images.append(r.url) if "/file=" in r.url else None)
    draw_with_mouse(page, DIGITS[2])
    traffic.settle(page)
    page.check("#draw-saliency input")
    traffic.settle(page)
    assert page.locator("#draw-seen img").get_attribute("src").startswith("data:image/png")
    assert page.locator("#draw-heat img").get_attribute("src").startswith("data:image/png")
    assert images == []                                             # nothing downloaded separately


def test_a_stroke_costs_no_request_and_saliency_one(draw_page):
    page, traffic = draw_page
    traffic.quiet(page)                                             # what the page does on load
    sent = server_requests(page)
    draw_with_mouse(page, DIGITS[1])
    traffic.settle(page)
    assert shown(page) == "1" and sent == []                        # answered here, nothing sent
    page.check("#draw-saliency input")                              # saliency: the server's, on demand
    traffic.settle(page)
    before = len(traffic.asked)
    sent.clear()
    draw_with_mouse(page, DIGITS[7][:1])
    traffic.settle(page)
    drawings = [d for _, d in traffic.asked[before:] if str(d).startswith("data:image/png")]
    assert drawings == [page.evaluate(CANVAS_VALUE)]                # one join, with the drawing in it
    assert not [u for u in sent if "/upload" in u or "component_server" in u], sent   # nothing else sent


def test_drawing_with_a_finger_on_a_phone(browser, app_server):
    context = browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=2,
                                  is_mobile=True, has_touch=True)
    try:
        page = context.new_page()
        page.goto(app_server[1])
        open_tab(page, "Draw")
        page.wait_for_selector(CANVAS)
        wait_for_engine(page)
        traffic = Traffic(page)
        cdp = context.new_cdp_session(page)
        box = page.locator(CANVAS).bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= 390 and box["width"] >= 280   # fits, big enough
        assert page.evaluate("document.documentElement.scrollWidth") <= 390              # no sideways scrolling
        page.locator(CANVAS).scroll_into_view_if_needed()
        scrolled = page.evaluate("window.scrollY")
        draw_with_finger(page, cdp, DIGITS[4])
        traffic.settle(page)
        assert page.evaluate("window.scrollY") == scrolled          # drawing does not scroll the page
        assert shown(page) == "4"
        canvas, answer = page.locator(CANVAS).bounding_box(), page.locator("#draw-answer").bounding_box()
        assert 0 <= answer["y"] - (canvas["y"] + canvas["height"]) < 120   # the answer right under it
        draw_with_finger(page, cdp, DIGITS[1])                      # a quick stroke, then at once
        page.locator("#sketch .cl-clear").tap()                      # Clear, answer still on its way:
        traffic.settle(page)                                         # one tap is enough
        assert ink_pixels(page) == 0 and shown(page) == "Draw"
        draw_with_finger(page, cdp, DIGITS[7])
        traffic.settle(page)
        assert shown(page) == "7"
        page.locator("#sketch .cl-undo").tap()
        traffic.settle(page)
        assert 0 < ink_pixels(page)
    finally:
        context.close()
