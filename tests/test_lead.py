"""Lead and follow without a browser: the lesson plans, the class's shared state, the routes
(long poll, the teacher key, the language of a refusal), the page's files, and app.py's flags."""
from __future__ import annotations

import asyncio
import json
import re
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from starlette.applications import Starlette
from starlette.testclient import TestClient

from cnnlab.i18n import catalog, languages
from cnnlab.lessons import plans
from cnnlab.server import lead as leading
from cnnlab.server import web
from cnnlab.server.classroom import TeacherKey

ROOT = Path(__file__).resolve().parents[1]
TABS = ("playground", "weather", "draw", "inside", "photo", "own", "train", "tsne", "board")
LOCAL = ("127.0.0.1", 50000)


# ------------------------------------------------------------------ plans
def test_the_shipped_plans_load_in_every_language():
    assert {"cnn-20", "first-lesson"} <= set(plans.names())
    for name in plans.names():
        plan = plans.load(name, TABS)
        for step in plan.steps:
            for code in languages():
                assert step.text("say", code) and step.text("notes", code) and plan.title_in(code)
            assert step.preset is None or step.preset in plans.PRESETS[step.tab]


def test_the_readme_lesson_and_the_courses_first_lesson():
    cnn = plans.load("cnn-20", TABS)
    assert [(s.tab, s.preset) for s in cnn.steps] == [("draw", None), ("board", None), ("train", "run"),
                                                        ("train", "race"), ("tsne", None)]
    assert sum(s.minutes for s in cnn.steps) == 20
    assert cnn.tabs == ("draw", "board", "train", "tsne")
    first = plans.load("first-lesson", TABS)
    assert [(s.tab, s.preset) for s in first.steps] == [("playground", "regression"),
                                                          ("playground", "classification"), ("playground", "race")]


def _plan(**step) -> dict:
    both = {code: "x" for code in languages()}
    return {"title": both, "steps": [{"tab": "draw", "say": both, "notes": both, **step}]}


@pytest.mark.parametrize("data, says", [
    ("not json {", "bad.json"),
    ([1, 2], "one object"),
    ({"title": {"en": "x"}, "steps": []}, "no text in zh"),
    (_plan(tab="kitchen"), "no tab called 'kitchen'"),
    (_plan(tab="train", preset="fast"), "preset 'fast'"),
    (_plan(preset="run"), "the draw tab has no presets"),
    (_plan(minutes=-3), "minutes"),
    (_plan(colour="red"), "unknown fields: colour"),
    (_plan(say={"en": "only English"}), "step 1 say has no text in zh"),
])
def test_a_bad_plan_file_is_refused_with_a_sentence(tmp_path, data, says):
    path = tmp_path / "bad.json"
    path.write_text(data if isinstance(data, str) else json.dumps(data), encoding="utf-8")
    with pytest.raises(plans.PlanError) as caught:
        plans.load(str(path), TABS)
    assert says in str(caught.value) and "bad.json" in str(caught.value)
    assert "bad.json" in caught.value.args[0].in_("zh") and "无法使用" in caught.value.args[0].in_("zh")


def test_an_unknown_plan_names_the_ones_that_ship():
    with pytest.raises(plans.PlanError) as caught:
        plans.load("cnn-21")
    assert "cnn-20" in str(caught.value) and "first-lesson" in str(caught.value)


# ------------------------------------------------------------------ the class's state
class Clock:
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def lead_for(plan="cnn-20", clock=None) -> leading.Lead:
    return leading.Lead(TABS, plans.PRESETS, plans.load(plan, TABS) if plan else None, clock=clock or time.monotonic)


def test_a_plan_starts_the_class_on_its_first_step():
    lead = lead_for()
    view = lead.view("zh")
    assert view["leading"] and view["tab"] == "draw" and view["plan"]["step"] == 0
    assert view["plan"]["on_step"] and "手机" in view["plan"]["say"]
    assert "notes" not in view["plan"] and "following" not in view         # the notes are the teacher's
    assert lead.view("en", teacher=True)["plan"]["notes"].startswith("Everyone draws")
    assert not lead_for(plan=None).view()["leading"]                         # no plan: nobody leads yet


