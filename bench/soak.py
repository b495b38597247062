"""A whole lesson on one laptop: does the app slow down the longer it runs? (issue 11.3)

    .venv/bin/python bench/soak.py                               # 60 students, 10 minutes (goal run)
    .venv/bin/python bench/soak.py --students 20 --minutes 2 --train-at 0.5-1.5     # a quick look
    .venv/bin/python bench/soak.py --app-root /tmp/cnnlab-base    # the same lesson on another checkout

The real app (``app.py`` of ``--app-root``) runs in a subprocess on loopback. Before it starts,
this script installs a ``gc.callbacks`` hook in that process (the app itself is unchanged; see
``--as-server``) that logs the longest collector pause of every second to a file.

Each simulated student draws one stroke every ``1/--rate`` seconds, with a light asyncio httpx
client (GRADIO_NOTES section 9). Half of them (``--paths both``) use the page's own path, as
``cnnlab.ui.canvas.DrawingCanvas`` in a real browser does it (watched in headless Chromium):
join as the page does (``GET /``, the heartbeat stream held open while the page lives, the page's
load events), then per stroke ``POST /gradio_api/queue/join`` with the drawing as a PNG data URL
and the result read from ``GET /gradio_api/queue/data`` (SSE). The other half use the REST
upload path as an API client does it: ``POST /gradio_api/upload``, ``POST
/gradio_api/call/predict_digit`` with no session (every call is a new session) and the result
stream. A training run is started through ``/call/train_start`` for ``--train-at`` minutes.

Per minute it prints p50/p95/max latency of each path, errors, server RSS, server CPU, the
longest collector pause (and how many full collections), and the load average; then a summary
against the goal: p95 <= 150 ms in every minute, longest stall <= 250 ms, 0 errors, RSS growth
<= 100 MB (from the end of the first minute to the end).
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import string
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

GOAL_P95_MS, GOAL_STALL_MS, GOAL_RSS_MB = 150.0, 250.0, 100.0


# ------------------------------------------------------------------ the server process

def serve(gc_log: str, app_root: str, app_args: list[str]) -> None:
    """Run app.py in this process with a collector-pause log (``--as-server``)."""
    import gc
    import runpy
    import threading

    window = {"longest_ms": 0.0, "gen": -1, "collections": 0, "gen2": 0, "total_ms": 0.0}
    started = [0.0]
    lock = threading.Lock()

    def callback(phase, info):
        if phase == "start":
            started[0] = time.perf_counter()
            return
        ms = (time.perf_counter() - started[0]) * 1000
        with lock:
            window["collections"] += 1
            window["total_ms"] += ms
            window["gen2"] += info["generation"] == 2
            if ms > window["longest_ms"]:
                window["longest_ms"], window["gen"] = ms, info["generation"]

    def writer():
        with open(gc_log, "a", buffering=1) as out:
            for second in __import__("itertools").count():
                time.sleep(1.0)
                heap = len(gc.get_objects()) if second % 10 == 0 else None    # tracked, not frozen
                with lock:
                    line = dict(window, t=time.time(), heap=heap)
                    window.update(longest_ms=0.0, gen=-1, collections=0, gen2=0, total_ms=0.0)
                out.write(json.dumps(line) + "\n")

    gc.callbacks.append(callback)
    threading.Thread(target=writer, name="gc-log", daemon=True).start()
    os.chdir(app_root)
    sys.path[0] = app_root
    sys.argv = ["app.py", *app_args]
    runpy.run_path(str(Path(app_root) / "app.py"), run_name="__main__")


def launch(app_root: str, checkpoints: str, runs_dir: str, gc_log: str) -> tuple[subprocess.Popen, str]:
    from draw_latency import free_port
    port = free_port()
    cmd = [sys.executable, str(Path(__file__).resolve()), "--as-server", gc_log, app_root, "--",
           "--port", str(port), "--checkpoints", checkpoints, "--runs-dir", runs_dir]
    log = open(Path(runs_dir) / "server.log", "w")
    proc = subprocess.Popen(cmd, cwd=app_root, env=dict(os.environ), stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    import urllib.request
    deadline = time.time() + 240
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the app exited with {proc.returncode}; see {log.name}")
        try:
            with urllib.request.urlopen(url + "/config", timeout=5) as r:
                if r.status == 200:
                    return proc, url
        except OSError:
            time.sleep(0.5)
    proc.terminate()
    raise TimeoutError("the app did not start within 240 s")


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


# ------------------------------------------------------------------ what the page does

class Page:
    """The page's wiring, read from the app's /config: the canvas's event and the load events."""

    def __init__(self, config: dict):
        components = {c["id"]: c for c in config["components"]}
        self.stroke_fn = self.canvas_id = None
        self.load_events = []
        for dep in config["dependencies"]:
            if dep.get("api_name") == "predict_drawing":
                self.stroke_fn, self.canvas_id = dep["id"], dep["targets"][0][0]
            if any(t[1] == "load" for t in dep.get("targets", [])) and dep.get("backend_fn"):
                data = [None if components[i]["type"] == "state" else components[i].get("props", {}).get("value")
                        for i in dep["inputs"]]
                self.load_events.append((dep["id"], dep["targets"][0][0], bool(dep.get("queue")), data))
        if self.stroke_fn is None:
            raise RuntimeError("the app has no /predict_drawing event (the Draw tab's canvas)")


