"""How fast the Draw tab answers: one handler call, a class of 30 drawing at once, and how many
HTTP requests one real browser stroke costs.

    .venv/bin/python bench/draw_latency.py                  # everything (about 2.5 minutes)
    .venv/bin/python bench/draw_latency.py --skip-browser --students 30 --seconds 30
    .venv/bin/python bench/draw_latency.py --compare-sketchpad   # also count a plain gr.Sketchpad

1. Handler: ``cnnlab.ui.draw.predict_digit`` called directly on real handwriting (MNIST test
   digits as a 280x280 canvas holds them), with and without saliency. Goal: p95 <= 15 ms.
2. Class: the real app launched in a subprocess on loopback; N simulated students, each sending
   one stroke a second (the whole drawing so far, as the page does) with a light asyncio httpx
   client over Gradio's REST API (GRADIO_NOTES §9), one session per student as a page has: the
   browser's path, one
   ``POST /gradio_api/call/predict_drawing`` with the PNG inline, and the API path,
   ``POST /gradio_api/upload`` + ``POST /gradio_api/call/predict_digit``; each then reads the
   result stream. Goal: p95 <= 300 ms, no errors.
3. Browser: headless Chromium draws one stroke on the page; every request it makes is counted.
"""
from __future__ import annotations

import argparse
import asyncio
import base64
import io
import json
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("CNNLAB_DATA", str(ROOT.parent / "shared" / "data"))

import numpy as np
from PIL import Image

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]


def percentiles(values: list[float]) -> str:
    if not values:
        return "no samples"
    ms = np.asarray(values) * 1000
    return (f"p50 {np.percentile(ms, 50):6.1f} ms   p95 {np.percentile(ms, 95):6.1f} ms   "
            f"max {ms.max():6.1f} ms   (n={len(ms)})")


def drawings(n: int, seed: int = 0) -> list[Image.Image]:
    """Real handwriting as the canvas holds it: MNIST test digits, black ink on white, 280x280."""
    from cnnlab.core import datasets
    images = datasets.load("mnist", "test").images[:, 0].numpy()
    rng = np.random.default_rng(seed)
    return [Image.fromarray(255 - images[i]).resize((280, 280), Image.BILINEAR)
            for i in rng.choice(len(images), n, replace=False)]


