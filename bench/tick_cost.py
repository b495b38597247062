"""What a tab's timer tick costs the laptop when nothing changed: every phone on the Own classes
tab ticks every 2 s, the Inside tab's live view and the Class board every second.

    .venv/bin/python bench/tick_cost.py                      # this checkout
    .venv/bin/python bench/tick_cost.py --app /tmp/old       # an older checkout (git worktree add)

For each tab, the real app of that one tab is launched in this process and one page's tick is sent
300 times in a row, as the page sends it: through the queue (a join and an event stream) or, for a
tick outside the queue, one POST. Prints the median wall time and the CPU time per tick (app and
client together: one process).
"""
from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TABS = ("own", "inside", "board")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--app", type=Path, default=ROOT, help="the checkout whose app is timed (default: this one)")
    p.add_argument("--ticks", type=int, default=300)
    args = p.parse_args()
    sys.path[:0] = [str(args.app), str(ROOT / "bench")]
    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    os.environ.setdefault("CNNLAB_DATA", str(ROOT.parent / "shared" / "data"))
    os.chdir(args.app)
    from class_load import Session

    import app
    from cnnlab.config import AppConfig
    print(f"app: {args.app}")
    for tab in TABS:
        with tempfile.TemporaryDirectory() as runs:
            config = AppConfig(data_dir=os.environ["CNNLAB_DATA"], runs_dir=runs, tabs=tab)
            demo = app.build_demo(config)
            demo.queue(default_concurrency_limit=4, max_size=256)
            kwargs = app.launch_kwargs(config, demo)
            kwargs.update(server_port=None, prevent_thread_lock=True, quiet=True)
            _, url, _ = demo.launch(**kwargs)
            try:
                asyncio.run(time_ticks(url.rstrip("/"), tab, args.ticks, Session))
            finally:
                demo.close()


async def time_ticks(base: str, tab: str, n: int, Session) -> None:
    import httpx
    async with httpx.AsyncClient(timeout=60) as client:
        config = (await client.get(base + "/config")).json()
        kinds = {c["id"]: c["type"] for c in config["components"]}
        dep = next(d for d in config["dependencies"]
                   if any(kinds.get(t) == "timer" and event == "tick" for t, event in d["targets"]))
        fn, trigger = dep["id"], dep["targets"][0][0]
        data = [None if kinds.get(i) == "state" else
                next(c for c in config["components"] if c["id"] == i).get("props", {}).get("value")
                for i in dep["inputs"]]
        queued = dep.get("queue", True) is not False
        session = Session(client, base)

        async def tick():
            if queued:
                return await session.event(fn, trigger, data)
            body = {"data": data, "event_data": None, "fn_index": fn, "trigger_id": trigger,
                    "session_hash": session.hash}
            (await client.post(base + "/gradio_api/run/predict", json=body)).raise_for_status()

        for _ in range(20):                              # the page's first tick draws; then nothing new
            await tick()
        cpu, wall = time.process_time(), []
        for _ in range(n):
            t = time.perf_counter()
            await tick()
            wall.append((time.perf_counter() - t) * 1000)
        print(f"  {tab:7s} tick ({'through the queue' if queued else 'one POST'}): "
              f"median {statistics.median(wall):.1f} ms, CPU {(time.process_time() - cpu) / n * 1000:.1f} ms")


if __name__ == "__main__":
    main()