def test_moves_change_the_version_only_when_something_changes():
    lead = lead_for(plan=None)
    v = lead.version
    assert lead.move(tab="inside") and lead.version == v + 1 and lead.leading
    assert not lead.move(tab="inside") and lead.version == v + 1
    assert lead.move(tab="playground", preset="classification")
    cue = lead.cue
    assert lead.move(tab="playground", preset="classification") and lead.cue == cue + 1   # picked again: applied again
    assert lead.move(leading=False) and not lead.leading and lead.tab == "playground"
    for bad in ({"tab": "kitchen"}, {"tab": "draw", "preset": "run"}, {"tab": ["draw"]}, {"step": 0}):
        with pytest.raises(leading.LeadError):
            lead.move(**bad)


def test_next_back_and_tabs_walk_the_plan():
    lead = lead_for()
    lead.move(step=2)
    assert (lead.tab, lead.preset, lead.step) == ("train", "run", 2)
    cue = lead.cue
    lead.move(tab="train", preset="race")                   # the teacher presses the race: step 4
    assert (lead.step, lead.preset, lead.cue) == (3, "race", cue + 1)
    lead.move(tab="inside")                                  # off the plan: the step stays, its sentence goes
    view = lead.view()
    assert lead.step == 3 and not view["plan"]["on_step"] and view["plan"]["say"] is None
    lead.move(tab="tsne")                                    # the next step's tab: the plan moves on
    assert lead.step == 4 and lead.view()["plan"]["on_step"]
    lead.move(step=1)
    assert (lead.tab, lead.step) == ("board", 1)
    for bad in (5, -1, "2", True):
        with pytest.raises(leading.LeadError):
            lead.move(step=bad)


def test_pages_are_counted_while_they_ask():
    clock = Clock()
    lead = lead_for(clock=clock)
    lead.seen("a", follow=True)
    lead.seen("b", follow=False)
    lead.seen("teacher", follow=True, lead=True)
    assert lead.counts() == (1, 2)
    clock.now += leading.SEEN_S - 1
    lead.seen("a")
    clock.now += 2
    assert lead.counts() == (1, 1)                           # b stopped asking
    lead.bye("a")
    assert lead.counts() == (0, 0)
    for i in range(leading.MAX_PAGES + 50):
        lead.seen(f"p{i}")
    assert len(lead._pages) <= leading.MAX_PAGES


def test_a_long_poll_waits_for_a_move_from_any_thread():
    lead = lead_for()

    async def scenario():
        v = lead.version
        t = time.perf_counter()
        await lead.wait(v - 1, 5)                            # an old version: at once
        assert time.perf_counter() - t < 2
        t = time.perf_counter()
        await lead.wait(v, 0.2)                              # nothing moves: the timeout
        assert 0.15 < time.perf_counter() - t < 5
        threading.Timer(0.2, lambda: lead.move(tab="inside")).start()
        t = time.perf_counter()
        waiters = [asyncio.create_task(lead.wait(v, 30)) for _ in range(50)]
        await asyncio.gather(*waiters)                       # woken by the move, long before the 30 s
        assert time.perf_counter() - t < 10 and lead.version == v + 1

    with ThreadPoolExecutor(1) as pool:      # a loop of its own: playwright's sync API leaves one running here
        pool.submit(asyncio.run, scenario()).result()


# ------------------------------------------------------------------ the routes
def client_for(lead, key=None, host="testclient", join=None) -> TestClient:
    app = Starlette(routes=[*leading.routes(lead, TeacherKey(key), join), *web.routes()])
    return TestClient(app, client=(host, 50000))