def png_bytes(image: Image.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def data_url(image: Image.Image) -> str:
    return "data:image/png;base64," + base64.b64encode(png_bytes(image)).decode("ascii")


# ------------------------------------------------------------------ 1. the handler alone

def bench_handler(checkpoints: str, repeats: int) -> None:
    import torch

    from cnnlab.core.threads import REQUEST_THREADS
    from cnnlab.server.zoo import ModelZoo
    from cnnlab.ui.canvas import decode_drawing
    from cnnlab.ui.draw import predict_digit

    torch.set_num_threads(REQUEST_THREADS)          # as in the app's request threads (cnnlab.core.threads)
    zoo = ModelZoo(checkpoints)
    sketches = [{"background": None, "layers": [], "composite": np.asarray(d)} for d in drawings(50)]
    urls = [data_url(d) for d in drawings(50, seed=1)]
    print(f"1. Handler time for one sketch (cnnlab.ui.draw.predict_digit, called directly, "
          f"{REQUEST_THREADS} PyTorch thread as in the app's request threads)")
    for model in ("mnist-cnn", "mnist-mlp"):
        if model not in {k for _, k in zoo.choices(("mnist",))}:
            print(f"   {model}: not in {checkpoints}, skipped")
            continue
        for saliency in (False, True):
            for s in sketches[:5]:
                predict_digit(zoo, s, model, saliency)                 # load the model, warm up
            times = []
            for i in range(repeats):
                start = time.perf_counter()
                predict_digit(zoo, sketches[i % len(sketches)], model, saliency)
                times.append(time.perf_counter() - start)
            print(f"   {model:10s} saliency {'on ' if saliency else 'off'}  {percentiles(times)}")
    times = []
    for i in range(repeats):
        start = time.perf_counter()
        decode_drawing(urls[i % len(urls)])
        times.append(time.perf_counter() - start)
    print(f"   (the canvas's PNG data URL -> pixels, before the handler: {percentiles(times)})")


# ------------------------------------------------------------------ 2. a class on loopback

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launch_app(checkpoints: str, runs_dir: str, app_dir: Path = ROOT, *flags: str) -> tuple[subprocess.Popen, str]:
    """The real app (python app.py of ``app_dir``: this checkout, or an older one to compare) on a
    free loopback port, with more ``flags`` if given; it inherits our nice value."""
    port = free_port()
    proc = subprocess.Popen([sys.executable, "app.py", "--port", str(port), "--checkpoints", checkpoints,
                             "--runs-dir", runs_dir, *flags], cwd=app_dir, env=dict(os.environ),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    import urllib.request
    deadline = time.time() + 180
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(url + "/", timeout=2) as r:
                if r.status == 200:
                    return proc, url
        except OSError:
            time.sleep(0.3)
    proc.terminate()
    raise TimeoutError("the app did not start within 180 s")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def read_result(client, url: str) -> None:
    """Read a /call result stream until its 'complete' (or 'error') event."""
    event = None
    async with client.stream("GET", url) as response:
        response.raise_for_status()
        async for line in response.aiter_lines():
            if line.startswith("event:"):
                event = line.split(":", 1)[1].strip()
            elif line.startswith("data:") and event in ("complete", "error"):
                if event == "error":
                    raise RuntimeError(f"the app answered with an error: {line[5:].strip()[:200]}")
                data = json.loads(line[5:])
                if not (isinstance(data, list) and "sure" in str(data[0])):
                    raise RuntimeError(f"unexpected answer: {str(data)[:200]}")
                return
    raise RuntimeError(f"the result stream ended without an answer (last event: {event})")


async def stroke_canvas(client, base: str, drawing: str, session: str) -> None:
    """What the page does for one stroke: the drawing inline, then the answer's stream."""
    r = await client.post(f"{base}/gradio_api/call/predict_drawing",
                          json={"data": [drawing, "mnist-cnn", False], "session_hash": session})
    r.raise_for_status()
    await read_result(client, f"{base}/gradio_api/call/predict_drawing/{r.json()['event_id']}")


async def stroke_api(client, base: str, png: bytes, session: str) -> None:
    """What an API client does: upload the PNG, call /predict_digit with the Sketchpad's dict."""
    r = await client.post(f"{base}/gradio_api/upload", files={"files": ("sketch.png", png, "image/png")})
    r.raise_for_status()
    path = r.json()[0]
    sketch = {"background": None, "layers": [], "id": None,
              "composite": {"path": path, "meta": {"_type": "gradio.FileData"}}}
    r = await client.post(f"{base}/gradio_api/call/predict_digit",
                          json={"data": [sketch, "mnist-cnn", False], "session_hash": session})
    r.raise_for_status()
    await read_result(client, f"{base}/gradio_api/call/predict_digit/{r.json()['event_id']}")


async def classroom(base: str, path: str, students: int, seconds: float, pool: list) -> tuple[list, list]:
    import httpx
    latencies, errors = [], []

    async def student(i: int, client) -> None:
        rng = random.Random(i)
        session = f"{path}-student-{i}-{seconds}"          # one page (Gradio session) per student
        await asyncio.sleep(rng.random())                 # students do not start in step
        start = time.perf_counter()
        k = 0
        while time.perf_counter() - start < seconds:
            due = start + k
            await asyncio.sleep(max(0.0, due - time.perf_counter()))
            item = pool[(i * 7 + k) % len(pool)]
            t = time.perf_counter()
            try:
                await (stroke_canvas(client, base, item[0], session) if path == "canvas"
                       else stroke_api(client, base, item[1], session))
                latencies.append(time.perf_counter() - t)
            except Exception as err:  # every failure is counted
                errors.append(f"{type(err).__name__}: {err}")
            k += 1

    limits = httpx.Limits(max_connections=4 * students, max_keepalive_connections=2 * students)
    async with httpx.AsyncClient(timeout=30, limits=limits) as client:
        await asyncio.gather(*(student(i, client) for i in range(students)))
    return latencies, errors


def bench_classroom(base: str, pid: int, students: int, seconds: float) -> None:
    pool = [(data_url(d), png_bytes(d)) for d in drawings(120, seed=2)]
    print(f"\n2. {students} students, one stroke a second each for {seconds:.0f} s, app on loopback")
    for path, what in (("canvas", "browser path: POST /call/predict_drawing (PNG inline) + result stream"),
                       ("api", "API path: POST /upload + POST /call/predict_digit + result stream")):
        asyncio.run(classroom(base, path, 3, 3, pool))    # warm up (model loaded, connections open)
        cpu0, own0, wall0 = cpu_seconds(pid), time.process_time(), time.perf_counter()
        latencies, errors = asyncio.run(classroom(base, path, students, seconds, pool))
        cpu, wall = cpu_seconds(pid) - cpu0, time.perf_counter() - wall0
        own = time.process_time() - own0
        print(f"   {what}")
        print(f"      end to end  {percentiles(latencies)}")
        print(f"      errors {len(errors)}; {len(latencies) / wall:.1f} strokes/s served; "
              f"app CPU {cpu / wall:.0%} of one core ({1000 * cpu / max(len(latencies), 1):.1f} ms per stroke); "
              f"the simulated class itself {own / wall:.0%}")
        for message in sorted(set(errors))[:5]:
            print(f"      error: {message}")


# ------------------------------------------------------------------ 3. a real browser stroke

def count_browser_requests(url: str, canvas_selector: str, tab: str | None = None) -> list[str]:
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.goto(url)
        if tab:
            page.get_by_role("tab", name=tab).click()
        page.wait_for_selector(canvas_selector)
        brush = page.locator("button[aria-label='Brush']")     # only gr.Sketchpad needs a tool picked
        if brush.count():
            brush.first.click()
        page.wait_for_timeout(3000)                       # whatever the page does on load is over
        requests: list[str] = []
        page.on("request", lambda r: requests.append(f"{r.method} {r.url.replace(url, '')}"))
        box = page.locator(canvas_selector).first.bounding_box()
        cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
        page.mouse.move(cx - 10, cy - 90)
        page.mouse.down()
        page.mouse.move(cx + 10, cy + 90, steps=20)
        page.mouse.up()
        page.wait_for_timeout(4000)                       # the answer and anything after it
        browser.close()
    return requests


def api_count(requests: list[str]) -> int:
    return sum("/gradio_api/" in r for r in requests)


def sketchpad_demo(checkpoints: str):
    """A Draw tab as Gradio's Sketchpad makes it (GRADIO_NOTES §1), for comparison."""
    import gradio as gr

    from cnnlab.server.zoo import ModelZoo
    from cnnlab.ui.draw import predict_digit
    zoo = ModelZoo(checkpoints)
    with gr.Blocks(analytics_enabled=False) as demo:
        sketch = gr.Sketchpad(elem_id="sketch", image_mode="L", type="numpy", canvas_size=(280, 280),
                              fixed_canvas=True, layers=False, transforms=(), format="png",
                              brush=gr.Brush(default_size=11, colors=["#000000"], color_mode="fixed"))
        verdict, probs, seen = gr.HTML(), gr.Label(), gr.Image(format="png")

        def predict(s):
            v, p, _, _, record = predict_digit(zoo, s, "mnist-cnn", False)
            return v, p, (record or {}).get("seen")
        sketch.change(predict, sketch, [verdict, probs, seen])
    return demo


def bench_browser(url: str, checkpoints: str, compare: bool) -> None:
    print("\n3. HTTP requests for one stroke drawn in headless Chromium")
    requests = count_browser_requests(url, "#sketch canvas")
    print(f"   this app (cnnlab.ui.canvas): {len(requests)} requests, {api_count(requests)} to /gradio_api")
    for r in requests:
        print(f"      {r}")
    if compare:
        demo = sketchpad_demo(checkpoints)
        demo.queue()
        _, local, _ = demo.launch(prevent_thread_lock=True, quiet=True, server_port=free_port())
        try:
            requests = count_browser_requests(local.rstrip("/"), "#sketch canvas")
        finally:
            demo.close()
        print(f"   gr.Sketchpad doing the same: {len(requests)} requests, {api_count(requests)} to /gradio_api")
        for r in requests:
            print(f"      {r}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoints", default=str(ROOT / "checkpoints"),
                   help="folder with mnist-cnn.pt (and mnist-mlp.pt)")
    p.add_argument("--repeats", type=int, default=300, help="handler calls per setting (default: 300)")
    p.add_argument("--students", type=int, default=30, help="simulated students (default: 30)")
    p.add_argument("--seconds", type=float, default=30, help="how long they draw (default: 30)")
    p.add_argument("--skip-handler", action="store_true")
    p.add_argument("--skip-class", action="store_true")
    p.add_argument("--skip-browser", action="store_true")
    p.add_argument("--compare-sketchpad", action="store_true", help="also count a plain gr.Sketchpad's requests")
    p.add_argument("--nice", type=int, default=0,
                   help="run the app and the simulated class at this nice value (e.g. -5 on a machine "
                        "busy with other work; a classroom laptop runs nothing else); needs root below 0")
    args = p.parse_args()
    if args.nice:
        os.nice(args.nice)
    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at start"
          + (f"; app and class at nice {args.nice}" if args.nice else ""))
    if not args.skip_handler:
        bench_handler(args.checkpoints, args.repeats)
    if args.skip_class and args.skip_browser:
        return
    with tempfile.TemporaryDirectory() as runs:
        proc, url = launch_app(args.checkpoints, runs)
        try:
            if not args.skip_class:
                bench_classroom(url, proc.pid, args.students, args.seconds)
            if not args.skip_browser:
                bench_browser(url, args.checkpoints, args.compare_sketchpad)
        finally:
            proc.terminate()
            proc.wait(15)
    print(f"load average {os.getloadavg()[0]:.1f} at the end")


if __name__ == "__main__":
    main()