def session_hash() -> str:
    return "".join(random.choices(string.ascii_lowercase + string.digits, k=10))   # as the page makes it


async def queue_event(client, base: str, session: str, fn: int, trigger: int, data: list) -> dict:
    """POST /queue/join, then read /queue/data until this event's process_completed."""
    body = {"data": data, "event_data": None, "fn_index": fn, "trigger_id": trigger, "session_hash": session}
    r = await client.post(f"{base}/gradio_api/queue/join?", json=body)
    r.raise_for_status()
    event_id = r.json()["event_id"]
    async with client.stream("GET", f"{base}/gradio_api/queue/data", params={"session_hash": session}) as resp:
        resp.raise_for_status()
        async for line in resp.aiter_lines():
            if not line.startswith("data:"):
                continue
            msg = json.loads(line[5:])
            if msg.get("msg") == "process_completed" and msg.get("event_id") == event_id:
                if not msg.get("success"):
                    raise RuntimeError(f"the app answered with an error: {str(msg.get('output'))[:200]}")
                return msg["output"]
            if msg.get("msg") == "unexpected_error":
                raise RuntimeError(f"unexpected error: {str(msg)[:200]}")
    raise RuntimeError("the result stream ended without an answer")


async def join_page(client, base: str, page: Page, session: str) -> asyncio.Task:
    """What a browser does when a student opens the page; returns the heartbeat task."""
    (await client.get(f"{base}/")).raise_for_status()

    async def heartbeat():                              # held open while the page lives
        async with client.stream("GET", f"{base}/gradio_api/heartbeat/{session}", timeout=None) as resp:
            async for _ in resp.aiter_lines():
                pass

    beat = asyncio.create_task(heartbeat())
    for fn, trigger, queued, data in page.load_events:
        if queued:
            await queue_event(client, base, session, fn, trigger, data)
        else:
            body = {"data": data, "event_data": None, "fn_index": fn, "trigger_id": trigger, "session_hash": session}
            (await client.post(f"{base}/gradio_api/run/predict", json=body)).raise_for_status()
    return beat


async def stroke_page(client, base: str, page: Page, session: str, drawing: str) -> None:
    output = await queue_event(client, base, session, page.stroke_fn, page.canvas_id, [drawing, "mnist-cnn", False])
    if "sure" not in str(output.get("data", [""])[0]):
        raise RuntimeError(f"unexpected answer: {str(output)[:200]}")


async def stroke_rest(client, base: str, png: bytes) -> None:
    r = await client.post(f"{base}/gradio_api/upload", files={"files": ("sketch.png", png, "image/png")})
    r.raise_for_status()
    sketch = {"background": None, "layers": [], "id": None,
              "composite": {"path": r.json()[0], "meta": {"_type": "gradio.FileData"}}}
    r = await client.post(f"{base}/gradio_api/call/predict_digit", json={"data": [sketch, "mnist-cnn", False]})
    r.raise_for_status()
    event = None
    async with client.stream("GET", f"{base}/gradio_api/call/predict_digit/{r.json()['event_id']}") as resp:
        resp.raise_for_status()
        async for line in resp.aiter_lines():
            if line.startswith("event:"):
                event = line.split(":", 1)[1].strip()
            elif line.startswith("data:") and event in ("complete", "error"):
                if event == "error" or "sure" not in line:
                    raise RuntimeError(f"predict_digit: {line[5:].strip()[:200]}")
                return
    raise RuntimeError("the result stream ended without an answer")