def test_a_page_lands_where_the_class_is_and_hears_of_the_next_move():
    lead = lead_for()
    with client_for(lead, key="sesame") as c:
        first = c.get("/cnnlab/lead", params={"since": -1, "id": "p1", "lang": "zh"}).json()
        assert first["tab"] == "draw" and first["plan"]["say"].startswith("在手机上")
        t = time.perf_counter()
        same = c.get("/cnnlab/lead", params={"since": first["version"], "id": "p1", "wait": 0.3}).json()
        assert same["version"] == first["version"] and 0.25 < time.perf_counter() - t < 3
        threading.Timer(0.3, lambda: lead.move(tab="inside")).start()
        moved = c.get("/cnnlab/lead", params={"since": first["version"], "id": "p1"}).json()
        assert moved["tab"] == "inside" and time.perf_counter() - t < 5


def test_only_the_teacher_key_moves_the_class_and_a_wrong_one_gets_a_sentence():
    lead = lead_for()
    with client_for(lead, key="sesame") as c:
        r = c.post("/cnnlab/lead", json={"tab": "inside"}, headers={"Accept-Language": "zh-CN,zh;q=0.9"})
        assert r.status_code == 403 and "教师密钥" in r.json()["error"]
        r = c.post("/cnnlab/lead?lang=en", json={"tab": "inside"}, headers={"X-Cnnlab-Key": "open sesame"})
        assert r.status_code == 403 and "not the teacher key" in r.json()["error"]
        assert lead.tab == "draw"
        r = c.post("/cnnlab/lead?lang=zh", json={"tab": "kitchen"}, headers={"X-Cnnlab-Key": "sesame"})
        assert r.status_code == 400 and "kitchen" in r.json()["error"] and "页" in r.json()["error"]
        r = c.post("/cnnlab/lead", content=b"[", headers={"X-Cnnlab-Key": "sesame"})
        assert r.status_code == 400
        for since in ("nan", "inf", "-inf", "x", "1e400"):
            assert c.get("/cnnlab/lead", params={"since": since, "wait": since}).status_code == 200
        c.get("/cnnlab/lead", params={"since": -1, "id": "s1"})
        r = c.post("/cnnlab/lead", json={"tab": "inside"}, headers={"X-Cnnlab-Key": "sesame"})
        assert r.status_code == 200 and r.json()["tab"] == "inside" and lead.tab == "inside"
        assert r.json()["following"] == 1 and r.json()["pages"] == 1 and "notes" in r.json()["plan"]
        # a student's poll never gets the notes or the counts, even when it says it leads
        student = c.get("/cnnlab/lead", params={"since": -1, "id": "s1", "role": "lead"}).json()
        assert "notes" not in student["plan"] and "pages" not in student
        c.post("/cnnlab/lead/bye", params={"id": "s1"})
        assert lead.counts() == (0, 0)


def test_without_a_key_only_the_laptop_itself_leads():
    lead = lead_for(plan=None)
    with client_for(lead, host="192.168.1.23") as c:
        r = c.post("/cnnlab/lead", json={"tab": "inside"})
        assert r.status_code == 403 and "laptop" in r.json()["error"]
    with client_for(lead, host="127.0.0.1") as c:
        proxied = c.post("/cnnlab/lead", json={"tab": "inside"}, headers={"X-Forwarded-For": "10.0.0.9"})
        assert proxied.status_code == 403
        assert c.post("/cnnlab/lead", json={"tab": "inside"}).status_code == 200
    assert lead.tab == "inside" and lead.leading


def test_the_join_code_opens_the_teachers_tab():
    lead = lead_for()
    with client_for(lead, join="http://192.168.1.5:7860") as c:
        r = c.get("/cnnlab/join.png", params={"tab": "inside"})
        assert r.status_code == 200 and r.content.startswith(b"\x89PNG")
        assert c.get("/cnnlab/join.png", params={"tab": "nowhere"}).status_code == 200
    assert leading.join_address("http://192.168.1.5:7860", "inside") == "http://192.168.1.5:7860/?tab=inside"


