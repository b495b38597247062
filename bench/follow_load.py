"""What following the teacher costs the laptop: N student pages long-polling the lead route while
the teacher moves the class, alone and beside a class drawing (issue 30: with 120 followers the
server spends <= 5% of one core on them, and the class bench's p95 is unchanged).

    .venv/bin/python bench/follow_load.py                          # 120 followers, 2 rounds of 20 s phases
    .venv/bin/python bench/follow_load.py --followers 240 --students 20 --seconds 15 --rounds 3

The real app runs in a subprocess (`python app.py --lesson cnn-20`, on loopback, where this
machine may lead without a key). The followers are another process, as phones are: one asyncio
httpx client whose coroutines do what cnnlab/ui/web/lead.js does, GET /cnnlab/lead?since=V (held
up to 25 s, answered at once when the class moves), then again; the teacher POSTs the plan's Next
and Back every --move-every seconds. They connect before a phase starts and stop when it ends.
Each round measures, --seconds each:

  idle             the app alone (its own background work: the session sweeper)
  followers        N pages following a class that does not move
  moving           N pages following, the teacher moving every --move-every s; how long a page
                   took to hear of a move (from the teacher's POST to the page's answer)
  drawing          S students drawing a stroke a second (the class bench's stroke: the browser's
                   own call, /call/predict_drawing), and a plain request every 0.25 s (a 304 of
                   the page's script: what any small request waits for)
  drawing+moving   the last two together

The server's CPU share is its process's CPU time (psutil, else /proc/<pid>/stat) over the phase's
wall time; what following costs is a followers phase minus idle. Other work on the machine shows
in every phase: the rounds alternate the phases so that a busy moment hits both sides.
"""
from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from draw_latency import ROOT, data_url, drawings, free_port, percentiles, stroke_canvas


def process_cpu(pid: int) -> float:
    """CPU seconds (user + system) the process has used so far."""
    try:
        import psutil
        t = psutil.Process(pid).cpu_times()
        return t.user + t.system
    except ImportError:
        from draw_latency import cpu_seconds  # Linux: /proc/<pid>/stat
        return cpu_seconds(pid)


def launch(checkpoints: str, runs_dir: str, lesson: str) -> tuple[subprocess.Popen, str]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "app.py", "--port", str(port), "--checkpoints", checkpoints,
                             "--runs-dir", runs_dir, "--lesson", lesson], cwd=ROOT, env=dict(os.environ),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    import urllib.request
    deadline = time.time() + 180
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(url + "/cnnlab/lead?since=-1", timeout=2) as r:
                if r.status == 200:
                    return proc, url
        except OSError:
            time.sleep(0.3)
    proc.terminate()
    raise TimeoutError("the app did not start within 180 s")


