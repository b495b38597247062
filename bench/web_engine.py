"""The browser engine's speed in node (no browser, no throttling): the preprocessing of one drawing
and the forward pass of each shipped model the browser runs, p50/p95/max per call.

    python bench/web_engine.py                  # 280 x 280 canvas, float16 weights
    python bench/web_engine.py --side 600 --dtype float32
    python bench/web_engine.py --compare /tmp/old/engine   # an older engine first, then this one

Chromium with its CPU throttled (the issue's 4x) is the phone-like figure; this one tells the
engine's own cost and catches a slow change. Needs node on PATH.
"""
from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from handwriting import DIGITS, render  # noqa: E402

from cnnlab.core import checkpoints  # noqa: E402
from cnnlab.core.nets import webexport  # noqa: E402

SHIPPED = ("mnist-cnn", "mnist-mlp", "fashion-cnn-deep")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--side", type=int, default=280, help="canvas side in pixels")
    parser.add_argument("--dtype", choices=webexport.DTYPES, default="float16", help="weights as sent")
    parser.add_argument("--compare", type=Path, default=None,
                        help="another engine folder (say, an older commit's) timed first, on the same files")
    args = parser.parse_args()
    node = shutil.which("node")
    if node is None:
        sys.exit("node is not installed")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        canvases = []
        for width in (3, 12, 22):
            for strokes in DIGITS.values():
                grey = np.asarray(render(strokes, size=args.side, width=width * args.side / 280))
                rgba = np.zeros((*grey.shape, 4), np.uint8)
                rgba[..., 3] = 255 - grey                # black ink, its alpha the darkness
                canvases.append(rgba)
        (tmp / "drawings.u8").write_bytes(np.stack(canvases).tobytes())
        paths = []
        for name in SHIPPED:
            data, _ = webexport.browser_file(checkpoints.load(ROOT / "checkpoints" / f"{name}.pt"), args.dtype)
            paths.append(tmp / f"{name}.bin")
            paths[-1].write_bytes(data)
        engines = ([args.compare] if args.compare else []) + [ROOT / "cnnlab" / "ui" / "web" / "engine"]
        for engine in engines:
            print(f"engine: {engine}", flush=True)
            subprocess.run([node, str(ROOT / "bench" / "web_engine.mjs"), str(engine), str(tmp / "drawings.u8"),
                            str(args.side), *map(str, paths)], check=True)


if __name__ == "__main__":
    main()
