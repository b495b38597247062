"""Class board: what a class of students costs the laptop.

1. Submissions: N students submit at the same moment, each several drawings in a row, into one
   SQLite file (the app's BoardStore: WAL, one connection per thread). Prints the time per
   submission (p50/p95/max), the rate, and checks that every row arrived exactly once.
2. Live board: what one viewer's 1-second tick costs when nothing changed (one query), and what
   redrawing the board costs when something did (counts, latest drawings, thumbnails, table),
   including Gradio's own serialisation of the gallery and the table.

    python bench/board_load.py                      # 30 students x 20 drawings
    python bench/board_load.py --students 60 --each 10
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

from cnnlab.lessons.board.drawings import Thumbnails
from cnnlab.lessons.board.store import BoardStore
from cnnlab.ui import board as board_ui


def pct(values, q):
    return sorted(values)[min(len(values) - 1, int(q * len(values)))]


def submissions(store: BoardStore, students: int, each: int) -> None:
    rng = np.random.default_rng(0)
    drawings = rng.integers(0, 256, (students, each, 28, 28), dtype=np.uint8)
    barrier = threading.Barrier(students)
    times: list[float] = []
    lock = threading.Lock()

    def student(i):
        barrier.wait()
        for k in range(each):
            t = time.perf_counter()
            store.add(drawings[i, k], k % 10, (k * 7 + i) % 10, [0.1] * 10, "mnist-cnn", f"student-{i}", f"kid {i}")
            with lock:
                times.append(time.perf_counter() - t)

    threads = [threading.Thread(target=student, args=(i,)) for i in range(students)]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - start
    n = store.count()
    ms = [t * 1000 for t in times]
    print(f"submissions: {students} students x {each} at once -> {n} rows (expected {students * each}, "
          f"{'OK' if n == students * each else 'LOST OR DUPLICATED'})")
    print(f"  per submission: p50 {statistics.median(ms):.1f} ms, p95 {pct(ms, 0.95):.1f} ms, max {max(ms):.1f} ms; "
          f"{n / wall:.0f} submissions/s overall ({wall:.2f} s)")


def live_board(store: BoardStore, runs: int) -> None:
    import gradio as gr
    thumbs = Thumbnails()
    t = time.perf_counter()
    for _ in range(runs):
        store.version()
    idle = (time.perf_counter() - t) / runs * 1000
    gallery, table = gr.Gallery(), gr.Dataframe()
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        summary = store.summary()
        latest = store.submissions(limit=board_ui.LATEST_SHOWN)
        items = board_ui.gallery_items(latest, thumbs)
        styled = table.postprocess(board_ui.confusion_table(summary.confusion)).model_dump()
        board_ui.header_html(summary)
        gallery.postprocess(items)
        table.postprocess(styled)
        times.append((time.perf_counter() - t) * 1000)
    per_viewer = []
    for _ in range(runs):                  # what each further viewer costs: the shared view is cached
        t = time.perf_counter()
        gallery.postprocess(items)
        table.postprocess(styled)
        per_viewer.append((time.perf_counter() - t) * 1000)
    print(f"live board: a tick with nothing new {idle:.3f} ms; a redraw (counts + {board_ui.LATEST_SHOWN} "
          f"drawings + table, serialised) p50 {statistics.median(times):.1f} ms once per change "
          f"(first {times[0]:.1f} ms: writes the thumbnails), then p50 {statistics.median(per_viewer):.1f} ms "
          "per viewer")


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--students", type=int, default=30, help="students submitting at once (default: 30)")
    p.add_argument("--each", type=int, default=20, help="drawings per student (default: 20)")
    p.add_argument("--runs", type=int, default=50, help="repetitions of the board timings (default: 50)")
    a = p.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        store = BoardStore(Path(tmp) / "board.sqlite")
        try:
            submissions(store, a.students, a.each)
            live_board(store, a.runs)
        finally:
            store.close()


if __name__ == "__main__":
    main()
