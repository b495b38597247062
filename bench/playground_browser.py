"""The Playground in a phone's browser (issue 27, part 2): frames a second and steps per frame in
Chromium with the CPU throttled 4x (CDP ``Emulation.setCPUThrottlingRate``), for each course
preset at 10 steps a frame, the race, and the largest network the tab allows. The goal: >= 30
frames a second with >= 10 steps per frame. A big network's batch is capped (settings.js:
MAX_STEP_WORK), so the largest network is measured at the largest batch it allows. When a
frame's work grows, the page draws the pictures less often and on a coarser grid, and evaluates
the curves less often (page.js: ``LEVELS``), never with fewer steps.

    .venv/bin/python bench/playground_browser.py                 # every case, 6 s each, 4x throttle
    .venv/bin/python bench/playground_browser.py --seconds 10 --throttle 1

The app runs in this process (the Playground tab only) on loopback; the page trains by itself, so
the server's part is the page load. Prints one line per case, then the figures as JSON.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

PG = "window.cnnlabPlayground"
LARGEST = {"dataset": "gaussian", "classes": 4, "noise": 1.0, "points": 1000, "train_ratio": 1.0,
           "features": ["x1", "x2", "x1^2", "x2^2", "x1*x2", "sin(x1)", "sin(x2)"], "hidden": [16] * 6,
           "activation": "tanh", "regularization": "L2", "reg_rate": 0.001, "optimizer": "adam", "lr": 0.003}
CASES = [
    ("preset 1: curve (100 points, full batch)", "regression", {"steps_per_frame": 10}),
    ("preset 2: two clouds (200 points, full batch)", "classification", {"steps_per_frame": 10}),
    ("largest network (7 features, 6 x 16, 4 classes), batch 10", None, {**LARGEST, "batch_size": 10,
                                                                       "steps_per_frame": 10}),
    # A batch of 1000 asked for: the page lowers it to the largest the network allows (MAX_STEP_WORK).
    ("largest network at its largest batch", None, {**LARGEST, "batch_size": 1000, "steps_per_frame": 10}),
    ("3 x 8 network (2 features) at its largest batch", None, {**LARGEST, "features": ["x1", "x2"], "hidden": [8] * 3,
                                                              "classes": 2, "batch_size": 1000, "steps_per_frame": 10}),
]

def launch():
    import tempfile

    import app
    from cnnlab.config import AppConfig
    config = AppConfig(tabs="playground", runs_dir=tempfile.mkdtemp(prefix="cnnlab-bench-"))
    demo = app.build_demo(config)
    demo.queue()
    kwargs = app.launch_kwargs(config, demo)
    kwargs.update(server_port=None, prevent_thread_lock=True, quiet=True)
    _, url, _ = demo.launch(**kwargs)
    return demo, url


def measure(page, seconds: float) -> dict:
    page.evaluate(f"{PG}.play()")
    page.wait_for_timeout(4000)                                  # warm up (JIT, the page's level settles)
    a = page.evaluate(f"({{...{PG}.stats, t: performance.now()}})")
    page.wait_for_timeout(seconds * 1000)
    b = page.evaluate(f"({{...{PG}.stats, t: performance.now(), level: {PG}.level, batch: {PG}.settings.batch_size}})")
    page.evaluate(f"{PG}.pause()")
    dt = (b["t"] - a["t"]) / 1000
    frames = b["frames"] - a["frames"]
    return {"fps": frames / dt, "steps_per_frame": (b["steps"] - a["steps"]) / max(1, frames),
            "pictures_per_s": (b["pictureFrames"] - a["pictureFrames"]) / dt, "level": b["level"],
            "batch": b["batch"]}


def measure_race(page, seconds: float) -> dict:
    page.evaluate(f"{PG}.preset('race')")                         # 384 steps, 8 a frame: 48 frames
    a = page.evaluate(f"({{s: {PG}.race.stepCount, t: performance.now()}})")
    page.wait_for_function(f"() => {PG}.race.finished", timeout=120_000, polling=50)
    b = page.evaluate(f"({{s: {PG}.race.stepCount, t: performance.now()}})")
    steps = b["s"] - a["s"]
    return {"fps": steps / 8 / ((b["t"] - a["t"]) / 1000), "steps_per_frame": 8, "note": "4 networks a step"}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seconds", type=float, default=6.0, help="measured seconds per case (default 6)")
    ap.add_argument("--throttle", type=float, default=4.0, help="CPU slow-down rate (default 4: a phone)")
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright
    demo, url = launch()
    results = {}
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path="/usr/bin/chromium",
                                         args=["--headless", "--no-sandbox", "--disable-gpu"])
            page = browser.new_page(viewport={"width": 390, "height": 844})
            page.goto(url)
            page.wait_for_function(f"() => {PG} && {PG}.p", timeout=60_000)
            cdp = page.context.new_cdp_session(page)
            cdp.send("Emulation.setCPUThrottlingRate", {"rate": args.throttle})
            print(f"Chromium, CPU throttled {args.throttle:g}x, 390 px wide, {args.seconds:g} s a case; "
                  f"load average {', '.join(f'{v:.2f}' for v in os.getloadavg())}")
            for name, preset, change in CASES:
                if preset:
                    page.evaluate(f"{PG}.preset({json.dumps(preset)})")
                page.evaluate(f"{PG}.apply({{...{PG}.settings, ...{json.dumps(change)}}})")
                r = measure(page, args.seconds)
                results[name] = r
                ok = "ok" if r["fps"] >= 30 and r["steps_per_frame"] >= 10 else "MISSES the goal"
                print(f"  {name:58s} {r['fps']:5.1f} frames/s  {r['steps_per_frame']:4.1f} steps/frame  "
                      f"pictures {r['pictures_per_s']:5.1f}/s (level {r['level']}, batch {r['batch']})  {ok}")
            r = measure_race(page, args.seconds)
            results["race (lesson 3)"] = r
            print(f"  {'race (lesson 3), 8 lockstep steps a frame':58s} {r['fps']:5.1f} frames/s")
            browser.close()
    finally:
        demo.close()
    print(json.dumps({"throttle": args.throttle, "when": time.strftime("%Y-%m-%d %H:%M"), "results": results}))


if __name__ == "__main__":
    main()