async def rest_call(client, base: str, api: str, data: list) -> str:
    r = await client.post(f"{base}/gradio_api/call/{api}", json={"data": data, "session_hash": "soak-teacher"})
    r.raise_for_status()
    event = None
    async with client.stream("GET", f"{base}/gradio_api/call/{api}/{r.json()['event_id']}") as resp:
        async for line in resp.aiter_lines():
            if line.startswith("event:"):
                event = line.split(":", 1)[1].strip()
            elif line.startswith("data:") and event in ("complete", "error"):
                if event == "error":
                    raise RuntimeError(f"{api}: {line[5:].strip()[:200]}")
                return line
    raise RuntimeError(f"{api}: the stream ended without an answer")


# ------------------------------------------------------------------ the lesson

async def client_get_json(url: str) -> dict:
    import httpx
    async with httpx.AsyncClient(timeout=30) as client:
        r = await client.get(url)
        r.raise_for_status()
        return r.json()


async def lesson(base: str, pid: int, args, pool: list, gc_log: str) -> dict:
    import httpx
    config = (await client_get_json(base + "/config"))
    page = Page(config)
    seconds = args.minutes * 60
    n_page = {"both": args.students // 2, "page": args.students, "rest": 0}[args.paths]
    samples = []          # (t since start, path, latency s)
    errors = []           # (t, path, message)
    minutes = []          # per-minute server figures
    training = {"note": "no training run"}
    stop = asyncio.Event()
    t0 = time.perf_counter()

    async def student(i: int, client) -> None:
        rng = random.Random(i)
        path = "page" if i < n_page else "rest"
        session, beat = session_hash(), None
        await asyncio.sleep(rng.random() * min(10.0, seconds / 10))        # students arrive over ~10 s
        try:
            if path == "page":
                beat = asyncio.create_task(join_page(client, base, page, session))
                beat = await asyncio.wait_for(beat, timeout=60)
            k = 0
            start = time.perf_counter()
            while True:
                # a student behind (slow answers) draws the next stroke at once, skipping the missed ones
                k = max(k, int((time.perf_counter() - start) * args.rate))
                due = start + k / args.rate
                if due - t0 >= seconds:
                    break
                await asyncio.sleep(max(0.0, due - time.perf_counter()))
                k += 1
                drawing = pool[(7 * i + k) % len(pool)]
                t = time.perf_counter()
                try:
                    await asyncio.wait_for(stroke_page(client, base, page, session, drawing[0])
                                           if path == "page" else stroke_rest(client, base, drawing[1]), 30)
                    samples.append((t - t0, path, time.perf_counter() - t))
                except Exception as err:                          # noqa: BLE001 - every failure counts
                    errors.append((t - t0, path, f"{type(err).__name__}: {err}"))
        except Exception as err:                                  # noqa: BLE001 - a page that cannot join
            errors.append((time.perf_counter() - t0, path, f"join: {type(err).__name__}: {err}"))
        finally:
            if beat is not None:
                await stop.wait()
                beat.cancel()

    async def teacher(client) -> None:
        if not args.train_at:
            return
        begin, end = (float(x) * 60 for x in args.train_at.split("-"))
        await asyncio.sleep(max(0.0, begin - (time.perf_counter() - t0)))
        try:
            await asyncio.wait_for(rest_call(client, base, "train_start",
                                             ["mnist", "cnn", "adam", 3e-3, 128, 20, 0, 0, False, ""]), 120)
            training["note"] = f"training started at {(time.perf_counter() - t0) / 60:.1f} min"
            await asyncio.sleep(max(0.0, end - (time.perf_counter() - t0)))
            snapshot = await asyncio.wait_for(rest_call(client, base, "train_snapshot", []), 120)
            running = "running" in snapshot.lower() or "epoch" in snapshot.lower()
            await asyncio.wait_for(rest_call(client, base, "train_stop", [""]), 120)
            training["note"] += (f", {'still running' if running else 'NOT running'} at "
                                 f"{(time.perf_counter() - t0) / 60:.1f} min, then stopped")
        except Exception as err:                                  # noqa: BLE001 - reported, not fatal
            training["note"] = f"training failed: {type(err).__name__}: {err}"

    async def monitor() -> None:
        from draw_latency import cpu_seconds
        rss, cpu0, wall0 = [], cpu_seconds(pid), time.perf_counter()
        own0 = time.process_time()
        while not stop.is_set():
            await asyncio.sleep(1)
            rss.append(rss_mb(pid))
            now = time.perf_counter()
            if now - wall0 >= 60 or stop.is_set():
                cpu = cpu_seconds(pid)
                minutes.append({"rss_end": rss[-1], "rss_max": max(rss), "cpu": (cpu - cpu0) / (now - wall0),
                                "own_cpu": (time.process_time() - own0) / (now - wall0),
                                "load": os.getloadavg()[0], "until": time.time()})
                rss, cpu0, wall0, own0 = [], cpu, now, time.process_time()

    limits = httpx.Limits(max_connections=6 * args.students, max_keepalive_connections=3 * args.students)
    async with httpx.AsyncClient(timeout=30, limits=limits) as client:
        started = time.time()
        watcher = asyncio.create_task(monitor())
        teach = asyncio.create_task(teacher(client))
        students = [asyncio.create_task(student(i, client)) for i in range(args.students)]
        while time.perf_counter() - t0 < seconds:
            await asyncio.sleep(0.5)
        await asyncio.sleep(2)                                  # the last strokes come back
        stop.set()
        done, stuck = await asyncio.wait([*students, teach, watcher], timeout=180)
        for task in stuck:
            task.cancel()
        if stuck:
            errors.append((seconds, "-", f"{len(stuck)} simulated users still stuck 3 minutes after the end"))
    gc_lines = [json.loads(line) for line in Path(gc_log).read_text().splitlines() if line.strip()]
    return {"samples": samples, "errors": errors, "minutes": minutes, "gc": gc_lines, "started": started,
            "training": training["note"], "n_page": n_page}


# ------------------------------------------------------------------ the report

def pct(values: list[float], q: float) -> float:
    import numpy as np
    return float(np.percentile(np.asarray(values) * 1000, q)) if values else float("nan")


def report(r: dict, args) -> bool:
    minutes = max(1, round(args.minutes))
    print(f"\n{args.students} students ({r['n_page']} page path, {args.students - r['n_page']} REST path), "
          f"{args.rate:g} stroke/s each, {args.minutes:g} min; {r['training']}")
    print(" min |        page path p50/p95/max ms |        REST path p50/p95/max ms | errors | RSS MB | "
          "app CPU | longest GC pause (gen, full GCs) heap | load")
    worst_p95, worst_pause, prev_until = 0.0, 0.0, r["started"]
    for m in range(minutes):
        cols = []
        for path in ("page", "rest"):
            lat = [s[2] for s in r["samples"] if s[1] == path and m * 60 <= s[0] < (m + 1) * 60]
            if lat:
                worst_p95 = max(worst_p95, pct(lat, 95))
                cols.append(f"{pct(lat, 50):6.0f} {pct(lat, 95):6.0f} {max(lat) * 1000:6.0f} (n={len(lat):5d})")
            else:
                cols.append(f"{'-':>31s}")
        errs = sum(1 for e in r["errors"] if m * 60 <= e[0] < (m + 1) * 60)
        info = r["minutes"][m] if m < len(r["minutes"]) else None
        until = info["until"] if info else float("inf")
        gcs = [g for g in r["gc"] if prev_until <= g["t"] < until]
        prev_until = until
        pause = max(gcs, key=lambda g: g["longest_ms"]) if gcs else None
        worst_pause = max(worst_pause, pause["longest_ms"] if pause else 0.0)
        server = (f"{info['rss_end']:6.0f} | {info['cpu']:6.0%} " if info else f"{'-':>6s} | {'-':>6s} ")
        heaps = [g["heap"] for g in gcs if g.get("heap") is not None]
        gc_text = (f"{pause['longest_ms']:5.0f} ms (gen {pause['gen']}, {sum(g['gen2'] for g in gcs):3d}) "
                   f"{heaps[-1] / 1000 if heaps else float('nan'):6.0f}k" if pause else "-")
        print(f" {m + 1:3d} | {cols[0]} | {cols[1]} | {errs:6d} | {server} | {gc_text:>38s} | "
              f"{info['load'] if info else float('nan'):4.1f}")
    rss = [m["rss_end"] for m in r["minutes"]]
    growth = rss[-1] - rss[0] if len(rss) > 1 else 0.0
    for path in ("page", "rest"):
        lat = [s[2] for s in r["samples"] if s[1] == path]
        if lat:
            print(f"   {path:4s} path overall: p50 {pct(lat, 50):.0f} ms, p95 {pct(lat, 95):.0f} ms, "
                  f"max {max(lat) * 1000:.0f} ms, {len(lat)} strokes")
    own = max((m["own_cpu"] for m in r["minutes"]), default=0.0)
    print(f"   server RSS {rss[0] if rss else 0:.0f} MB after minute 1 -> {rss[-1] if rss else 0:.0f} MB at the end "
          f"(growth {growth:+.0f} MB, peak {max((m['rss_max'] for m in r['minutes']), default=0):.0f} MB); "
          f"this load generator used up to {own:.0%} of a core")
    for message in sorted({e[2][:160] for e in r["errors"]})[:6]:
        print(f"   error: {message}")
    checks = [(f"p95 <= {GOAL_P95_MS:.0f} ms in every minute", worst_p95 <= GOAL_P95_MS, f"worst {worst_p95:.0f} ms"),
              (f"longest GC stall <= {GOAL_STALL_MS:.0f} ms", worst_pause <= GOAL_STALL_MS, f"{worst_pause:.0f} ms"),
              ("0 errors", not r["errors"], f"{len(r['errors'])}"),
              (f"RSS growth <= {GOAL_RSS_MB:.0f} MB", growth <= GOAL_RSS_MB, f"{growth:+.0f} MB")]
    for name, ok, value in checks:
        print(f"   {'PASS' if ok else 'FAIL'}  {name}: {value}")
    return all(ok for _, ok, _ in checks)


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--as-server":
        gc_log, app_root = sys.argv[2], sys.argv[3]
        serve(gc_log, app_root, sys.argv[5:])
        return
    root = Path(__file__).resolve().parents[1]
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--students", type=int, default=60, help="simulated students (default: 60)")
    p.add_argument("--minutes", type=float, default=10, help="how long the lesson lasts (default: 10)")
    p.add_argument("--rate", type=float, default=1.0, help="strokes per second per student (default: 1)")
    p.add_argument("--paths", choices=("both", "page", "rest"), default="both",
                   help="both: half the class on the page's path, half on the REST path (default)")
    p.add_argument("--train-at", default="2-4", help="minutes FROM-TO of a training run; '' for none (default: 2-4)")
    p.add_argument("--app-root", default=str(root), help="the checkout whose app.py runs (default: this one)")
    p.add_argument("--checkpoints", default=str(root / "checkpoints"))
    p.add_argument("--nice", type=int, default=0,
                   help="run the app and the class at this nice value (e.g. -10 on a machine busy with "
                        "other work; a classroom laptop runs nothing else); needs root below 0")
    a = p.parse_args()
    if a.nice:
        os.nice(a.nice)
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("CNNLAB_DATA", str(root.parent / "shared" / "data"))
    from draw_latency import data_url, drawings, png_bytes
    pool = [(data_url(d), png_bytes(d)) for d in drawings(120, seed=5)]
    print(f"machine: {os.cpu_count()} CPUs; load average {'/'.join(f'{x:.1f}' for x in os.getloadavg())} "
          f"(1/5/15 min) at start; app from {a.app_root}" + (f"; app and class at nice {a.nice}" if a.nice else ""))
    with tempfile.TemporaryDirectory() as runs:
        gc_log = str(Path(runs) / "gc.jsonl")
        proc, base = launch(a.app_root, a.checkpoints, runs, gc_log)
        try:
            warm = argparse.Namespace(**{**vars(a), "students": 4, "minutes": 0.15, "train_at": ""})
            warmed = asyncio.run(lesson(base, proc.pid, warm, pool, gc_log))  # models loaded, pages work
            print(f"warm-up: {len(warmed['samples'])} strokes, {len(warmed['errors'])} errors "
                  f"{sorted({e[2][:120] for e in warmed['errors']})[:3]}", flush=True)
            Path(gc_log).write_text("")
            result = asyncio.run(lesson(base, proc.pid, a, pool, gc_log))
        finally:
            proc.terminate()
            try:
                proc.wait(15)
            except subprocess.TimeoutExpired:
                proc.kill()
    ok = report(result, a)
    print(f"load average {'/'.join(f'{x:.1f}' for x in os.getloadavg())} at the end; "
          f"goal {'met' if ok else 'NOT met'}")


if __name__ == "__main__":
    main()