# ------------------------------------------------------------------ the followers (a process of their own)
class Connection:
    """One page's keep-alive HTTP/1.1 connection, as small as a client can be (asyncio streams,
    no library): the simulated pages should cost this machine far less than the server they load."""

    def __init__(self, host: str, port: int):
        self.host, self.port, self.reader, self.writer = host, port, None, None

    async def request(self, method: str, path: str, body: bytes = b"") -> tuple[int, bytes]:
        for attempt in (0, 1):                       # a kept-alive connection the server closed: once more
            try:
                if self.writer is None:
                    self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
                head = (f"{method} {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
                        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n")
                self.writer.write(head.encode() + body)
                await self.writer.drain()
                status_line = await self.reader.readline()
                if not status_line:
                    raise ConnectionResetError("closed")
                length, chunked = 0, False
                while (line := await self.reader.readline()) not in (b"\r\n", b""):
                    name, _, value = line.decode("latin-1").partition(":")
                    if name.lower() == "content-length":
                        length = int(value)
                    elif name.lower() == "transfer-encoding" and "chunked" in value.lower():
                        chunked = True
                if chunked:
                    data = b""
                    while (size := int((await self.reader.readline()).strip() or b"0", 16)):
                        data += await self.reader.readexactly(size + 2)
                    await self.reader.readline()
                else:
                    data = await self.reader.readexactly(length)
                return int(status_line.split()[1]), data
            except (ConnectionError, asyncio.IncompleteReadError, OSError):
                self.close()
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


async def pages(base: str, followers: int, seconds: float, move_every: float) -> dict:
    """N following pages and the teacher: connect, say "ready", wait for "go", run ``seconds``."""
    from urllib.parse import urlsplit
    url = urlsplit(base)
    received, answers, errors, moves = [], [0], [], {}
    connected = asyncio.Event()
    started = [0]

    async def follower(i: int) -> None:
        since, page, conn = -1, f"bench-page-{i}", Connection(url.hostname, url.port)
        try:
            while True:
                try:
                    status, data = await conn.request("GET", f"/cnnlab/lead?since={since}&id={page}&follow=1")
                    if status != 200:
                        raise RuntimeError(f"HTTP {status}")
                    version = json.loads(data)["version"]
                    answers[0] += 1
                    if since == -1:
                        started[0] += 1
                        if started[0] == followers:
                            connected.set()
                    elif version != since:
                        received.append((version, time.perf_counter()))
                    since = version
                except (OSError, RuntimeError, ValueError, asyncio.IncompleteReadError) as err:
                    errors.append(f"follower: {type(err).__name__}: {err}")
                    await asyncio.sleep(1)
        finally:
            conn.close()

    tasks = [asyncio.create_task(follower(i)) for i in range(followers)]
    await asyncio.wait_for(connected.wait(), 120)
    answers[0] = 0
    print("ready", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)       # "go"
    own0, stop_at = time.process_time(), time.perf_counter() + seconds
    teacher = Connection(url.hostname, url.port)
    status, data = await teacher.request("GET", "/cnnlab/lead?since=-1")
    step = json.loads(data)["plan"]["step"]                  # each move changes the step (an earlier phase left it)
    while move_every and time.perf_counter() + move_every < stop_at:
        await asyncio.sleep(move_every)
        step = 1 - step                                      # Next, Back, Next, ...
        t = time.perf_counter()
        status, data = await teacher.request("POST", "/cnnlab/lead", json.dumps({"step": step}).encode())
        if status != 200:
            raise RuntimeError(f"the teacher's move failed: HTTP {status} {data[:200]!r}")
        moves[json.loads(data)["version"]] = t
    await asyncio.sleep(max(0.0, stop_at - time.perf_counter()) + 0.5)         # the last move's answers
    cpu = time.process_time() - own0
    teacher.close()
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    heard = [t - moves[v] for v, t in received if v in moves]
    return {"heard": heard, "answers": answers[0], "errors": errors, "moves": len(moves), "cpu": cpu}


# ------------------------------------------------------------------ the drawing class (this process)
async def class_drawing(base: str, students: int, seconds: float, pool: list) -> dict:
    import httpx
    draw_lat, plain_lat, errors = [], [], []
    stop_at = time.perf_counter() + seconds

    async def student(i: int, client) -> None:
        rng, session, k = random.Random(100 + i), f"bench-follow-{i}-{time.time()}", 0
        await asyncio.sleep(rng.random())
        start = time.perf_counter()
        while time.perf_counter() < stop_at:
            await asyncio.sleep(max(0.0, start + k - time.perf_counter()))
            k += 1
            t = time.perf_counter()
            try:
                await stroke_canvas(client, base, pool[(7 * i + k) % len(pool)], session)
                draw_lat.append(time.perf_counter() - t)
            except Exception as err:  # every failure counts
                errors.append(f"stroke: {type(err).__name__}: {err}")

    async def plain(client) -> None:
        etag = (await client.get(f"{base}/cnnlab/web/lead.js")).headers.get("etag", "")
        while time.perf_counter() < stop_at:
            t = time.perf_counter()
            r = await client.get(f"{base}/cnnlab/web/lead.js", headers={"If-None-Match": etag})
            if r.status_code in (200, 304):
                plain_lat.append(time.perf_counter() - t)
            await asyncio.sleep(0.25)

    limits = httpx.Limits(max_connections=4 * students + 8, max_keepalive_connections=4 * students + 8)
    async with httpx.AsyncClient(timeout=60, limits=limits) as client:
        if students:
            await asyncio.gather(plain(client), *(student(i, client) for i in range(students)))
        else:
            await asyncio.sleep(seconds)
    return {"draw": draw_lat, "plain": plain_lat, "errors": errors}


def measure(name: str, base: str, pid: int, followers: int, students: int, seconds: float, move_every: float,
            pool: list) -> dict:
    child = None
    if followers:
        child = subprocess.Popen([sys.executable, __file__, "--pages-only", base, "--followers", str(followers),
                                  "--seconds", str(seconds), "--move-every", str(move_every)],
                                 stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        if child.stdout.readline().strip() != "ready":
            raise RuntimeError("the followers did not connect")
    cpu0, own0, wall0 = process_cpu(pid), time.process_time(), time.perf_counter()
    if child is not None:
        child.stdin.write("go\n")
        child.stdin.flush()
    result = asyncio.run(class_drawing(base, students, seconds, pool))
    wall = time.perf_counter() - wall0
    result["share"] = (process_cpu(pid) - cpu0) / wall
    own = time.process_time() - own0
    result.update(heard=[], answers=0, moves=0)
    if child is not None:
        out, _ = child.communicate(timeout=120)
        page_result = json.loads(out.strip().splitlines()[-1])
        result.update(heard=page_result["heard"], answers=page_result["answers"], moves=page_result["moves"])
        result["errors"] += page_result["errors"]
        own += page_result["cpu"]
    line = f"  {name:15s} app CPU {result['share']:6.1%} of one core   (simulated pages, students: {own / wall:.0%})"
    if followers:
        line += f"; {result['answers']} lead answers"
    print(line, flush=True)
    if result["moves"]:
        print(f"  {'':15s} {result['moves']} moves: a page heard of each in {percentiles(result['heard'])}")
    if students:
        print(f"  {'':15s} drawing         {percentiles(result['draw'])}")
        print(f"  {'':15s} plain request   {percentiles(result['plain'])}")
    if result["errors"]:
        print(f"  {'':15s} errors {len(result['errors'])}: {sorted(set(result['errors']))[:3]}")
    return result


def p95(values: list[float]) -> float:
    return float(np.percentile(np.asarray(values) * 1000, 95)) if values else float("nan")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--followers", type=int, default=120)
    p.add_argument("--students", type=int, default=20, help="students drawing a stroke a second")
    p.add_argument("--seconds", type=float, default=20, help="length of each phase")
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--move-every", type=float, default=5, help="seconds between the teacher's moves")
    p.add_argument("--lesson", default="cnn-20")
    p.add_argument("--checkpoints", default=str(ROOT / "checkpoints"))
    p.add_argument("--pages-only", default=None, metavar="URL", help=argparse.SUPPRESS)   # the followers' process
    args = p.parse_args()
    if args.pages_only:
        print(json.dumps(asyncio.run(pages(args.pages_only, args.followers, args.seconds, args.move_every))))
        return
    pool = [data_url(d) for d in drawings(120, seed=3)]
    n, s, sec, every = args.followers, args.students, args.seconds, args.move_every
    rows: dict[str, list[dict]] = {}
    with tempfile.TemporaryDirectory() as runs:
        proc, base = launch(args.checkpoints, runs, args.lesson)
        try:
            asyncio.run(class_drawing(base, 3, 4, pool))        # warm up: the model loaded, connections open
            print(f"app {base} (pid {proc.pid}); {n} followers, {s} drawing students, {sec:g} s a phase, "
                  f"a move every {every:g} s")
            phases = [("idle", 0, 0, 0), ("followers", n, 0, 0), ("moving", n, 0, every),
                      ("drawing", 0, s, 0), ("drawing+moving", n, s, every)]
            for r in range(args.rounds):
                print(f"round {r + 1}")
                for name, followers, students, moves in (phases if r % 2 == 0 else phases[::-1]):
                    rows.setdefault(name, []).append(
                        measure(name, base, proc.pid, followers, students, sec, moves, pool))
                    time.sleep(1)
        finally:
            proc.terminate()
            proc.wait(10)

    def share(name):
        return float(np.median([r["share"] for r in rows[name]]))

    def pooled(name, key):
        return [v for r in rows[name] for v in r[key]]

    print(f"\nmedian over {args.rounds} rounds:")
    print(f"  following costs the app {share('followers') - share('idle'):+.1%} of one core with {n} pages on a "
          f"still class, {share('moving') - share('idle'):+.1%} with a move every {every:g} s (goal: <= 5%)")
    print(f"  a page hears of a move in p50 {np.percentile(np.asarray(pooled('moving', 'heard')) * 1000, 50):.0f} ms, "
          f"p95 {p95(pooled('moving', 'heard')):.0f} ms")
    for key, what in (("draw", "drawing stroke"), ("plain", "plain request")):
        alone, beside = p95(pooled("drawing", key)), p95(pooled("drawing+moving", key))
        print(f"  {what} p95 {alone:.0f} ms alone, {beside:.0f} ms beside {n} followers ({beside - alone:+.0f} ms)")


if __name__ == "__main__":
    main()
