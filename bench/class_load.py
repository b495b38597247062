"""A class of phones on one laptop, now that each phone runs the network itself (issue 26, part 8).

    .venv/bin/python bench/class_load.py                            # 120 students, 10 minutes (goal run)
    .venv/bin/python bench/class_load.py --minutes 2                # a quick look
    .venv/bin/python bench/class_load.py --students 60 --view-every 1

The real app (``python app.py``, with a teacher key) runs in a subprocess on loopback. Each
simulated student is a light asyncio httpx client (no browser) that does what a phone does now
that drawing costs the laptop nothing:

- opens the page once, as a phone does (gzip accepted): ``GET /``, the Draw tab's modules
  (``/cnnlab/web/draw.js`` and what it imports: the engine) and the shipped CNN's weights
  (``/cnnlab/weights/mnist-cnn``), the page's load events (queued, as the page sends them), and
  the heartbeat stream held open while the page lives;
- draws in its own browser (nothing sent), and every ``--submit-every`` seconds sends a drawing to
  the class board with one of the ten digit buttons: the button's own event through the queue
  (``POST /gradio_api/queue/join`` with the canvas's PNG data URL and the model key, the answer from
  ``GET /gradio_api/queue/data``), exactly as the page sends it;
- watches the Train tab as its page does (cnnlab/ui/web/train_feed.js): one long poll of
  ``GET /cnnlab/train/feed?since=V`` at a time, at most one every ``--view-every`` s (the tab's
  TICK_S), and, on the first answer and whenever its ``server`` key changes, the feed's ``.input``
  events (the tab's refresh and the compared runs' refresh) as the page sends them (through the
  queue, or as one ``POST /gradio_api/run/predict`` when the event is ``queue=False``), with the
  viewer's gr.State kept on the server. While the run goes, a poll finds a change waiting (the
  run changes every 0.25 s), so its time is the server's answer, not a wait.

The teacher starts a shared training run with the key through ``/call/train_start`` at the start
(MNIST CNN, ``--epochs`` 20: it trains for a few minutes and ends inside the lesson) and stops it at the end.

Prints p50/p95/max of each kind of request, the errors, the app's CPU seconds per student-minute
once every phone has joined (the shared run's training included), and the server's RSS (after the first
minute, or after the class has joined for runs under two minutes, to the end). Goals: p95 of every
kind <= 150 ms, 0 errors, RSS growth <= 100 MB over 10 minutes.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from draw_latency import ROOT, cpu_seconds, data_url, drawings, launch_app  # noqa: E402
from soak import rest_call, rss_mb, session_hash  # noqa: E402

from cnnlab.ui.train_feed import REFRESH_SPREAD_S  # noqa: E402

GOAL_P95_MS, GOAL_RSS_MB = 150.0, 100.0
KEY = "class-bench-key"
MODEL = "mnist-cnn"
# What the Draw tab's page loads besides the HTML: canvas.js comes inline; draw.js and its imports.
MODULES = ("draw.js", "live.js", "engine/model.js", "engine/conv.js", "engine/dense.js", "engine/weights.js",
           "engine/preprocess.js")


class Page:
    """The page's wiring, read from /config: the board's digit buttons, the Train tab's feed events, the load events."""

    def __init__(self, config: dict):
        components = {c["id"]: c for c in config["components"]}
        by_elem = {c.get("props", {}).get("elem_id"): c["id"] for c in config["components"]}
        self.buttons = {}                      # digit -> (fn, trigger, inputs)
        self.follow = []                       # the Train tab feed's .input events: (fn, trigger, data, queued)
        self.load_events = []                  # (fn, trigger, queued, data)
        canvas = None
        for dep in config["dependencies"]:
            targets = dep.get("targets", [])
            if dep.get("api_name") == "predict_drawing":
                canvas = targets[0][0]
            for target, event in targets:
                if event == "click" and dep.get("backend_fn"):
                    for d in range(10):
                        if target == by_elem.get(f"meant-{d}"):
                            self.buttons[d] = (dep["id"], target, dep["inputs"])
                if event == "input" and dep.get("backend_fn") and target == by_elem.get("train-feed"):
                    data = [None if components[i]["type"] == "state"
                            else components[i].get("props", {}).get("value") for i in dep["inputs"]]
                    self.follow.append((dep["id"], target, data, bool(dep.get("queue", True))))
                if event == "load" and dep.get("backend_fn"):
                    data = [None if components[i]["type"] == "state"
                            else components[i].get("props", {}).get("value") for i in dep["inputs"]]
                    self.load_events.append((dep["id"], target, bool(dep.get("queue")), data))
        if len(self.buttons) != 10 or canvas is None:
            raise RuntimeError("the app has no board buttons (meant-0..9) under the Draw tab's canvas")
        if not self.follow:
            raise RuntimeError("the app has no Train tab feed (train-feed)")
        self.canvas, self.components = canvas, components

    def submit_data(self, digit: int, drawing: str, nickname: str) -> list:
        """The button's inputs as the page sends them: its label, the nickname, the drawing, the model."""
        values = []
        for i in self.buttons[digit][2]:
            kind = self.components[i]["type"]
            if i == self.buttons[digit][1]:
                values.append(str(digit))
            elif i == self.canvas:
                values.append(drawing)
            elif kind == "state":
                values.append(None)
            elif kind == "textbox":
                values.append(nickname)
            elif kind == "dropdown":
                values.append(MODEL)
            else:
                values.append(self.components[i].get("props", {}).get("value"))
        return values


