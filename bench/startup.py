"""How long after `python app.py` the page is served (issue: within 10 s on 2 cores).

    .venv/bin/python bench/startup.py [--runs 3]

Starts the real app in a subprocess on a free loopback port and polls GET / until it answers 200.
"""
from __future__ import annotations

import argparse
import os
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def time_startup(timeout: float = 120.0) -> float:
    port = free_port()
    env = dict(os.environ, CNNLAB_DATA=os.environ.get("CNNLAB_DATA", str(ROOT.parent / "shared" / "data")))
    start = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "app.py", "--port", str(port)], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while time.perf_counter() - start < timeout:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=2) as r:
                    if r.status == 200:
                        return time.perf_counter() - start
            except OSError:
                time.sleep(0.1)
        raise TimeoutError(f"no page after {timeout} s")
    finally:
        proc.terminate()
        proc.wait(10)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--runs", type=int, default=3)
    args = p.parse_args()
    times = [time_startup() for _ in range(args.runs)]
    print(f"page served after: min {min(times):.1f} s, median {statistics.median(times):.1f} s, "
          f"max {max(times):.1f} s over {len(times)} starts (goal <= 10 s)")


if __name__ == "__main__":
    main()
