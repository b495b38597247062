"""The Train tab's long poll (cnnlab/ui/train_feed.py, cnnlab/server/longpoll.py): a page that just
opened hears the shared run at once, an up-to-date page is answered the moment the run changes
(from the training thread), and the answer carries what the Gradio refresh would send."""
from __future__ import annotations

import asyncio
import json
import threading
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from rungate import RunGate

from cnnlab.config import TrainConfig
from cnnlab.i18n import say
from cnnlab.server.longpoll import Bell

SHORT = TrainConfig(dataset="mnist", model="mlp", epochs=1, train_size=1000, batch_size=100)


def feed(url: str, since: int, wait: float = 25.0, lang: str = "en") -> dict:
    r = httpx.get(f"{url}cnnlab/train/feed", params={"since": since, "wait": wait},
                  headers={"Accept-Language": lang}, timeout=wait + 30)
    assert r.status_code == 200 and r.headers["cache-control"] == "no-store"
    return r.json()


def test_a_new_page_hears_the_run_at_once_in_its_language(app_server, idle_job):
    url = app_server[1]
    snap = idle_job.state()
    answer = feed(url, -1)
    assert answer["version"] == snap.version
    assert answer["status"] == say("en", snap.status)
    assert {"loss", "accuracy", "race", "grid", "server"} <= set(answer)
    assert {"columns", "data"} <= set(answer["loss"])               # a gr.LinePlot's value
    chinese = feed(url, -1, lang="zh-CN")
    assert chinese["version"] == snap.version and chinese["status"] == say("zh", snap.status) != answer["status"]


def test_an_up_to_date_page_waits_and_hears_the_change_from_the_training_thread(app_server, idle_job):
    url = app_server[1]
    since = feed(url, -1)["version"]
    assert feed(url, since, wait=0.3)["version"] == since           # nothing new: the same, after the wait
    answers = []
    polling = threading.Thread(target=lambda: answers.append(feed(url, since, wait=120)))
    with RunGate(idle_job, hold=[2]) as gate:
        polling.start()
        idle_job.start(SHORT)
        polling.join(60)
        assert answers and answers[0]["version"] > since            # woken by the start, not by the wait
        started = answers[0]
        gate.wait_held()
        later = feed(url, started["version"])
        assert later["version"] > started["version"]
        # Progress does not change what only the server draws; Stop and the run's end do.
        running = feed(url, -1)
        idle_job.stop()
        gate.release()
        assert idle_job.wait(600)
    done = feed(url, -1)
    assert json.loads(done["server"]) != json.loads(running["server"])
    assert json.loads(later["server"]) == json.loads(running["server"])


def test_the_answer_is_the_views_gradio_sends(app_server, idle_job):
    demo, url = app_server
    train_feed = demo.offered["train_feed"]
    snap = idle_job.state()
    view = train_feed.views.get(snap, "en")
    answer = feed(url, -1)
    assert answer["status"] == view.status and answer["grid"] == view.grid
    assert answer["loss"] == json.loads(json.dumps(view.payloads["loss"]))
    assert train_feed.answer(snap, "en") is train_feed.answer(snap, "en")      # encoded once for every page
    packed = httpx.get(f"{url}cnnlab/train/feed", params={"since": -1}, headers={"Accept-Encoding": "gzip"})
    assert packed.headers["content-encoding"] == "gzip" and packed.json() == answer   # ... and compressed once


def test_a_bell_wakes_every_waiter_from_another_thread():
    bell, state = Bell(), {"v": 0}

    async def main():
        waiters = [asyncio.create_task(bell.wait(lambda: state["v"] != 0, 60)) for _ in range(50)]
        await asyncio.sleep(0)                                      # all fifty are waiting
        ringer = threading.Thread(target=lambda: (state.update(v=1), bell.ring()))
        ringer.start()
        await asyncio.wait_for(asyncio.gather(*waiters), 30)        # none waits for its 60 s
        ringer.join()
        await asyncio.wait_for(bell.wait(lambda: state["v"] != 0, 60), 1)   # changed: returns at once

    with ThreadPoolExecutor(1) as pool:      # a loop of its own: playwright's sync API leaves one running here
        pool.submit(asyncio.run, main()).result()


@pytest.mark.parametrize("since", ["x", "nan", "1e400", ""])
def test_a_made_up_since_is_a_new_page(app_server, since):
    r = httpx.get(f"{app_server[1]}cnnlab/train/feed", params={"since": since, "wait": 0}, timeout=30)
    assert r.status_code == 200 and r.json()["version"] >= 0


def test_the_refresh_spreads_over_more_seconds_the_more_pages_follow(app_server):
    from starlette.applications import Starlette
    from starlette.testclient import TestClient

    from cnnlab.ui.train_feed import REFRESH_MOST_S, REFRESH_PER_PAGE_S, TrainFeed
    shown = app_server[0].offered["train_feed"]
    # The app's own feed, with a page count of its own: the made-up pages stay out of the app's.
    train_feed = TrainFeed(shown.job, shown.views, shown.server_key)
    with TestClient(Starlette(routes=train_feed.routes())) as web:
        def ask(page):
            r = web.get("/cnnlab/train/feed", params={"since": -1, "wait": 0, "page": page})
            assert r.status_code == 200
            return r.json()

        assert ask("alone")["spread_s"] == 0 == train_feed.spread_s()   # a page alone: at once
        for k in range(99):
            ask(f"page{k}")
        ask("page7")                                                # the same page twice is one page
        for odd in ("", "x" * 33, "not/alnum", "<script>"):        # ids the server does not count
            ask(odd)
        assert train_feed.following() == 100
        assert train_feed.spread_s() == round(99 * REFRESH_PER_PAGE_S, 1) == 19.8
        for k in range(99, 99 + int(REFRESH_MOST_S / REFRESH_PER_PAGE_S)):   # a flood of made-up pages
            ask(f"page{k}")
        assert train_feed.spread_s() == REFRESH_MOST_S
