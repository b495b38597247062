"""Thirty students playing in the Playground: does the Draw tab still answer as fast? (issue 15:
with 30 users playing, the Draw tab's p95 stays within 1.5x of idle). Also what one playground
frame costs.

    .venv/bin/python bench/playground_load.py                          # 30 players, 10 drawers, 30 s
    .venv/bin/python bench/playground_load.py --setting max --seconds 20   # the largest allowed net
    .venv/bin/python bench/playground_load.py --frame-only             # the cost of one frame, in process
    .venv/bin/python bench/playground_load.py --nice -5                # on a machine busy with other work

The real app runs in a subprocess (``python app.py``) on loopback, as in bench/draw_latency.py.
Drawers send a stroke a second (as the page does). Each player loads a preset
(``/call/playground_preset_classification``), presses Play (``/call/playground_play``) and reads
the stream of frames the page reads while it plays (``/call/playground_stream``: a frame every
TICK_S seconds, fewer when the server is busy), then presses Pause. With ``--setting max`` each player
first sends the largest network the limits allow (one Step with those settings). The phases run back to back in one
process: idle, playing, idle again, so the ratio compares like with like on a machine shared with
other work; the load averages at the start and end are printed with the figures.
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
from classroom_load import call
from draw_latency import ROOT, cpu_seconds, data_url, drawings, launch_app, percentiles, stroke_canvas

N_CONTROLS = 15


def uptime() -> str:
    return "load average " + ", ".join(f"{v:.2f}" for v in os.getloadavg())


def frame_cost(repeats: int = 200) -> None:
    """One tick's work in process: steps, the frame, its JSON; for the course's preset and the
    largest network the limits allow."""
    import torch

    from cnnlab.lessons import playground as pg
    from cnnlab.ui.playground import PlayView
    torch.set_num_threads(1)                  # as in the app's request threads
    largest = pg.Settings(dataset="spiral", noise=0.1, points=pg.MAX_POINTS, train_ratio=0.5,
                          features=tuple(pg.FEATURES), hidden=(pg.MAX_NEURONS,) * pg.MAX_HIDDEN_LAYERS,
                          activation="tanh", optimizer="adam", lr=0.01, batch_size=pg.MAX_POINTS,
                          steps_per_frame=pg.MAX_STEPS_PER_CALL)
    print(f"One frame (in process, 1 thread), {uptime()}")
    for name, s in (("course clouds, 2 steps", pg.PRESETS["classification"]),
                    ("course curve, 5 steps", pg.PRESETS["regression"]),
                    ("largest net (6x16, 1000 points, full batch), 25 steps", largest)):
        p = pg.Playground(s)
        view = PlayView()
        steps, frames, sizes, cpu = [], [], [], []
        for _ in range(repeats if "largest" not in name else repeats // 4):
            t, c = time.perf_counter(), time.thread_time()
            p.step()
            t1, c1 = time.perf_counter(), time.thread_time()
            sizes.append(len(view.postprocess(p.frame())))
            frames.append(time.perf_counter() - t1)
            steps.append(t1 - t)
            cpu.append((c1 - c, time.thread_time() - c1))
        steps_cpu, frame_cpu = (1000 * sum(x) / len(cpu) for x in zip(*cpu))
        print(f"   {name:55s} steps {percentiles(steps)}   CPU {steps_cpu:.1f} ms")
        print(f"   {'':55s} frame {percentiles(frames)}   CPU {frame_cpu:.1f} ms   "
              f"JSON {sum(sizes) / len(sizes) / 1024:.1f} kB")


async def lesson(base: str, drawers: int, players: int, seconds: float, tick_s: float, pool: list,
                 setting: str) -> dict:
    import httpx
    draw_lat, tick_lat, errors, steps, shown = [], [], [], {}, []

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

    async def player(i: int, client) -> None:
        rng = random.Random(1000 + i)
        session = f"play-{i}-{time.time_ns()}"
        await asyncio.sleep(rng.random())
        try:
            line = await call(client, base, "playground_preset_classification", [1], session)
        except Exception as err:
            errors.append(f"preset {type(err).__name__}: {err}")
            return
        out = json.loads(line[5:])
        values = [v["value"] if isinstance(v, dict) and "__type__" in v else v for v in out[:N_CONTROLS]]
        if setting == "max":                          # the largest net the limits allow
            values[5] = ["x1", "x2", "x1^2", "x2^2", "x1*x2", "sin(x1)", "sin(x2)"]
            values[3], values[6], values[7], values[13], values[14] = 1000, 6, 16, 1000, 25
            await call(client, base, "playground_step", [1, *values], session)
        # Play, as the page does: the toggle, then the stream its success starts, read for `seconds`
        # (each frame's gap from the one before is its "tick" latency), then Pause ends the stream.
        try:
            await call(client, base, "playground_play", [1, *values], session)
            r = await client.post(f"{base}/gradio_api/call/playground_stream",
                                  json={"data": [1], "session_hash": session})
            r.raise_for_status()
            start = last = time.perf_counter()
            event = None
            async with client.stream("GET", f"{base}/gradio_api/call/playground_stream/{r.json()['event_id']}") as resp:
                async for line in resp.aiter_lines():
                    if line.startswith("event:"):
                        event = line.split(":", 1)[1].strip()
                    elif line.startswith("data:") and event == "generating":
                        frame = json.loads(line[5:])[0]
                        if isinstance(frame, str):                       # a frame (not a skipped output)
                            now = time.perf_counter()
                            tick_lat.append(now - last)
                            last = now
                            steps[i] = json.loads(frame)["step"]
                            shown.append(1)
                        if time.perf_counter() - start >= seconds:
                            break
                    elif line.startswith("data:") and event == "error":
                        raise RuntimeError(line[5:].strip()[:200])
            await call(client, base, "playground_play", [1, *values], session)      # Pause
        except Exception as err:
            errors.append(f"play {type(err).__name__}: {err}")

    limits = httpx.Limits(max_connections=4 * (drawers + players), max_keepalive_connections=2 * (drawers + players))
    async with httpx.AsyncClient(timeout=60, limits=limits) as client:
        await asyncio.gather(*(drawer(i, client) for i in range(drawers)),
                             *(player(i, client) for i in range(players)))
    return {"draw": draw_lat, "tick": tick_lat, "errors": errors, "steps": steps, "frames": len(shown)}


def p95(values: list[float]) -> float:
    import numpy as np
    return float(np.percentile(np.asarray(values) * 1000, 95)) if values else float("nan")


def main() -> None:
    from cnnlab.ui.playground import TICK_S
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--players", type=int, default=30)
    p.add_argument("--drawers", type=int, default=10, help="students drawing a stroke a second meanwhile")
    p.add_argument("--seconds", type=float, default=30)
    p.add_argument("--setting", choices=("course", "max"), default="course",
                   help="the players' network: the course's clouds preset, or the largest allowed")
    p.add_argument("--frame-only", action="store_true", help="only measure one frame in process")
    p.add_argument("--checkpoints", default=str(ROOT / "checkpoints"))
    p.add_argument("--nice", type=int, default=0,
                   help="run the app and the simulated class at this nice value (as bench/draw_latency.py: "
                        "e.g. -5 on a machine busy with other work; a classroom laptop runs nothing else); "
                        "needs root below 0")
    args = p.parse_args()
    if args.nice:
        os.nice(args.nice)
    frame_cost()
    if args.frame_only:
        return
    pool = [data_url(d) for d in drawings(120, seed=3)]
    print(f"\n{args.drawers} drawers (1 stroke/s) with 0, then {args.players}, then 0 players "
          f"({args.setting} setting, a frame every {TICK_S} s), {args.seconds:.0f} s each; {uptime()} at start"
          + (f"; app and class at nice {args.nice}" if args.nice else ""))
    with tempfile.TemporaryDirectory() as runs:
        proc, base = launch_app(args.checkpoints, runs)
        try:
            asyncio.run(lesson(base, 3, 3, 3, TICK_S, pool, args.setting))       # warm up
            results, cpu_rates = [], []
            for players in (0, args.players, 0):
                cpu0, wall0 = cpu_seconds(proc.pid), time.perf_counter()
                r = asyncio.run(lesson(base, args.drawers, players, args.seconds, TICK_S, pool, args.setting))
                wall = time.perf_counter() - wall0
                cpu = cpu_seconds(proc.pid) - cpu0
                results.append(r)
                cpu_rates.append(cpu / wall)
                print(f"\n   {players} playing: drawing {percentiles(r['draw'])}")
                if players:
                    ticks = len(r["tick"])
                    mean_steps = sum(r["steps"].values()) / max(1, len(r["steps"]))
                    print(f"   {'':11s}frame gaps {percentiles(r['tick'])}")
                    print(f"   {'':11s}{ticks / wall / players:.2f} frames/s per player ({ticks / wall:.0f}/s in all), "
                          f"{mean_steps / wall:.1f} steps/s per player; "
                          f"app CPU per frame {1000 * (cpu / wall - cpu_rates[0]) / max(ticks / wall, 1e-9):.1f} ms "
                          "(above the drawers' own)")
                print(f"   {'':11s}errors {len(r['errors'])}; app CPU {cpu / wall:.0%} of one core; {uptime()}")
                for message in sorted(set(r["errors"]))[:5]:
                    print(f"   error: {message}")
                time.sleep(2)
            idle = (p95(results[0]["draw"]) + p95(results[2]["draw"])) / 2
            busy = p95(results[1]["draw"])
            print(f"\nDraw p95: idle {idle:.1f} ms (mean of before and after), with {args.players} playing "
                  f"{busy:.1f} ms: ratio {busy / idle:.2f} (goal <= 1.5); {uptime()} at the end")
        finally:
            proc.terminate()
            proc.wait(15)


if __name__ == "__main__":
    main()
