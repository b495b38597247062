"""The Draw and Inside tabs answered in the browser, timed as a phone would see them: headless
Chromium with its CPU throttled 4x (DevTools ``Emulation.setCPUThrottlingRate``), a 390 px phone
screen, digits drawn with the pointer.

    .venv/bin/python bench/draw_browser.py                 # 4x throttling, 6 digits on each tab
    .venv/bin/python bench/draw_browser.py --throttle 1 --digits 10
    .venv/bin/python bench/draw_browser.py --web /tmp/old/web  # an older copy of cnnlab/ui/web
    .venv/bin/python bench/draw_browser.py --moves 4       # four pointer moves a frame (a burst)

Prints, for the shipped CNN (mnist-cnn):
- Draw: the time from a pointer move to the answer updated on the page (the big answer, the ten
  bars, the 28x28 image; measured in the page from the pointer event's timestamp to the end of the
  update, before the paint), p50/p95; and the part of it spent computing (read the canvas,
  prepare, forward, update), and the browser's own wait before any page code hears the move (a
  listener that does nothing: Chrome hands moves to the page when its next frame starts);
- Inside: the same for the whole live walk (every layer's maps repainted; the opened map and its
  multiply-and-add when one is open);
- the bytes a phone transfers (Network domain, encoded bytes on the wire) on its first visit to
  the page with the Draw tab ready, and on its second (same browser, HTTP cache kept);
- how many requests the drawing itself made (goal: 0).
Goals (issue 26): Draw p95 <= 8 ms, Inside p95 <= 16 ms.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("CNNLAB_DATA", str(ROOT.parent / "shared" / "data"))

import numpy as np  # noqa: E402
from handwriting import DIGITS  # noqa: E402

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]
PHONE = dict(viewport={"width": 390, "height": 844}, device_scale_factor=2, is_mobile=True, has_touch=True)


# A listener that does nothing but note how long after the move (its timeStamp) the page first
# hears of it: the browser's own part of every latency above (Chrome hands pointer moves to the
# page at the start of the next animation frame), which no page code can shorten.
HEARD = """() => {
  window.benchHeard = [];
  window.addEventListener('pointermove', (e) => window.benchHeard.push(performance.now() - e.timeStamp),
                          { capture: true });
}"""


def percentiles(values) -> str:
    v = np.asarray(values, float)
    if not len(v):
        return "no samples"
    return f"p50 {np.percentile(v, 50):.1f} ms, p95 {np.percentile(v, 95):.1f} ms, max {v.max():.1f} ms (n={len(v)})"


def open_tab(page, name):
    page.wait_for_selector("[role=tab]")
    tab = page.get_by_role("tab", name=name, exact=True)
    if tab.count() and tab.first.is_visible():
        tab.first.click()
        return
    page.locator(".overflow-menu button").first.click()
    page.locator(".overflow-dropdown").get_by_text(name, exact=True).click()


class Wire:
    """Bytes on the wire (encodedDataLength) of every request the page makes, via CDP."""

    def __init__(self, cdp):
        self.bytes, self.requests, self.urls = 0, 0, []
        cdp.send("Network.enable")
        cdp.on("Network.loadingFinished", self._done)
        cdp.on("Network.requestWillBeSent", self._sent)

    def _sent(self, event):
        self.requests += 1
        self.urls.append(event.get("request", {}).get("url", "?"))

    def _done(self, event):
        self.bytes += event.get("encodedDataLength", 0)

    def reset(self):
        self.bytes, self.requests, self.urls = 0, 0, []

    def settle(self, page, quiet_ms: int = 1500, most_ms: int = 30_000):
        """Wait until the page has asked for nothing for ``quiet_ms`` (its held streams never end,
        so Playwright's "networkidle" never comes)."""
        before, waited = -1, 0
        while self.requests != before and waited < most_ms:
            before = self.requests
            page.wait_for_timeout(quiet_ms)
            waited += quiet_ms


def draw(page, canvas_sel, digits, clear=True, moves=1):
    """The digits drawn with the mouse: ``moves`` pointer moves a frame (16 ms). A phone's browser
    hands the page at most one a frame (Chrome aligns pointer moves to animation frames and
    coalesces the rest); 4 is a pen that delivers every sample, each answered or queued."""
    for digit in digits:
        box = page.locator(canvas_sel).bounding_box()
        for stroke in DIGITS[digit]:
            pts = [(box["x"] + (0.2 + x * 0.6) * box["width"], box["y"] + (0.15 + y * 0.7) * box["height"])
                   for x, y in stroke]
            page.mouse.move(*pts[0])
            page.mouse.down()
            for x, y in pts[1:]:
                page.mouse.move(x, y, steps=moves)
                page.wait_for_timeout(16)
            page.mouse.up()
        if clear:
            page.click(canvas_sel.replace(" canvas", " .cl-clear"))
            page.wait_for_timeout(100)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--throttle", type=float, default=4.0, help="CPU slowdown (DevTools), default 4")
    ap.add_argument("--digits", type=int, default=6, help="digits drawn on each tab")
    ap.add_argument("--moves", type=int, default=1,
                    help="pointer moves a frame: 1 as a phone's browser delivers them (default), 4 a burst")
    ap.add_argument("--web", type=Path, default=None,
                    help="serve the page's code from this copy of cnnlab/ui/web instead (to compare versions)")
    args = ap.parse_args()

    from playwright.sync_api import sync_playwright

    if args.web:
        import cnnlab.server.web as web_files
        import cnnlab.ui.canvas as canvas_ui
        web_files.WebFiles.__init__.__defaults__ = (args.web,)
        canvas_ui.JS_ON_LOAD = (args.web / "canvas.js").read_text(encoding="utf-8")
        print(f"page code from {args.web}")
    import app
    from cnnlab.config import AppConfig
    config = AppConfig(data_dir=os.environ["CNNLAB_DATA"], checkpoint_dir=str(ROOT / "checkpoints"),
                       runs_dir=tempfile.mkdtemp(prefix="cnnlab-bench-"))
    demo = app.build_demo(config)
    demo.queue()
    kwargs = app.launch_kwargs(config, demo)
    kwargs.update(server_port=None, prevent_thread_lock=True, quiet=True)
    _, url, _ = demo.launch(**kwargs)
    digits = [d % 10 for d in range(args.digits)]
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            context = browser.new_context(**PHONE)
            page = context.new_page()
            cdp = context.new_cdp_session(page)
            wire = Wire(cdp)
            page.goto(url)
            open_tab(page, "Draw")
            page.wait_for_selector("#sketch [data-answers=browser]", state="attached", timeout=60_000)
            page.wait_for_timeout(2000)                 # (the heartbeat stream never goes idle)
            first = wire.bytes, wire.requests
            wire.reset()
            page.reload()
            open_tab(page, "Draw")
            page.wait_for_selector("#sketch [data-answers=browser]", state="attached", timeout=60_000)
            page.wait_for_timeout(2000)                 # (the heartbeat stream never goes idle)
            second = wire.bytes, wire.requests
            print("Bytes a phone transfers, page + Draw tab ready (weights of mnist-cnn included):")
            print(f"  first visit:  {first[0] / 1024:.0f} kB in {first[1]} requests")
            print(f"  second visit: {second[0] / 1024:.0f} kB in {second[1]} requests (HTTP cache kept)")

            cdp.send("Emulation.setCPUThrottlingRate", {"rate": args.throttle})
            wire.settle(page)                           # the page's last lazy loads are not the drawing's
            page.wait_for_timeout(500)
            wire.reset()
            page.evaluate(HEARD)
            page.evaluate("window.cnnlab.timings = {}")
            draw(page, "#sketch canvas", digits, moves=args.moves)
            t = page.evaluate("window.cnnlab.timings")
            heard = page.evaluate("window.benchHeard.splice(0)")
            print(f"\nDraw, mnist-cnn, CPU throttled {args.throttle:g}x, {len(digits)} digits, "
                  f"{args.moves} move(s) a frame "
                  f"({wire.requests} requests while drawing{': ' if wire.urls else ''}{', '.join(wire.urls)}):")
            print(f"  pointer move -> answer updated: {percentiles(t.get('draw', []))}   (goal p95 <= 8 ms)")
            print(f"  of which computing:             {percentiles(t.get('draw_compute', []))}")
            print(f"    reading and preparing the drawing: {percentiles(t.get('draw_prepare', []))}")
            print(f"    the network:                       {percentiles(t.get('draw_network', []))}")
            print(f"  the browser's own wait before any page code hears the move: {percentiles(heard)}")

            open_tab(page, "Inside")
            page.wait_for_selector("#inside-sketch [data-answers=browser]", state="attached", timeout=60_000)
            page.locator("#inside-sketch canvas").scroll_into_view_if_needed()
            wire.reset()
            page.evaluate("window.cnnlab.timings = {}")
            # one digit, then a map opened: its detail follows the pen too
            draw(page, "#inside-sketch canvas", digits[:1], clear=False, moves=args.moves)
            page.locator("#inside-web canvas.wl-maps").nth(1).click(position={"x": 3, "y": 3})
            page.click("#inside-sketch .cl-clear")
            draw(page, "#inside-sketch canvas", digits[1:], moves=args.moves)
            t = page.evaluate("window.cnnlab.timings")
            print(f"\nInside walk, mnist-cnn, CPU throttled {args.throttle:g}x "
                  f"({wire.requests} requests while drawing{': ' if wire.urls else ''}{', '.join(wire.urls)}):")
            print(f"  pointer move -> every layer redrawn: {percentiles(t.get('inside', []))}   (goal p95 <= 16 ms)")
            print(f"  of which computing:                  {percentiles(t.get('inside_compute', []))}")
            print(f"  the browser's own wait before any page code hears the move: "
                  f"{percentiles(page.evaluate('window.benchHeard.splice(0)'))}")
            browser.close()
    finally:
        demo.close()


if __name__ == "__main__":
    main()
