"""Lead and follow in real browsers: the teacher's page and two students' (one a 390 px phone,
one in Chinese) on the README's 20-minute lesson, the addresses that open a tab, and the phone's
header."""
from __future__ import annotations

import pytest
from conftest import ROOT, open_tab, served

pytestmark = pytest.mark.browser

KEY = "owl-7"
CURRENT_TAB = "() => document.querySelector('#lesson-tabs > .tab-wrapper [role=tablist] " \
              "button[role=tab][aria-selected=true]')?.dataset.tabId || null"
# How fast the phones follow is bench/follow_load.py's figure; here a move only has to arrive.
FOLLOW_MS = 15_000
# Every lead state a page receives, kept for the test: a page that does not follow has still
# heard the move, so "it stayed" is checked after the news arrived, never after a pause.
HEARD = "window.addEventListener('cnnlab:lead', (e) => { window.cnnlabHeard = e.detail; });"


@pytest.fixture(scope="module")
def lesson_url(tmp_path_factory, data_root):
    """The app as a teacher starts it for the lesson: `--lesson cnn-20` (its tabs and Inside) with a
    teacher key, on a free loopback port."""
    from cnnlab.config import AppConfig
    config = AppConfig(data_dir=str(data_root), checkpoint_dir=str(ROOT / "checkpoints"),
                       runs_dir=str(tmp_path_factory.mktemp("lesson-runs")), teacher_key=KEY, lesson="cnn-20",
                       tabs="draw,inside,train,tsne,board")
    with served(config) as (_, url):
        yield url


def open_page(browser, url: str, width: int, locale: str, height: int = 844):
    context = browser.new_context(viewport={"width": width, "height": height}, locale=locale)
    context.add_init_script(HEARD)
    page = context.new_page()
    page.goto(url)
    page.wait_for_selector("#lesson-tabs [role=tab]")
    return page


def on_tab(page) -> str | None:
    return page.evaluate(CURRENT_TAB)


def wait_tab(page, tab: str, timeout_ms: int = FOLLOW_MS) -> None:
    page.wait_for_function(f"() => ({CURRENT_TAB})() === '{tab}'", timeout=timeout_ms)


def wait_heard(page, tab: str) -> None:
    """Until ``page`` has received the class's move to ``tab`` (whether or not it followed)."""
    page.wait_for_function(f"() => window.cnnlabHeard?.tab === '{tab}'", timeout=FOLLOW_MS)


def test_the_teacher_leads_and_the_phones_follow(browser, lesson_url):
    teacher = open_page(browser, lesson_url + "?lead", 1280, "en-US", 900)
    bar = teacher.locator("#cnnlab-lead")
    teacher.fill("#cnnlab-lead .cl-key-input", "fox")                   # a wrong key gets a sentence
    teacher.locator("#cnnlab-lead .cl-key button[type=submit]").click()
    bar.get_by_text("That is not the teacher key").wait_for()
    teacher.fill("#cnnlab-lead .cl-key-input", KEY)
    teacher.locator("#cnnlab-lead .cl-key button[type=submit]").click()
    bar.locator(".cl-notes").wait_for()                                   # the notes come with the key's answer
    bar.get_by_text("Step 1 of 5").wait_for()
    assert on_tab(teacher) == "draw"

    phone = open_page(browser, lesson_url, 390, "en-US")
    chinese = open_page(browser, lesson_url, 1024, "zh-CN", 800)
    for student in (phone, chinese):                                      # late joiners land where the class is
        student.locator("#cnnlab-lead .cl-say").first.wait_for()
        assert on_tab(student) == "draw" and student.locator(".cl-notes").count() == 0
    assert phone.locator("#cnnlab-lead").get_by_text("Draw digits on your phone").is_visible()
    assert chinese.locator("#cnnlab-lead").get_by_text("在手机上写数字").is_visible()

    teacher.get_by_role("tab", name="Inside", exact=True).click()         # the teacher opens Inside
    for student in (phone, chinese):
        wait_tab(student, "inside")

    chinese.get_by_role("button", name="不再跟随").click()                 # one student stops following
    chinese.locator("#cnnlab-lead").get_by_text("没有跟随老师").wait_for()
    teacher.get_by_role("tab", name="t-SNE", exact=True).click()
    wait_tab(phone, "tsne")
    wait_heard(chinese, "tsne")
    assert on_tab(chinese) == "inside"                                    # ... and stays

    teacher.locator("#cnnlab-lead .cl-next").click()                     # Next: the plan's step 2, the board
    bar.get_by_text("Step 2 of 5").wait_for()
    wait_tab(teacher, "board")
    wait_tab(phone, "board")
    assert phone.locator("#cnnlab-lead").get_by_text("Send a drawing to the class board").is_visible()
    assert phone.locator("#cnnlab-lead .cl-step").inner_text() == "Step 2 of 5"
    wait_heard(chinese, "board")
    assert on_tab(chinese) == "inside"

    chinese.get_by_role("button", name="跟随老师").click()                 # following again: where the class is
    wait_tab(chinese, "board")
    chinese.locator("#cnnlab-lead").get_by_text("第 2 步，共 5 步").wait_for()
    bar.get_by_text("2 of 2 students follow").wait_for(timeout=15000)
    assert "tab=board" in phone.url                                       # the address names the tab
    for page in (teacher, phone, chinese):
        page.context.close()


def test_a_phone_shows_the_lesson_not_the_chrome(browser, lesson_url):
    """390 px: the header on one line, the step's sentence on screen, every tab in at most two taps."""
    for locale in ("en-US", "zh-CN"):
        phone = open_page(browser, lesson_url, 390, locale)
        phone.locator("#cnnlab-lead .cl-say").first.wait_for()
        header = phone.locator("#header").bounding_box()
        title = phone.locator("#title h1").bounding_box()
        assert header["height"] <= 56 and title["height"] <= 40, (locale, header, title)
        for hidden in ("#projector-toggle", "#lead-toggle"):
            assert not phone.locator(hidden).is_visible()
        say = phone.locator("#cnnlab-lead .cl-say").first.bounding_box()
        assert say["y"] + say["height"] <= 844 and say["width"] > 200
        phone.get_by_role("button", name="Stop following" if locale == "en-US" else "不再跟随").click()
        for tab in ("draw", "inside", "train", "tsne", "board"):
            in_bar = phone.locator(f"#lesson-tabs [role=tablist] button[data-tab-id={tab}]")
            if in_bar.count() and in_bar.is_visible():
                in_bar.click()                                            # one tap
            else:
                label = phone.evaluate(f"() => document.querySelectorAll('#lesson-tabs .tab-container.visually-hidden"
                                       f" button')[{['draw', 'inside', 'train', 'tsne', 'board'].index(tab)}]"
                                       f".textContent.trim()")
                phone.locator("#lesson-tabs .overflow-menu > button").click()              # tap 1: the "..." menu
                phone.locator("#lesson-tabs .overflow-dropdown button", has_text=label).click()   # tap 2
            wait_tab(phone, tab, 5000)
        phone.context.close()


def test_an_address_opens_a_tab_in_a_language(browser, app_server):
    """/?tab=inside&lang=zh: that tab, in Chinese, on a phone whose own language is English."""
    page = open_page(browser, app_server[1] + "?tab=inside&lang=zh", 390, "en-US")
    wait_tab(page, "inside", 10000)
    page.wait_for_function("() => document.documentElement.lang === 'zh-CN'")
    page.get_by_role("tab", name="网络内部").wait_for()
    open_tab(page, "手写数字")
    page.wait_for_function("() => new URL(location.href).searchParams.get('tab') === 'draw'")
    page.context.close()
