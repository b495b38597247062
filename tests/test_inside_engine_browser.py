"""The Inside tab's live walk in the student's browser (cnnlab/ui/web/inside.js, walk.js): every
layer of the shipped CNN follows the pen while it is still down, with no request; a tapped map
opens with its kernel and the multiply-and-add at a pixel, from the model's own numbers; colours
come from the server's palette (cnnlab.lessons.inside.PALETTE)."""
from __future__ import annotations

import re

import pytest
from conftest import open_tab, server_requests
from handwriting import DIGITS
from test_inside_browser import AREA, CANVAS

from cnnlab.lessons.inside import PALETTE

pytestmark = pytest.mark.browser

LAYER_SHAPES = ["1 × 28 × 28", "16 × 28 × 28", "16 × 28 × 28", "16 × 14 × 14", "32 × 14 × 14",
                "32 × 14 × 14", "32 × 7 × 7", "1568", "10", "10"]
PIXELS = """(sel) => { const c = document.querySelector(sel); const d = c.getContext('2d')
    .getImageData(0, 0, c.width, c.height).data; const out = new Set();
    for (let i = 0; i < d.length; i += 4) out.add(d[i] + ',' + d[i + 1] + ',' + d[i + 2]); return [...out]; }"""


def points(page, stroke):
    box = page.locator(CANVAS).bounding_box()
    x0, y0, x1, y1 = AREA
    return [(box["x"] + (x0 + x * (x1 - x0)) * box["width"], box["y"] + (y0 + y * (y1 - y0)) * box["height"])
            for x, y in stroke]


def maps_signature(page) -> str:
    return page.evaluate("""() => [...document.querySelectorAll('#inside-web canvas.wl-maps')]
        .map((c) => c.toDataURL()).join('|')""")


def test_the_walk_follows_the_pen_in_the_browser(page):
    open_tab(page, "Inside")
    page.wait_for_selector(CANVAS)
    page.wait_for_selector("#inside-sketch [data-answers=browser]", state="attached", timeout=30_000)
    page.locator(CANVAS).scroll_into_view_if_needed()
    sent = server_requests(page)
    stroke = points(page, DIGITS[7][0])
    page.mouse.move(*stroke[0])
    page.mouse.down()
    half = len(stroke) // 2
    for x, y in stroke[1:half + 1]:
        page.mouse.move(x, y, steps=2)
    page.wait_for_timeout(100)
    shapes = page.eval_on_selector_all("#inside-web .ins-shape", "els => els.map(e => e.textContent)")
    assert shapes == LAYER_SHAPES
    before = maps_signature(page)
    for x, y in stroke[half + 1:]:
        page.mouse.move(x, y, steps=2)
    page.wait_for_timeout(100)
    assert maps_signature(page) != before                   # every layer followed, the pen still down
    page.mouse.up()
    page.wait_for_timeout(200)
    assert sent == []
    assert not page.locator("#inside-layers").is_visible()  # the server's walk waits for those who need it
    palette = {",".join(str(int(v)) for v in rgb) for rgb in PALETTE}
    colours = set(page.evaluate(PIXELS, "#inside-web canvas.wl-maps[data-layer='1']"))
    assert colours <= palette | {"255,255,255"} and len(colours) > 5

    # A map of the first convolution opens; a pixel of it shows the multiply-and-add.
    page.locator("#inside-web canvas.wl-maps[data-layer='1']").click(position={"x": 5, "y": 5})
    detail = page.locator("#inside-web .wl-detail")
    assert re.search(r"Convolution, map 1: pixel \(row \d+, column \d+\)", detail.inner_text())
    big = page.locator("#inside-web canvas.wl-big")
    box = big.bounding_box()
    big.click(position={"x": box["width"] * 14.5 / 28, "y": box["height"] * 14.5 / 28})
    text = detail.inner_text()
    assert "pixel (row 14, column 14)" in text and "25 products added up" in text    # a 5 x 5 kernel
    assert page.locator("#inside-web .ins-table td").count() == 25
    # the sum written out is the map's value at that pixel
    value = re.search(r"= (−?[\d.]+)\n", text + "\n").group(1)
    total = re.search(r"bias −?[\d.]+ = (−?[\d.]+)", text).group(1)
    assert value == total
    sent.clear()
    page.locator(CANVAS).scroll_into_view_if_needed()
    page.mouse.move(*points(page, DIGITS[7][1])[0])          # the open detail follows the pen too
    page.mouse.down()
    for x, y in points(page, DIGITS[7][1]):
        page.mouse.move(x, y, steps=2)
    page.mouse.up()
    page.wait_for_timeout(200)
    assert sent == []