class Session:
    """One page's queue events, as Gradio's page client sends them: each ``POST /queue/join``, and
    one ``GET /queue/data`` stream for the session while any of its events is pending (a refresh and
    a submission of the same phone share it; the server closes it when none is left)."""

    def __init__(self, client, base: str):
        self.client, self.base, self.hash = client, base, session_hash()
        self.pending: dict[str, asyncio.Future] = {}
        self.reader: asyncio.Task | None = None

    async def event(self, fn: int, trigger: int, data: list) -> dict:
        body = {"data": data, "event_data": None, "fn_index": fn, "trigger_id": trigger, "session_hash": self.hash}
        r = await self.client.post(f"{self.base}/gradio_api/queue/join?", json=body)
        r.raise_for_status()
        done = asyncio.get_running_loop().create_future()
        self.pending[r.json()["event_id"]] = done
        if self.reader is None or self.reader.done():
            self.reader = asyncio.create_task(self._read())
        return await done

    async def _read(self) -> None:
        try:
            while self.pending:
                async with self.client.stream("GET", f"{self.base}/gradio_api/queue/data",
                                              params={"session_hash": self.hash}) as resp:
                    resp.raise_for_status()
                    async for line in resp.aiter_lines():
                        if not line.startswith("data:"):
                            continue
                        msg = json.loads(line[5:])
                        done = self.pending.get(msg.get("event_id"))
                        if msg.get("msg") == "process_completed" and done is not None:
                            del self.pending[msg["event_id"]]
                            if done.done():                  # its waiter gave up (timed out)
                                pass
                            elif msg.get("success"):
                                done.set_result(msg["output"])
                            else:
                                done.set_exception(RuntimeError(f"the app answered with an error: "
                                                                f"{str(msg.get('output'))[:200]}"))
                        elif msg.get("msg") == "unexpected_error":
                            raise RuntimeError(f"unexpected error: {str(msg)[:200]}")
                        if not self.pending:
                            break
        except Exception as err:                                   # noqa: BLE001 - every waiter learns of it
            for done in self.pending.values():
                if not done.done():
                    done.set_exception(err)
            self.pending.clear()


def pct(ms: list[float], q: float) -> float:
    import numpy as np
    return float(np.percentile(np.asarray(ms), q)) if ms else float("nan")


