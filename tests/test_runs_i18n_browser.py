"""Compare runs and the hyperparameter grid on a Chinese phone (issue 18): the section's words,
the grid's choices, its size line and refusal, and the compare table's headers are Chinese, and
the section still fits 390 px."""
from __future__ import annotations

import pytest
from conftest import open_tab
from playwright.sync_api import expect

pytestmark = pytest.mark.browser


def test_a_chinese_phone_sees_the_grid_and_the_table_in_chinese(browser, app_server, idle_job):
    context = browser.new_context(viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True,
                                  has_touch=True, locale="zh-CN")
    try:
        page = context.new_page()
        page.goto(app_server[1])
        open_tab(page, "训练")
        section = page.locator("#runs-section")
        expect(section).to_contain_text("比较训练", timeout=30_000)
        expect(page.locator("#runs-table")).to_contain_text("测试准确率", timeout=15_000)   # the first tick
        grid = page.locator("#runs-grid-section")
        grid.get_by_text("超参数网格").first.click()
        expect(page.locator("#runs-grid-size")).to_contain_text("共 4 种配置（2 x 2 x 1 x 1）", timeout=15_000)
        expect(page.locator("#runs-grid-lrs")).to_contain_text("用逗号分隔")
        page.locator("#runs-grid-models").get_by_label("MLP（2 个隐藏层）").check()
        page.locator("#runs-grid-optimizers").get_by_label("SGD").check()
        page.locator("#runs-grid-lrs textarea").fill("0.1, 0.01, 0.001")
        page.locator("#runs-grid-lrs textarea").blur()
        refused = "✗ 24 种配置（3 x 2 x 2 x 2）超过了一个网格最多允许的 12 种"
        expect(page.locator("#runs-grid-size")).to_contain_text(refused, timeout=15_000)
        width = page.evaluate("() => document.documentElement.scrollWidth")
        assert width <= 390, f"the page scrolls sideways: {width} px"
        page.locator("#runs-grid-size").scroll_into_view_if_needed()
        page.screenshot(path="/tmp/runs-zh-phone.png", full_page=False)
    finally:
        context.close()
