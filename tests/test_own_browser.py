"""The Own classes tab in a real (headless Chromium) browser: the teacher creates two classes,
adds pictures, trains and sees the answer; on a phone a student adds a picture to an open class
and the count on the page grows."""
from __future__ import annotations

import pytest
from conftest import open_tab

from cnnlab.core import datasets
from cnnlab.lessons.own.model import space_for

pytestmark = pytest.mark.browser

FLOWERS = datasets.get_spec("flowers5").folder     # the flower photos' folder under the data root


@pytest.fixture()
def empty_store(app_server, flowers_root):
    """No own classes before and after (the server is shared by all tests)."""
    store = space_for(app_server[0].ctx.config.runs_dir).store

    def empty():
        for c in store.classes():
            store.delete(c.id)
    empty()
    yield store
    empty()


def flowers(root, name, n, split="train"):
    return [str(p) for p in sorted((root / FLOWERS / split / name).glob("*.jpg"))[:n]]


def create_class(page, name):
    from playwright.sync_api import expect
    page.locator("#own-new-name textarea, #own-new-name input").first.fill(name)
    page.locator("#own-create").click()
    expect(page.locator("#own-notice")).to_contain_text(f"Added the class '{name}'", timeout=15_000)
    expect(page.locator(f"#own-counts .own-class[data-name='{name}']")).to_be_visible(timeout=15_000)


def add_files(page, files, name, count):
    from playwright.sync_api import expect
    page.locator("#own-files input[type=file]").set_input_files(files)
    expect(page.locator("#own-added")).to_contain_text(f"Added {len(files)} picture(s) to '{name}'", timeout=30_000)
    expect(page.locator(f"#own-counts .own-class[data-name='{name}']")).to_have_attribute(
        "data-count", str(count), timeout=15_000)


def test_teacher_makes_two_classes_adds_pictures_trains_and_sees_the_answer(page, empty_store, idle_job,
                                                                           flowers_root):
    from playwright.sync_api import expect
    open_tab(page, "Own classes")
    page.wait_for_selector("#own-create")
    create_class(page, "daisy")
    add_files(page, flowers(flowers_root, "daisy", 6), "daisy", 6)
    create_class(page, "sunflower")
    add_files(page, flowers(flowers_root, "sunflower", 6), "sunflower", 6)
    expect(page.locator("#own-counts img")).to_have_count(12, timeout=15_000)        # thumbnails
    page.locator("#own-train").click()
    expect(page.locator("#own-status")).to_contain_text("held-out pictures", timeout=180_000)
    expect(page.locator("#own-cm img")).to_be_visible(timeout=15_000)
    page.locator("#own-test-input input[type=file]").set_input_files(flowers(flowers_root, "sunflower", 1, "test"))
    expect(page.locator("#own-probs")).to_contain_text("sunflower", timeout=30_000)
    expect(page.locator("#own-verdict")).to_contain_text("sunflower")
    open_tab(page, "Train")                                     # everyone watching the shared run sees it too
    expect(page.locator("#train-results")).to_contain_text("Test accuracy", timeout=15_000)
    expect(page.locator("#train-grid img").first).to_be_visible()
    open_tab(page, "Own classes")
    expect(page.locator("#own-downloads")).to_be_hidden()
    page.locator("#own-export-data").click()
    expect(page.locator("#own-downloads a[href$='own-classes.zip']")).to_be_visible(timeout=15_000)


def test_on_a_phone_a_student_adds_a_picture_and_the_count_grows(page, empty_store, flowers_root):
    from playwright.sync_api import expect
    cls = empty_store.create("tulip")
    page.set_viewport_size({"width": 390, "height": 844})
    page.reload()
    open_tab(page, "Own classes")
    expect(page.locator("#own-counts .own-class[data-name='tulip']")).to_have_attribute("data-count", "0",
                                                                                        timeout=15_000)
    with page.expect_request(lambda r: "/gradio_api/" in r.url and "heartbeat" not in r.url,
                             timeout=15_000) as tick:
        empty_store.add(cls.id, [flowers(flowers_root, "tulip", 1)[0]])     # another student's phone
    assert "/gradio_api/run/predict" in tick.value.url, tick.value.url     # heard by the tab's tick: one POST
    expect(page.locator("#own-counts .own-class[data-name='tulip']")).to_have_attribute("data-count", "1",
                                                                                        timeout=15_000)
    page.locator("#own-target input").click()
    page.locator("#own-target").get_by_role("option", name="tulip (1)").click()
    page.locator("#own-camera input[type=file]").set_input_files(flowers(flowers_root, "tulip", 2)[1])
    expect(page.locator("#own-added")).to_contain_text("Added 1 picture(s) to 'tulip'", timeout=30_000)
    expect(page.locator("#own-counts .own-class[data-name='tulip']")).to_have_attribute("data-count", "2",
                                                                                        timeout=15_000)
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 400, f"the tab is {width} px wide on a 390 px phone"


