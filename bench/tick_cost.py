"""What a tab's timer tick costs the laptop when nothing changed: every phone on the Own classes
tab ticks every 2 s, the Inside tab's live view and the Class board every second.

    .venv/bin/python bench/tick_cost.py                      # this checkout
    .venv/bin/python bench/tick_cost.py --app /tmp/old       # an older checkout (git worktree add)

For each tab, the real app of that one tab (``python app.py --tabs TAB``, in a process of its own)
gets one page's tick 300 times in a row, as the page sends it: through the queue (a join and an
event stream) or, for a tick outside the queue, one POST. Prints the median time a tick takes and
the app's CPU time per tick.
"""
from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from class_load import Session  # noqa: E402
from draw_latency import ROOT, cpu_seconds, launch_app  # noqa: E402

TABS = ("own", "inside", "board")


async def time_ticks(base: str, pid: int, tab: str, n: int) -> str:
    import httpx
    async with httpx.AsyncClient(timeout=60) as client:
        config = (await client.get(base + "/config")).json()
        components = {c["id"]: c for c in config["components"]}
        dep = next(d for d in config["dependencies"]
                   if any(components.get(t, {}).get("type") == "timer" and event == "tick"
                          for t, event in d["targets"]))
        fn, trigger = dep["id"], dep["targets"][0][0]
        data = [None if components[i]["type"] == "state" else components[i].get("props", {}).get("value")
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
        cpu, wall = cpu_seconds(pid), []
        for _ in range(n):
            t = time.perf_counter()
            await tick()
            wall.append((time.perf_counter() - t) * 1000)
        return (f"  {tab:7s} tick ({'through the queue' if queued else 'one POST'}): median "
                f"{statistics.median(wall):.1f} ms, the app's CPU {(cpu_seconds(pid) - cpu) / n * 1000:.1f} ms")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--app", type=Path, default=ROOT, help="the checkout whose app is timed (default: this one)")
    p.add_argument("--ticks", type=int, default=300)
    args = p.parse_args()
    print(f"app: {args.app.resolve()}")
    for tab in TABS:
        with tempfile.TemporaryDirectory() as runs:
            proc, base = launch_app(str(ROOT / "checkpoints"), runs, args.app.resolve(), "--tabs", tab)
            try:
                print(asyncio.run(time_ticks(base, proc.pid, tab, args.ticks)), flush=True)
            finally:
                proc.terminate()
                proc.wait(10)


if __name__ == "__main__":
    main()
