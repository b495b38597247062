"""Fifty students playing in the Playground: does the Draw tab still answer as fast? (issue 27,
part 6: the Draw tab's p95 with 50 students playing within 10% of its p95 with none playing).

    .venv/bin/python bench/playground_load.py                      # 50 players, 10 drawers, 30 s
    .venv/bin/python bench/playground_load.py --players 30 --seconds 20
    .venv/bin/python bench/playground_load.py --nice -5            # on a machine busy with other work

The Playground trains in each student's browser (cnnlab/ui/web/playground/page.js): between Play
and Pause a page sends the server nothing (tests/test_playground_browser.py counts its requests).
What a player still costs the server is simulated here, generously, within each phase: the page's
scripts (GET /cnnlab/web/playground/*.js, as a first visit) and the PyTorch code of its setting
once; with ``--gifs N``, N of them also ask for the GIF of their run (30 frames): the two calls the
page makes on demand (Gradio's component server functions). The real app runs in a subprocess on loopback, as in
bench/draw_latency.py; drawers send a stroke a second. The phases run back to back in one process:
idle, playing, idle again, so the ratio compares like with like on a machine shared with other work.
"""
from __future__ import annotations

import argparse
import asyncio
import os
import random
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from draw_latency import ROOT, cpu_seconds, data_url, drawings, launch_app, percentiles, stroke_canvas

MODULES = ["boot.js", "page.js", "page.css", "controls.js", "template.js", "view.js", "owndata.js", "net.js",
           "data.js", "settings.js", "race.js", "random.js", "../engine/dense.js", "../engine/optim.js"]
CLOUDS = {"dataset": "two-clouds", "noise": 1.0, "points": 200, "features": ["x1", "x2"], "hidden": [10],
          "lr": 0.02, "batch_size": 200, "steps_per_frame": 2}


def uptime() -> str:
    return "load average " + ", ".join(f"{v:.2f}" for v in os.getloadavg())