async def lesson(base: str, pid: int, args, pool: list[str]) -> dict:
    import httpx
    async with httpx.AsyncClient(timeout=30) as c:
        page = Page((await c.get(base + "/config")).json())
    seconds = args.minutes * 60
    times: dict[str, list[float]] = {}         # kind -> latencies in ms
    steady: dict[str, list[float]] = {}        # the same, of requests sent once every phone had joined
    minutes: dict[str, dict[int, list[float]]] = {}   # kind -> minute of the lesson it was sent in -> latencies
    joined = [0]                               # phones that have opened the page
    wire = {"first_visit": []}                  # bytes on the wire of one phone's first visit
    errors: list[tuple[str, str]] = []
    rss: list[tuple[float, float]] = []         # (t, MB)
    stop = asyncio.Event()
    t0 = time.perf_counter()
    notes = {"load0": os.getloadavg()[0]}

    def record(kind: str, sent: float, ms: float, all_in: bool) -> None:
        """One request's time, by kind, by the minute it was sent in, and apart once all had joined."""
        times.setdefault(kind, []).append(ms)
        minutes.setdefault(kind, {}).setdefault(int((sent - t0) // 60), []).append(ms)
        if all_in:
            steady.setdefault(kind, []).append(ms)

    async def timed(kind: str, work):
        t = time.perf_counter()
        all_in = joined[0] == args.students
        try:
            result = await asyncio.wait_for(work, 30)
            record(kind, t, (time.perf_counter() - t) * 1000, all_in)
            return result
        except Exception as err:                                  # noqa: BLE001 - every failure counts
            errors.append((kind, f"{type(err).__name__}: {str(err)[:160]}"))
            return None

    async def get(client, path: str) -> int:
        r = await client.get(f"{base}/{path}")
        r.raise_for_status()
        return r.num_bytes_downloaded

    async def student(i: int, client) -> None:
        rng = random.Random(i)
        session = Session(client, base)
        await asyncio.sleep(rng.random() * min(args.arrive, seconds / 3))     # students arrive over --arrive s
        got = [await timed("GET /", get(client, ""))]
        for name in MODULES:
            got.append(await timed("GET module", get(client, f"cnnlab/web/{name}")))
        got.append(await timed("GET weights", get(client, f"cnnlab/weights/{MODEL}?lang=en")))
        if all(g is not None for g in got):
            wire["first_visit"].append(sum(got))

        async def heartbeat():                                  # held open while the page lives
            async with client.stream("GET", f"{base}/gradio_api/heartbeat/{session.hash}", timeout=None) as resp:
                async for _ in resp.aiter_lines():
                    pass

        beat = asyncio.create_task(heartbeat())
        async def direct(fn: int, trigger: int, data: list):    # an event outside the queue: one POST
            body = {"data": data, "event_data": None, "fn_index": fn, "trigger_id": trigger,
                    "session_hash": session.hash}
            r = await client.post(f"{base}/gradio_api/run/predict", json=body)
            r.raise_for_status()
            return r.json()

        for fn, trigger, queued, data in page.load_events:
            await timed("load event", session.event(fn, trigger, data) if queued else direct(fn, trigger, data))

        async def feed(since: int) -> dict:
            t, all_in = time.perf_counter(), joined[0] == args.students
            r = await client.get(f"{base}/cnnlab/train/feed", params={"since": since, "page": session.hash})
            r.raise_for_status()
            # The poll's time less its wait for the run's next change (the server says how long
            # it waited): how long the laptop took to answer. The wait itself is the design.
            waited = float(r.headers.get("server-timing", "wait;dur=0").partition("dur=")[2] or 0)
            record("train feed (served)", t, (time.perf_counter() - t) * 1000 - waited, all_in)
            return r.json()

        async def watch():                                       # the Train tab, as its page follows it
            since, key = -1, None
            while not stop.is_set():
                due = time.perf_counter() + args.view_every
                answer = await timed("train feed (with its wait)", feed(since))
                if answer is not None and answer["version"] != since:
                    since = answer["version"]
                    if answer["server"] != key:                  # the first answer, a new run, its end
                        if key is not None:                      # spread as the page spreads it
                            await asyncio.sleep(rng.random() * answer.get("spread_s", REFRESH_SPREAD_S))
                        key = answer["server"]
                        for fn, trigger, data, queued in page.follow:
                            await timed("train refresh", session.event(fn, trigger, data) if queued
                                        else direct(fn, trigger, data))
                # as the page does: 0.75-1.25 of --view-every since the last ask (no herd)
                due += args.view_every * (rng.random() / 2 - 0.25)
                await asyncio.sleep(max(0.0, due - time.perf_counter()))

        async def submit():                                      # the class board, every 20 s
            await asyncio.sleep(rng.random() * args.submit_every)
            k = 0
            while not stop.is_set():
                due = time.perf_counter() + args.submit_every
                digit = (i + k) % 10
                fn, trigger, _ = page.buttons[digit]
                data = page.submit_data(digit, pool[(7 * i + k) % len(pool)], f"kid {i}")
                out = await timed("board submit", session.event(fn, trigger, data))
                if out is not None and "board-confirm" not in str(out.get("data", [""])[0]):
                    errors.append(("board submit", f"unexpected answer: {str(out)[:160]}"))
                k += 1
                await asyncio.sleep(max(0.0, due - time.perf_counter()))

        joined[0] += 1
        if joined[0] == args.students:
            notes["joined"] = time.perf_counter() - t0
        loops = [asyncio.create_task(watch()), asyncio.create_task(submit())]
        await stop.wait()
        for task in loops:
            task.cancel()
        beat.cancel()
        await asyncio.gather(*loops, beat, return_exceptions=True)

    async def teacher(client) -> None:
        settings = ["mnist", "cnn", "adam", 3e-3, 128, args.epochs, 0, 0, False, KEY]
        line = await timed("train start (teacher)", rest_call(client, base, "train_start", settings))
        notes["training"] = "training started" if line else "training did NOT start"
        await stop.wait()

    async def lag() -> None:
        """This load generator's own delay: how late a 10 ms timer of its event loop fires. Every
        latency above includes it (the phones share this machine's two cores with the laptop)."""
        while not stop.is_set():
            due = time.perf_counter() + 0.01
            await asyncio.sleep(0.01)
            late = (time.perf_counter() - due) * 1000
            if joined[0] == args.students:
                notes.setdefault("lag", []).append(late)

    async def monitor() -> None:
        cpu0 = cpu_seconds(pid)
        while not stop.is_set():
            await asyncio.sleep(1)
            rss.append((time.perf_counter() - t0, rss_mb(pid)))
            if joined[0] == args.students and "steady_cpu" not in notes:
                notes["steady_cpu"] = (cpu_seconds(pid), time.perf_counter())
        notes["cpu"] = (cpu_seconds(pid) - cpu0) / (time.perf_counter() - t0)
        if "steady_cpu" in notes:                  # once the whole class is in: the app's CPU per phone
            cpu1, t1 = notes["steady_cpu"]
            minutes = (time.perf_counter() - t1) / 60
            notes["cpu_per_student_min"] = (cpu_seconds(pid) - cpu1) / args.students / minutes if minutes else None

    limits = httpx.Limits(max_connections=6 * args.students, max_keepalive_connections=3 * args.students)
    own0 = time.process_time()
    async with httpx.AsyncClient(timeout=30, limits=limits) as client:
        tasks = [asyncio.create_task(monitor()), asyncio.create_task(teacher(client)), asyncio.create_task(lag())]
        tasks += [asyncio.create_task(student(i, client)) for i in range(args.students)]
        await asyncio.sleep(seconds)
        stop.set()
        snapshot = await rest_call(client, base, "train_snapshot", [])
        try:
            running = json.loads(snapshot.partition(":")[2])[0]["running"]      # "data: [{...}]"
        except (TypeError, ValueError, KeyError, IndexError):
            running = None
        notes["training"] += {True: ", still running at the end", False: ", finished before the end",
                              None: ", its state at the end unknown"}[running]
        await rest_call(client, base, "train_stop", [KEY])
        done, stuck = await asyncio.wait(tasks, timeout=60)
        for task in stuck:
            task.cancel()
        if stuck:
            errors.append(("-", f"{len(stuck)} simulated users still stuck a minute after the end"))
    notes["own_cpu"] = (time.process_time() - own0) / (time.perf_counter() - t0)
    return {"times": times, "steady": steady, "minutes": minutes, "errors": errors, "rss": rss, "notes": notes,
            "wire": wire}


def report(r: dict, args) -> bool:
    print(f"\n{args.students} students, {args.minutes:g} min: a board submission every {args.submit_every:g} s "
          f"and the Train tab followed (a poll at most every {args.view_every:g} s) each;"
          f" {r['notes'].get('training')}; "
          f"app CPU {r['notes'].get('cpu', float('nan')):.0%} of one core, this load generator "
          f"{r['notes'].get('own_cpu', float('nan')):.0%} (niced); load average {os.getloadavg()[0]:.1f}")
    joined = r["notes"].get("joined")
    print(f"   every phone had joined after {joined:.0f} s" if joined else "   NOT every phone joined")
    per = r["notes"].get("cpu_per_student_min")
    if per is not None:    # the shared run's training included: a busy machine slows it, not this
        print(f"   app CPU once every phone had joined: {per:.2f} s per student-minute (training included); "
              f"load average at the start {r['notes']['load0']:.1f}")
    worst = 0.0
    print(f"   {'request':24s} {'n':>6s} {'p50 ms':>8s} {'p95 ms':>8s} {'max ms':>8s}   | once all had joined: "
          f"{'n':>6s} {'p50 ms':>8s} {'p95 ms':>8s}")
    for kind, ms in r["times"].items():
        if kind not in ("train start (teacher)", "train feed (with its wait)"):
            worst = max(worst, pct(ms, 95))
        later = r["steady"].get(kind, [])
        tail = f"{len(later):6d} {pct(later, 50):8.1f} {pct(later, 95):8.1f}" if later else f"{'-':>6s}"
        print(f"   {kind:24s} {len(ms):6d} {pct(ms, 50):8.1f} {pct(ms, 95):8.1f} {max(ms):8.1f}   |"
              f"                      {tail}")
    late = r["notes"].get("lag")
    if late:
        print(f"   this load generator's own lag (a 10 ms timer of its loop, once all had joined): "
              f"p50 {pct(late, 50):.1f} ms, p95 {pct(late, 95):.1f} ms: part of every figure above")
    print("   p95 ms by the minute the request was sent in:")
    last = max((m for by_minute in r["minutes"].values() for m in by_minute), default=0)
    print(f"   {'minute':24s} " + " ".join(f"{m:7d}" for m in range(last + 1)))
    for kind, by_minute in r["minutes"].items():
        if len(by_minute) > 1:
            print(f"   {kind:24s} " + " ".join(f"{pct(by_minute[m], 95):7.0f}" if m in by_minute else f"{'-':>7s}"
                                          for m in range(last + 1)))
    first = r["wire"]["first_visit"]
    if first:
        print(f"   a phone's first visit (HTML + modules + weights, gzip): {sum(first) / len(first) / 1024:.0f} kB "
              "on the wire")
    rss = r["rss"]
    since = 60.0 if args.minutes >= 2 else 15.0
    base = next((mb for t, mb in rss if t >= since), rss[0][1] if rss else 0.0)
    growth = rss[-1][1] - base if rss else 0.0
    print(f"   server RSS {rss[0][1] if rss else 0:.0f} MB at start, {base:.0f} MB after {since:.0f} s, "
          f"{rss[-1][1] if rss else 0:.0f} MB at the end (growth {growth:+.0f} MB; peak "
          f"{max((mb for _, mb in rss), default=0):.0f} MB)")
    for kind, message in sorted(set(r["errors"]))[:8]:
        print(f"   error ({kind}): {message}")
    checks = [(f"p95 of every kind <= {GOAL_P95_MS:.0f} ms", worst <= GOAL_P95_MS, f"worst {worst:.0f} ms"),
              ("0 errors", not r["errors"], f"{len(r['errors'])}"),
              (f"RSS growth <= {GOAL_RSS_MB:.0f} MB (the goal is over 10 min)", growth <= GOAL_RSS_MB,
               f"{growth:+.0f} MB in {args.minutes:g} min")]
    for name, ok, value in checks:
        print(f"   {'PASS' if ok else 'FAIL'}  {name}: {value}")
    return all(ok for _, ok, _ in checks)


def main() -> None:
    from cnnlab.ui.train import TICK_S
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--students", type=int, default=120, help="simulated phones (default: 120)")
    p.add_argument("--minutes", type=float, default=10, help="how long the lesson lasts (default: 10)")
    p.add_argument("--submit-every", type=float, default=20,
                   help="seconds between a student's board submissions (default: 20)")
    p.add_argument("--view-every", type=float, default=TICK_S,
                   help=f"least seconds between a viewer's Train tab polls (default: the tab's TICK_S, {TICK_S})")
    p.add_argument("--arrive", type=float, default=30, help="seconds over which the phones open the page (default: 30)")
    p.add_argument("--nice", type=int, default=5,
                   help="niceness of this load generator once the app runs (default: 5): the phones are other "
                   "machines, so it steps back for the app's requests (0) but not for the shared run's "
                   "training (10); at 10 it shared the cores with the training and its own delays filled "
                   "the figures")
    p.add_argument("--epochs", type=int, default=20,
                   help="epochs of the shared run (default: 20, about 3-4 minutes with 120 phones: the run "
                   "and its end both fall inside the lesson)")
    p.add_argument("--checkpoints", default=str(ROOT / "checkpoints"))
    args = p.parse_args()
    pool = [data_url(d) for d in drawings(60, seed=5)]
    os.environ["CNNLAB_TEACHER_KEY"] = KEY                  # the app reads its teacher key from here
    with tempfile.TemporaryDirectory() as runs:
        proc, base = launch_app(args.checkpoints, runs)
        os.nice(args.nice)                                   # after the launch: the app keeps its priority
        try:
            ok = report(asyncio.run(lesson(base, proc.pid, args, pool)), args)
        finally:
            proc.terminate()
            proc.wait(10)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