def test_the_page_files_are_served_with_an_etag_and_nothing_else():
    with client_for(lead_for()) as c:
        r = c.get("/cnnlab/web/lead.js")
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/javascript")
        assert r.headers["cache-control"] == "no-cache"
        again = c.get("/cnnlab/web/lead.js", headers={"If-None-Match": r.headers["etag"]})
        assert again.status_code == 304 and not again.content
        assert c.get("/cnnlab/web/lead.css").headers["content-type"].startswith("text/css")
        for sneaky in ("/cnnlab/web/../lead.py", "/cnnlab/web/%2e%2e/lead.py", "/cnnlab/web/..%2f..%2fapp.py",
                       "/cnnlab/web/nothing.js"):
            assert c.get(sneaky).status_code == 404


# ------------------------------------------------------------------ words and the page's script
def test_every_word_the_page_script_says_is_in_every_language():
    script = (ROOT / "cnnlab" / "ui" / "web" / "lead.js").read_text(encoding="utf-8")
    used = set(re.findall(r"\bsay\('(\w+)'", script))
    used |= {f"preset_{tab}_{p}" for tab, names in plans.PRESETS.items() for p in names}
    assert len(used) > 15
    for code in languages():
        missing = sorted(k for k in used if f"lead.{k}" not in catalog()[code])
        assert not missing, (code, missing)


def test_the_page_script_parses():
    import shutil
    import subprocess
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    for name in ("lead.js",):
        path = ROOT / "cnnlab" / "ui" / "web" / name
        done = subprocess.run([node, "--check", str(path)], capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr


def test_the_head_carries_the_settings_and_the_files():
    from cnnlab.ui import lead as lead_page
    head = lead_page.head(list(TABS), plans.PRESETS, key_required=True)
    settings = json.loads(re.search(r'id="cnnlab-lead-config">(.*?)</script>', head).group(1))
    assert settings["tabs"] == list(TABS) and settings["key"] is True
    assert settings["presets"]["playground"] == ["regression", "classification", "race"]
    assert settings["texts"]["zh"]["next"] == "下一步" and settings["titles"]["en"]["inside"] == "Inside"
    assert 'src="cnnlab/web/lead.js"' in head and 'href="cnnlab/web/phone.css"' in head


# ------------------------------------------------------------------ app.py
def test_lesson_flag_starts_with_the_plans_tabs():
    import app
    config = app.parse_args(["--lesson", "cnn-20"], env={})
    assert config.lesson == "cnn-20" and config.tabs == "draw,board,train,tsne"
    assert app.parse_args(["--lesson", "first-lesson", "--tabs", "playground,weather"], env={}).tabs == \
        "playground,weather"
    with pytest.raises(SystemExit):
        app.parse_args(["--lesson", "cnn-20", "--tabs", "draw,board"], env={})    # no train, no t-SNE
    with pytest.raises(SystemExit):
        app.parse_args(["--lesson", "no-such-lesson"], env={})
    lead = app.lead_state(config)
    assert lead.tabs == ("draw", "train", "tsne", "board") and lead.plan.name == "cnn-20"
    assert set(lead.presets) == {"train"}


def test_launch_keeps_the_servers_lifespan_and_middleware_and_adds_the_routes():
    import app
    from cnnlab.config import AppConfig
    kwargs = app.launch_kwargs(AppConfig(tabs="draw,inside"))
    app_kwargs = kwargs["app_kwargs"]
    assert "lifespan" in app_kwargs and app_kwargs["middleware"]
    paths = {route.path for route in app_kwargs["routes"]}
    assert {"/cnnlab/lead", "/cnnlab/lead/bye", "/cnnlab/join.png", "/cnnlab/web/{path:path}"} <= paths
    assert kwargs["head"].count("<script") >= 3 and '"tabs": ["draw", "inside"]' in kwargs["head"]
