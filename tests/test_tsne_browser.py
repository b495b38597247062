"""The t-SNE tab in a real browser: opening it shows the map (dots drawn by Vega), hovering a dot
shows its true and predicted class with the picture, and a digit drawn in the Draw tab lands on
the map as a star (in its own colour, also after switching to the right/wrong colours)."""
from __future__ import annotations

import pytest
from conftest import open_tab as open_named_tab
from playwright.sync_api import TimeoutError as PlaywrightTimeout
from playwright.sync_api import expect

pytestmark = pytest.mark.browser

DOTS = "#tsne-scatter svg .role-mark.mark-symbol path"
# How many dots of each stroke colour the map shows ("none" = a dot Vega drew without a colour).
STROKES = """(el) => { const c = {}; el.querySelectorAll('svg .role-mark.mark-symbol path').forEach((p) => {
  const k = (p.getAttribute('stroke') || 'none').toLowerCase(); c[k] = (c[k] || 0) + 1; }); return c; }"""


def colours_when(page, condition: str, timeout_ms: int = 30_000) -> dict:
    """The dot colours, once ``condition`` (a JS function of them) holds or the time is up."""
    try:
        page.wait_for_function(f"() => {{ const el = document.querySelector('#tsne-scatter');"
                               f" return el && ({condition})(({STROKES})(el)); }}", timeout=timeout_ms)
    except PlaywrightTimeout:
        pass                                                            # the assertion says what was there
    return page.locator("#tsne-scatter").evaluate(STROKES)


def open_tab(page):
    open_named_tab(page, "t-SNE")
    expect(page.locator("#tsne-info")).to_contain_text("test pictures", timeout=60_000)
    expect(page.locator(DOTS)).to_have_count(2000, timeout=30_000)      # one dot per test picture


def test_opening_the_tab_shows_the_map_and_hover_tells_the_classes(page):
    open_tab(page)
    expect(page.locator("#tsne-legend")).to_contain_text("9")           # the class colours, explained
    strokes = page.locator("#tsne-scatter").evaluate(STROKES)
    assert "none" not in strokes and len(strokes) == 10, strokes        # ten classes, ten colours

    dots, tooltip = page.locator(DOTS), page.locator("#vg-tooltip-element")
    for k in (0, 500, 1000, 1500):                                     # hover dots until one answers
        dots.nth(k).hover(force=True)
        try:
            tooltip.wait_for(state="visible", timeout=5_000)
            break
        except PlaywrightTimeout:                                       # covered by other dots: next
            continue
    expect(tooltip).to_contain_text("true")
    expect(tooltip).to_contain_text("predicted")
    expect(tooltip.locator("img")).to_have_count(1)                   # the picture itself


def test_a_drawing_from_the_draw_tab_lands_as_a_star(page, app_server):
    sketch = app_server[0].offered["drawing"]
    open_named_tab(page, "Draw")
    canvas = page.locator(f"#{sketch.elem_id} canvas").first
    expect(canvas).to_be_visible(timeout=30_000)
    box = canvas.bounding_box()
    x, y, w = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2, box["width"]
    page.mouse.move(x - 0.15 * w, y - 0.3 * w)                          # a 7: the bar, then the leg
    page.mouse.down()
    page.mouse.move(x + 0.15 * w, y - 0.3 * w, steps=8)
    page.mouse.move(x - 0.05 * w, y + 0.3 * w, steps=12)
    page.mouse.up()
    expect(page.locator("#draw-answer")).to_contain_text("sure", timeout=30_000)   # the stroke was read

    open_tab(page)
    page.locator("#tsne-place-drawing").click()
    expect(page.locator("#tsne-placed")).to_contain_text("lands among", timeout=30_000)
    expect(page.locator(DOTS)).to_have_count(2041, timeout=15_000)      # the star: 41 dots
    strokes = colours_when(page, "(c) => c['#ff00ff'] === 41 && !('none' in c)")
    assert strokes.get("#ff00ff") == 41 and "none" not in strokes, strokes

    page.locator("#tsne-colour label").nth(1).click()                   # colour by right / wrong
    strokes = colours_when(page, "(c) => (c['#0072b2'] || 0) > 1900")
    assert set(strokes) <= {"#0072b2", "#d55e00", "#ff00ff"} and strokes.get("#0072b2", 0) > 1900, strokes
    expect(page.locator("#tsne-legend")).to_contain_text("wrong")