def gif_frames(n: int = 30) -> list[str]:
    import base64
    import io

    from PIL import Image, ImageDraw
    out = []
    for i in range(n):
        im = Image.new("RGB", (320, 348), "white")
        ImageDraw.Draw(im).ellipse((10 + 5 * i, 10, 110 + 5 * i, 110), fill=(0, 114, 178))
        buffer = io.BytesIO()
        im.save(buffer, format="PNG")
        out.append("data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode())
    return out


async def page_id(client, base: str) -> int:
    config = (await client.get(f"{base}/config")).json()
    return next(c["id"] for c in config["components"] if c.get("props", {}).get("elem_id") == "pg-page")


async def lesson(base: str, drawers: int, players: int, seconds: float, pool: list, frames: list,
                 gifs: int = 0) -> dict:
    import httpx
    draw_lat, calls, errors = [], [], []

    async def drawer(i: int, client) -> None:
        rng = random.Random(i)
        session = f"draw-{players}-{i}-{time.time_ns()}"
        await asyncio.sleep(rng.random())
        start, k = time.perf_counter(), 0
        while time.perf_counter() - start < seconds:
            await asyncio.sleep(max(0.0, start + k - time.perf_counter()))
            k += 1
            t = time.perf_counter()
            try:
                await stroke_canvas(client, base, pool[(7 * i + k) % len(pool)], session)
                draw_lat.append(time.perf_counter() - t)
            except Exception as err:  # every failure counts
                errors.append(f"draw {type(err).__name__}: {err}")

    async def player(i: int, client, component: int) -> None:
        rng = random.Random(1000 + i)
        session = f"play-{i}-{time.time_ns()}"
        try:
            await asyncio.sleep(rng.random() * seconds / 4)
            for name in MODULES:                               # the page's scripts, as a first visit
                (await client.get(f"{base}/cnnlab/web/playground/{name}")).raise_for_status()
            asks = [("playground_code", {"settings": CLOUDS, "steps": 100, "lang": "en"})]
            if i < gifs:
                asks.append(("playground_gif", {"frames": frames, "lang": "en"}))
            for fn, payload in asks:
                await asyncio.sleep(rng.random() * seconds / 3)          # playing: nothing on the wire
                t = time.perf_counter()
                r = await client.post(f"{base}/gradio_api/component_server",
                                      json={"data": payload, "component_id": component, "fn_name": fn,
                                            "session_hash": session})
                r.raise_for_status()
                if "error" in r.json():
                    raise RuntimeError(r.json()["error"])
                calls.append(time.perf_counter() - t)
        except Exception as err:
            errors.append(f"play {type(err).__name__}: {err}")

    limits = httpx.Limits(max_connections=4 * (drawers + players), max_keepalive_connections=2 * (drawers + players))
    async with httpx.AsyncClient(timeout=60, limits=limits) as client:
        component = await page_id(client, base)
        await asyncio.gather(*(drawer(i, client) for i in range(drawers)),
                             *(player(i, client, component) for i in range(players)))
    return {"draw": draw_lat, "calls": calls, "errors": errors}


def p95(values: list[float]) -> float:
    import numpy as np
    return float(np.percentile(np.asarray(values) * 1000, 95)) if values else float("nan")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--players", type=int, default=50)
    p.add_argument("--drawers", type=int, default=10, help="students drawing a stroke a second meanwhile")
    p.add_argument("--seconds", type=float, default=30)
    p.add_argument("--gifs", type=int, default=0,
                   help="how many of the players also ask for the GIF of their run in the phase (default 0)")
    p.add_argument("--checkpoints", default=str(ROOT / "checkpoints"))
    p.add_argument("--nice", type=int, default=0,
                   help="run the app and the simulated class at this nice value (as bench/draw_latency.py: "
                        "e.g. -5 on a machine busy with other work; a classroom laptop runs nothing else); "
                        "needs root below 0")
    args = p.parse_args()
    if args.nice:
        os.nice(args.nice)
    pool = [data_url(d) for d in drawings(120, seed=3)]
    frames = gif_frames()
    print(f"{args.drawers} drawers (1 stroke/s) with 0, then {args.players}, then 0 players "
          f"(each: the page's scripts and the code once; {args.gifs} of them a GIF of {len(frames)} frames), "
          f"{args.seconds:.0f} s each; {uptime()} at start"
          + (f"; app and class at nice {args.nice}" if args.nice else ""))
    with tempfile.TemporaryDirectory() as runs:
        proc, base = launch_app(args.checkpoints, runs)
        try:
            asyncio.run(lesson(base, 3, 3, 3, pool, frames))       # warm up
            results = []
            for players in (0, args.players, 0):
                cpu0, wall0 = cpu_seconds(proc.pid), time.perf_counter()
                gifs = min(args.gifs, players)
                r = asyncio.run(lesson(base, args.drawers, players, args.seconds, pool, frames, gifs))
                wall = time.perf_counter() - wall0
                cpu = cpu_seconds(proc.pid) - cpu0
                results.append(r)
                print(f"\n   {players} playing: drawing {percentiles(r['draw'])}")
                if players:
                    print(f"   {'':11s}code and GIF calls {percentiles(r['calls'])}")
                print(f"   {'':11s}errors {len(r['errors'])}; app CPU {cpu / wall:.0%} of one core; {uptime()}")
                for message in sorted(set(r["errors"]))[:5]:
                    print(f"   error: {message}")
                time.sleep(2)
            idle = (p95(results[0]["draw"]) + p95(results[2]["draw"])) / 2
            busy = p95(results[1]["draw"])
            print(f"\nDraw p95: idle {idle:.1f} ms (mean of before and after), with {args.players} playing "
                  f"{busy:.1f} ms: ratio {busy / idle:.2f} (goal <= 1.10); {uptime()} at the end")
        finally:
            proc.terminate()
            proc.wait(15)


if __name__ == "__main__":
    main()
