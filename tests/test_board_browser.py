"""A student draws on the Draw tab, taps the digit they meant, and the Class board shows it,
in a real (headless) Chromium against the real app. A second student's drawing, sent meanwhile,
appears on the open board without a reload; the teacher downloads the drawings."""
from __future__ import annotations

import pytest
import torch
from conftest import open_tab, served

pytestmark = pytest.mark.browser


@pytest.fixture(scope="module")
def real_app(tmp_path_factory, data_root):
    """The whole app (real Draw tab) with an untrained MNIST CNN: the board only records what the
    network said, right or wrong."""
    from cnnlab.config import AppConfig
    from cnnlab.core import checkpoints, datasets
    from cnnlab.core.nets.models import build_model

    ck = tmp_path_factory.mktemp("checkpoints")
    torch.manual_seed(0)
    checkpoints.save(ck / "mnist-cnn.pt", build_model("cnn", datasets.get_spec("mnist")), "cnn", "mnist")
    config = AppConfig(data_dir=str(data_root), checkpoint_dir=str(ck), runs_dir=str(tmp_path_factory.mktemp("runs")))
    with served(config) as (demo, url):
        yield url, demo.ctx


def draw_stroke(page):
    from playwright.sync_api import expect
    page.wait_for_selector("#sketch canvas")
    expect(page.locator("#sketch")).not_to_contain_text("select the draw tool", timeout=10_000)  # brush armed
    box = page.locator("#sketch canvas").first.bounding_box()
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    page.mouse.move(cx - 10, cy - 80)
    page.mouse.down()
    page.mouse.move(cx + 10, cy + 80, steps=12)
    page.mouse.up()


def send_from_another_phone(url, tmp_path):
    from gradio_client import Client, handle_file
    from PIL import Image, ImageDraw
    image = Image.new("L", (280, 280), 255)
    ImageDraw.Draw(image).ellipse([70, 50, 210, 230], outline=0, width=22)
    image.save(tmp_path / "zero.png")
    sketch = {"background": None, "layers": [], "composite": handle_file(str(tmp_path / "zero.png")), "id": None}
    client = Client(url, verbose=False)
    try:
        client.predict(sketch, "mnist-cnn", False, api_name="/predict_digit")
        client.predict("0", "Max", api_name="/board_submit")
    finally:
        client.close()


def test_a_drawing_sent_from_the_draw_tab_shows_on_the_class_board(browser, real_app, tmp_path):
    from playwright.sync_api import expect
    url, ctx = real_app
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    try:
        page.goto(url)
        open_tab(page, "Draw")        # (the Weather tab comes first)
        draw_stroke(page)
        expect(page.locator("#draw-answer")).to_contain_text("sure", timeout=20_000)
        page.locator("#board-nickname").locator("input, textarea").first.fill("<b>Zoe</b>")
        page.locator("#meant-7").click()
        confirm = page.locator("#board-confirm")
        expect(confirm).to_contain_text("Sent, <b>Zoe</b>!", timeout=15_000)   # shown as text, not markup
        expect(confirm).to_contain_text("You meant 7")
        expect(page.locator("#draw-answer")).to_contain_text("Draw a digit", timeout=10_000)  # canvas cleared
        [stored] = ctx.board.submissions()
        assert (stored.intended, stored.nickname) == (7, "<b>Zoe</b>")

        open_tab(page, "Class board")
        gallery = page.locator("#board-gallery")
        caption = f"meant 7 → saw {stored.predicted} · <b>Zoe</b>"
        expect(gallery).to_contain_text(caption, timeout=15_000)
        assert gallery.locator("b").count() == 0                    # the nickname made no element
        expect(page.locator("#board-accuracy")).to_contain_text("of 1)")
        expect(page.locator("#board-accuracy")).to_contain_text("0 wrong" if stored.correct else "1 wrong")

        # Tap the confusion-matrix cell that holds the drawing: its drawings open underneath.
        page.locator(f'#board-matrix [data-testid="cell-7-{1 + stored.predicted}"]').click()
        expect(page.locator("#board-cell-info")).to_contain_text("1 drawing", timeout=10_000)
        expect(page.locator("#board-cell")).to_contain_text(caption)

        # Another student sends a drawing: the open board shows it without a reload.
        send_from_another_phone(url, tmp_path)
        expect(gallery).to_contain_text("· Max", timeout=15_000)
        expect(page.locator("#board-accuracy")).to_contain_text("of 2)")
        page.screenshot(path=str(tmp_path / "class-board.png"), full_page=True)

        # The teacher (no key set in this app) downloads the class's drawings.
        page.get_by_text("Teacher: boards, export").click()
        page.locator("#board-export-zip").click()
        expect(page.locator("#board-zip")).to_contain_text(".zip", timeout=15_000)
    finally:
        context.close()
