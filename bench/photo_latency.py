"""Photo tab: time per photo for each task, calling the tab's handler directly.

The input is what a phone sends: a 3000x4000 JPEG (12 megapixels, ~2-4 MB). Each call decodes
the file (no cache), preprocesses, classifies and writes the verdict, as the server does; with
--saliency it also computes and draws the saliency overlay.

    python bench/photo_latency.py                  # 20 photos per task, after 2 warm-up calls
    python bench/photo_latency.py --runs 50 --saliency
"""
from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

from cnnlab.core import imageio
from cnnlab.server.zoo import ModelZoo
from cnnlab.ui import photo

PHONE = (3000, 4000)         # width x height of a 12 MP portrait phone photo


def phone_jpeg(source: Image.Image, path: Path, seed: int = 0) -> Path:
    """``source`` enlarged onto a 3000x4000 portrait frame with sensor noise, saved as a JPEG."""
    w, h = PHONE
    frame = Image.new("RGB", PHONE, source.getpixel((0, 0)))
    scale = 0.8 * min(w / source.width, h / source.height)
    big = source.resize((round(source.width * scale), round(source.height * scale)), Image.BICUBIC)
    frame.paste(big, ((w - big.width) // 2, (h - big.height) // 2))
    noise = np.random.default_rng(seed).normal(0, 4, (h, w, 1)).astype(np.float32)
    pixels = np.clip(np.asarray(frame, np.float32) + noise, 0, 255).astype(np.uint8)
    Image.fromarray(pixels).save(path, quality=90)
    return path


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(values, q))


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--runs", type=int, default=20, help="timed photos per task (default: 20)")
    p.add_argument("--saliency", action="store_true", help="also compute the saliency overlay")
    p.add_argument("--checkpoints", default=str(ROOT / "checkpoints"), help="folder of checkpoints")
    p.add_argument("--threads", type=int, default=0, help="torch CPU threads (default: torch's choice)")
    args = p.parse_args(argv)

    import torch
    if args.threads:
        torch.set_num_threads(args.threads)
    zoo = ModelZoo(args.checkpoints)
    tmp = Path(tempfile.mkdtemp(prefix="photo-bench-"))
    rows, _ = photo.example_rows()                                  # scikit-learn's flower.jpg
    flower = next((Image.open(r[0]) for r in rows if r[1] == "Flower"), None)
    if flower is None:
        sys.exit("scikit-learn's sample flower.jpg was not found (pip install scikit-learn)")
    inputs = {
        "Clothing": phone_jpeg(Image.open(ROOT / "demo" / "fashion-sneaker.jpg").convert("RGB"),
                               tmp / "shoe.jpg"),
        "Flower": phone_jpeg(flower.convert("RGB"), tmp / "flower.jpg"),
    }
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, {os.cpu_count()} CPUs; "
          f"saliency {'on' if args.saliency else 'off'}")
    for task, path in inputs.items():
        model = zoo.default(photo.TASKS[task])
        if model is None:
            print(f"{task:9s} no model in {args.checkpoints}; skipped")
            continue
        decode = []
        for _ in range(3):
            t = time.perf_counter()
            imageio.load_photo(path)
            decode.append(time.perf_counter() - t)
        for _ in range(2):                                          # warm-up: model load, caches
            photo.classify_photo(zoo, str(path), task, model, args.saliency)
        times = []
        for _ in range(args.runs):
            t = time.perf_counter()
            verdict = photo.classify_photo(zoo, str(path), task, model, args.saliency)[0]
            times.append(time.perf_counter() - t)
        ms = [1000 * s for s in times]
        top = verdict.splitlines()[0].removeprefix("## ")
        print(f"{task:9s} {model:18s} {path.stat().st_size / 1e6:.1f} MB {PHONE[0]}x{PHONE[1]} JPEG: "
              f"p50 {percentile(ms, 50):6.1f} ms  p95 {percentile(ms, 95):6.1f} ms  "
              f"(decode alone {1000 * statistics.median(decode):.1f} ms; n={args.runs}; answer: {top})")


if __name__ == "__main__":
    main()
