"""A whole class on one laptop: N students drawing a stroke a second and uploading photos, while
the shared training run is going (issue: 30 students, p95 <= 300 ms for drawing, 0 errors,
memory stable; and the largest class served within that).

    .venv/bin/python bench/classroom_load.py                       # 30 students, 60 s
    .venv/bin/python bench/classroom_load.py --sweep 30,45,60,90 --seconds 20

The real app runs in a subprocess (`python app.py`) on loopback. Each simulated student is a
coroutine of a light asyncio httpx client over Gradio's REST API (see bench/draw_latency.py):
a stroke is the browser's own call (`/call/predict_drawing`, the PNG inline); a photo is an
upload plus `/call/classify_photo`, every `--photo-every` seconds. Training is started through
`/call/train_start` (MNIST defaults, 20 epochs so it lasts the whole measurement) and stopped at
the end. Server memory (RSS) is sampled every second.
"""
from __future__ import annotations

import argparse
import asyncio
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from draw_latency import ROOT, cpu_seconds, data_url, drawings, launch_app, percentiles, stroke_canvas

PHOTO = ROOT / "demo" / "fashion-sneaker.jpg"


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


async def call(client, base: str, api: str, data: list, session: str) -> list:
    r = await client.post(f"{base}/gradio_api/call/{api}", json={"data": data, "session_hash": session})
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
    raise RuntimeError(f"{api}: stream ended without an answer")


async def photo(client, base: str, session: str) -> None:
    r = await client.post(f"{base}/gradio_api/upload",
                          files={"files": (PHOTO.name, PHOTO.read_bytes(), "image/jpeg")})
    r.raise_for_status()
    file = {"path": r.json()[0], "meta": {"_type": "gradio.FileData"}}
    await call(client, base, "classify_photo", [file, "Clothing", None, False], session)


async def lesson(base: str, pid: int, students: int, seconds: float, photo_every: float, pool: list) -> dict:
    import httpx
    draw_lat, photo_lat, errors, memory = [], [], [], []

    async def student(i: int, client) -> None:
        rng = random.Random(i)
        session = f"bench-{students}-{i}"
        await asyncio.sleep(rng.random())
        start, k = time.perf_counter(), 0
        next_photo = start + rng.random() * photo_every
        while time.perf_counter() - start < seconds:
            await asyncio.sleep(max(0.0, start + k - time.perf_counter()))
            k += 1
            t = time.perf_counter()
            try:
                if t >= next_photo:
                    next_photo += photo_every
                    await photo(client, base, session)
                    photo_lat.append(time.perf_counter() - t)
                else:
                    await stroke_canvas(client, base, pool[(7 * i + k) % len(pool)], session)
                    draw_lat.append(time.perf_counter() - t)
            except Exception as err:  # every failure counts
                errors.append(f"{type(err).__name__}: {err}")

    async def watch_memory(stop: asyncio.Event) -> None:
        while not stop.is_set():
            memory.append(rss_mb(pid))
            await asyncio.sleep(1)

    limits = httpx.Limits(max_connections=4 * students, max_keepalive_connections=2 * students)
    async with httpx.AsyncClient(timeout=60, limits=limits) as client:
        await call(client, base, "train_start",
                   ["mnist", "cnn", "adam", 3e-3, 128, 20, 0, 0, False, ""], "bench-teacher")
        stop = asyncio.Event()
        watcher = asyncio.create_task(watch_memory(stop))
        await asyncio.gather(*(student(i, client) for i in range(students)))
        stop.set()
        await watcher
        snapshot = await call(client, base, "train_snapshot", [], "bench-teacher")
        await call(client, base, "train_stop", [""], "bench-teacher")
    return {"draw": draw_lat, "photo": photo_lat, "errors": errors, "memory": memory,
            "training": "running" in snapshot}


def report(n: int, r: dict, wall: float, cpu: float) -> bool:
    import numpy as np
    p95 = float(np.percentile(np.asarray(r["draw"]) * 1000, 95)) if r["draw"] else float("inf")
    mem = r["memory"] or [0.0]
    print(f"\n{n} students ({'training was running' if r['training'] else 'training was NOT running'})")
    print(f"   drawing  {percentiles(r['draw'])}")
    print(f"   photos   {percentiles(r['photo'])}")
    print(f"   errors {len(r['errors'])}; app CPU {cpu / wall:.0%} of one core; "
          f"server memory {mem[0]:.0f} MB at start, {max(mem):.0f} MB peak, {mem[-1]:.0f} MB at end")
    for message in sorted(set(r["errors"]))[:5]:
        print(f"   error: {message}")
    return p95 <= 300 and not r["errors"]


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--students", type=int, default=30)
    p.add_argument("--seconds", type=float, default=60)
    p.add_argument("--photo-every", type=float, default=15, help="seconds between a student's photos")
    p.add_argument("--sweep", default="", help="comma-separated class sizes, e.g. 30,45,60,90")
    p.add_argument("--checkpoints", default=str(ROOT / "checkpoints"))
    args = p.parse_args()
    sizes = [int(s) for s in args.sweep.split(",") if s] or [args.students]
    pool = [data_url(d) for d in drawings(120, seed=3)]
    with tempfile.TemporaryDirectory() as runs:
        proc, base = launch_app(args.checkpoints, runs)
        try:
            asyncio.run(lesson(base, proc.pid, 3, 3, 1.5, pool))          # warm up: models loaded
            largest = 0
            for n in sizes:
                cpu0, wall0 = cpu_seconds(proc.pid), time.perf_counter()
                result = asyncio.run(lesson(base, proc.pid, n, args.seconds, args.photo_every, pool))
                if report(n, result, time.perf_counter() - wall0, cpu_seconds(proc.pid) - cpu0):
                    largest = max(largest, n)
                time.sleep(3)
            print(f"\nlargest class within p95 <= 300 ms and no errors: {largest or 'none of those tried'}")
        finally:
            proc.terminate()
            proc.wait(10)


if __name__ == "__main__":
    main()
