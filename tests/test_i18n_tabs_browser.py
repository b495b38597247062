"""The Inside, t-SNE and Photo tabs on a Chinese phone (zh-CN, 390 px): static words, answers made
by the server and errors all in Chinese, with nothing left in English."""
from __future__ import annotations

from pathlib import Path

import pytest
from conftest import open_tab
from handwriting import DIGITS
from test_inside_browser import Traffic, draw

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.browser


def test_a_chinese_phone_sees_the_three_tabs_in_chinese(browser, app_server, tmp_path):
    from playwright.sync_api import expect
    context = browser.new_context(viewport={"width": 390, "height": 844}, locale="zh-CN")
    page = context.new_page()
    # the server's walk and words (the browser's own walk is tests/test_inside_engine_browser.py)
    page.route("**/cnnlab/web/**", lambda route: route.abort())
    try:
        page.goto(app_server[1])
        traffic = Traffic(page)
        # Inside: the walk of a drawn digit, in Chinese
        open_tab(page, "网络内部")
        page.wait_for_selector("#inside-sketch canvas")
        traffic.settle(page)
        expect(page.locator("#inside-layers")).to_contain_text("在画板上写一个数字")
        expect(page.locator("#inside-intro")).to_contain_text("特征图")
        draw(page, DIGITS[3])
        traffic.settle(page)
        layers = page.inner_text("#inside-layers")
        assert "卷积层 1" in layers and "最大池化" in layers and "网络的判断：3" in layers, layers[:300]
        assert "Convolution" not in layers and "parameters" not in layers
        # t-SNE: the map's line and legend
        open_tab(page, "t-SNE")
        expect(page.locator("#tsne-info")).to_contain_text("张测试图片", timeout=90_000)
        expect(page.locator("#tsne-colour")).to_contain_text("正确 / 错误")
        # Photo: a Chinese answer, Chinese examples, a Chinese error
        open_tab(page, "照片")
        page.wait_for_selector("#photo-input input[type=file]", state="attached")
        expect(page.locator("#photo-task")).to_contain_text("服饰")
        page.locator("#photo-input input[type=file]").set_input_files(str(ROOT / "demo" / "fashion-sneaker.jpg"))
        expect(page.locator("#photo-verdict")).to_contain_text("运动鞋", timeout=30_000)
        expect(page.locator("#photo-verdict")).to_contain_text("我比较有把握")
        expect(page.locator("#photo-probs")).to_contain_text("运动鞋")
        expect(page.get_by_text("大丽花（不在这 5 种里）")).to_be_visible()
        bad = tmp_path / "holiday.jpg"
        bad.write_text("this is not really a photo\n" * 40)
        page.locator("#photo-input input[type=file]").set_input_files(str(bad))
        expect(page.get_by_text("这个文件不是本应用能读取的图片").first).to_be_visible(timeout=30_000)
        expect(page.locator("#photo-verdict")).to_contain_text("没有成功")
    finally:
        context.close()
