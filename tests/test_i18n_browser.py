"""The page in the reader's language, in a real browser: a Chinese phone sees Chinese, an English
laptop English, the header's switch changes it for that browser only, and errors come back in the
language of the page."""
from __future__ import annotations

import re

import pytest
from conftest import open_tab
from handwriting import DIGITS
from test_draw_browser import CANVAS, Traffic, draw_with_mouse

pytestmark = pytest.mark.browser


def new_page(browser, app_server, locale: str, width: int = 1280):
    context = browser.new_context(viewport={"width": width, "height": 900}, locale=locale)
    page = context.new_page()
    page.goto(app_server[1])
    page.wait_for_selector("[role=tab]")
    return context, page


def tab_titles(page) -> list[str]:
    return [t.strip() for t in page.locator("[role=tab]").all_inner_texts() if t.strip()]


def draw_a_seven(page) -> str:
    page.wait_for_selector(CANVAS)
    traffic = Traffic(page)
    draw_with_mouse(page, DIGITS[7])
    traffic.settle(page)
    return page.inner_text("#draw-answer")


def test_a_chinese_browser_sees_chinese_and_an_english_one_english(browser, app_server):
    zh_context, zh = new_page(browser, app_server, "zh-CN")
    en_context, en = new_page(browser, app_server, "en-US")
    try:
        assert "训练" in tab_titles(zh) and "Train" not in tab_titles(zh)
        assert "Train" in tab_titles(en) and "训练" not in tab_titles(en)
        open_tab(zh, "手写数字")
        answer = draw_a_seven(zh)
        assert re.search(r"7\s+有 \d+% 的把握", answer), answer
        assert "sure" not in answer
        assert "清空" in zh.inner_text("#sketch") and "撤销" in zh.inner_text("#sketch")
        open_tab(en, "Draw")
        answer = draw_a_seven(en)
        assert re.search(r"7\s+\d+% sure", answer), answer
        assert "Clear" in en.inner_text("#sketch")
    finally:
        zh_context.close()
        en_context.close()


def test_the_switch_changes_the_language_of_this_browser_only(browser, app_server):
    context, page = new_page(browser, app_server, "en-US", width=390)     # a phone
    other_context, other = new_page(browser, app_server, "en-US")
    try:
        assert "Weather" in tab_titles(page)                                # (the rest in the "..." menu)
        page.locator("#language-switch").get_by_text("中文").click()
        page.wait_for_load_state()
        page.wait_for_function("() => [...document.querySelectorAll('[role=tab]')]"
                               ".some(t => t.innerText.includes('游乐场'))")
        assert page.locator("#language-switch input[value=zh]").is_checked()
        open_tab(page, "手写数字")
        assert "在框里写一个数字" in page.inner_text("#draw-answer")           # the server's words too
        other.reload()
        other.wait_for_selector("[role=tab]")
        assert "Train" in tab_titles(other)                                 # the class keeps its own
        page.locator("#language-switch").get_by_text("English").click()
        page.wait_for_load_state()
        # The page comes back on the tab it showed (?tab=draw); on a phone the tabs after the first
        # may then sit in the "..." menu (Weather did, on a busy machine), so read the first one.
        page.wait_for_function("() => [...document.querySelectorAll('[role=tab]')]"
                               ".some(t => t.innerText.includes('Playground'))")
        assert not {"游乐场", "天气", "手写数字"} & set(tab_titles(page))
    finally:
        context.close()
        other_context.close()


def test_errors_come_back_in_the_language_of_the_page(browser, app_server):
    for locale, expected in (("zh-CN", "没有名为“no-such-model”的数字模型"),
                             ("en-US", "There is no digit model called 'no-such-model'")):
        context, page = new_page(browser, app_server, locale)
        try:
            open_tab(page, "手写数字" if locale == "zh-CN" else "Draw")
            page.wait_for_selector(CANVAS)
            model = page.locator("#draw-model input")
            model.fill("no-such-model")
            model.press("Enter")
            toast = page.locator(".toast-body").filter(has_text=expected)
            toast.first.wait_for(timeout=30_000)
        finally:
            context.close()