@pytest.fixture()
def own_model(app_server, empty_store, idle_job, flowers_root):
    """daisy and sunflower, six photos each, trained as the shared run (what the teacher's Train
    button starts; the test above trains through the page) and the model the tab answers with."""
    from cnnlab.lessons.own.model import OwnRun, default_config
    space = space_for(app_server[0].ctx.config.runs_dir)
    space.model_path.unlink(missing_ok=True)                    # no model left by an earlier test
    for name in ("daisy", "sunflower"):
        cls = empty_store.create(name)
        empty_store.add(cls.id, flowers(flowers_root, name, 6))
    idle_job.start_own(OwnRun(empty_store, space.cache, default_config(epochs=20)))
    assert idle_job.wait(600)
    loaded = space.model()
    assert loaded is not None and set(loaded.classes) == {"daisy", "sunflower"}, idle_job.state().status
    return loaded


def shown_answer(page) -> dict[str, float]:
    """The probabilities the page shows, full precision (the Label's bars), by class name."""
    return page.locator("#own-probs meter").evaluate_all(
        "ms => Object.fromEntries(ms.map(m => [m.getAttribute('aria-label'), m.value]))")


def test_the_live_webcam_answers_every_second_until_stopped(page, own_model, monkeypatch):
    """The camera is Chromium's synthetic one (CHROMIUM_ARGS): a moving test pattern, so each
    frame the stream sends gives slightly different probabilities. Then the live test's time limit
    (made short here) holds although the page goes on sending frames."""
    import time

    from playwright.sync_api import expect

    from cnnlab.ui import own, own_views
    frames = []
    page.on("request", lambda r: frames.append(r.url) if "/gradio_api/stream/" in r.url else None)
    open_tab(page, "Own classes")
    live, verdict = page.locator("#own-live"), page.locator("#own-verdict [data-testid=markdown]")
    expect(verdict).to_contain_text("Show it something", timeout=15_000)
    live.get_by_text("Click to Access Webcam").click()
    video = live.locator("video")
    expect(video).to_be_visible(timeout=15_000)
    page.wait_for_function("v => v.readyState >= 2 && v.videoWidth > 0", arg=video.element_handle(), timeout=15_000)
    record = live.locator("button[aria-label='capture photo']")
    expect(record).to_have_text("Record")
    record.click()
    expect(record).to_have_text("Stop")
    expect(page.locator("#own-probs meter")).to_have_count(2, timeout=60_000)
    first = shown_answer(page)
    assert set(first) == {"daisy", "sunflower"} and abs(sum(first.values()) - 1) < 1e-3, first
    expect(verdict).to_contain_text(max(first, key=first.get))
    expect(verdict).not_to_contain_text("Show it something")
    deadline = time.monotonic() + 60                          # a later frame: a new answer (LIVE_EVERY_S apart)
    while shown_answer(page) == first:
        assert time.monotonic() < deadline, f"the live answer stayed {first} for 60 s; frames sent: {len(frames)}"
        page.wait_for_timeout(250)
    later = shown_answer(page)
    expect(verdict).to_contain_text(max(later, key=later.get))
    assert [u for u in frames if not u.endswith("/close")], frames             # the camera's frames went out

    record.click()                                            # Stop: the stream closes, the answers stop
    expect(record).to_have_text("Record")
    assert any(u.endswith("/close") for u in frames), frames
    page.wait_for_timeout(2_500)                              # a frame already on its way may still land
    settled, sent = shown_answer(page), len(frames)
    page.wait_for_timeout(3_500)
    assert shown_answer(page) == settled, "the answer still changes after Stop"
    assert len(frames) == sent, frames[sent:]

    monkeypatch.setattr(own_views, "LIVE_LIMIT_S", 3)          # a forgotten camera, two minutes in (the clock)
    monkeypatch.setattr(own, "LIVE_LIMIT_S", 3)                # (and the sentence that says so)
    record.click()
    expect(verdict).to_contain_text("The live test has stopped", timeout=60_000)
    expect(page.locator("#own-probs meter")).to_have_count(0)
    sent = len(frames)
    page.wait_for_timeout(3_500)                              # Gradio restarts the stream: frames go on coming
    assert len(frames) > sent and page.locator("#own-probs meter").count() == 0
    expect(verdict).to_contain_text("The live test has stopped")
    record.click()
    expect(record).to_have_text("Record")
