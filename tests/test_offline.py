"""The offline guarantee: the app and its clients make no connection beyond this machine."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from urllib.parse import urlparse

import pytest

ROOT = Path(__file__).resolve().parents[1]

# Runs in a fresh interpreter so that the guard is in place before gradio is imported. An audit
# hook sees every socket connect / name lookup from any thread and refuses non-loopback ones.
GUARDED_SESSION = textwrap.dedent("""
    import ipaddress, json, os, sys
    attempts = []
    def is_local(host):
        if host in (None, "", "localhost"):
            return True
        try:
            return ipaddress.ip_address(host).is_loopback
        except ValueError:
            return False
    def guard(event, args):
        if event == "socket.connect":
            addr = args[1]
            host = addr[0] if isinstance(addr, tuple) else None
            if isinstance(addr, tuple) and not is_local(host):
                attempts.append(f"connect {host}")
                raise ConnectionRefusedError(f"offline test: connection to {host} refused")
        elif event == "socket.getaddrinfo" and not is_local(args[0]):
            attempts.append(f"lookup {args[0]}")
            raise OSError(f"offline test: lookup of {args[0]} refused")
    sys.addaudithook(guard)
    sys.path.insert(0, os.getcwd())
    import numpy as np
    from PIL import Image
    import app
    from cnnlab.config import AppConfig
    config = AppConfig(data_dir=os.environ["CNNLAB_DATA"], runs_dir=sys.argv[1])
    demo = app.build_demo(config)
    demo.queue()
    kwargs = app.launch_kwargs(config, demo)
    kwargs.update(server_port=None, prevent_thread_lock=True, quiet=True)
    _, url, _ = demo.launch(**kwargs)
    from gradio_client import Client, handle_file
    drawing = np.full((280, 280), 255, np.uint8)
    drawing[60:220, 130:150] = 0
    Image.fromarray(drawing).save(sys.argv[1] + "/one.png")
    client = Client(url, verbose=False)
    out = client.predict({"background": None, "layers": [], "composite": handle_file(sys.argv[1] + "/one.png"),
                          "id": None}, "mnist-cnn", False, api_name="/predict_digit")
    import urllib.request
    page = urllib.request.urlopen(url).read().decode()
    client.close()
    demo.close()
    print("RESULT " + json.dumps({"attempts": attempts, "answer": str(out[0]), "page": page}))
""")


@pytest.mark.slow
def test_app_and_client_make_no_outside_connections(tmp_path, data_root):
    env = {k: v for k, v in os.environ.items()
           if k not in ("GRADIO_ANALYTICS_ENABLED", "HF_HUB_OFFLINE", "HF_HUB_DISABLE_TELEMETRY")}
    env["CNNLAB_DATA"] = str(data_root)
    # Only the HF variables a test client needs; app.py must switch analytics off by itself.
    env.update(HF_HUB_OFFLINE="1", HF_HUB_DISABLE_TELEMETRY="1")
    run = subprocess.run([sys.executable, "-c", GUARDED_SESSION, str(tmp_path)], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=300)
    lines = [ln for ln in run.stdout.splitlines() if ln.startswith("RESULT ")]
    assert lines, f"the guarded session failed:\n{run.stdout[-2000:]}\n{run.stderr[-4000:]}"
    result = json.loads(lines[-1][len("RESULT "):])
    assert result["attempts"] == [], f"outside connections attempted: {result['attempts']}"
    assert "sure" in result["answer"], "the drawing was not answered while offline"
    assert "fonts.googleapis" not in result["page"] and "cdn." not in result["page"]


# Every picture and font the page asked for has arrived (or failed).
# Every picture has loaded, except lazy ones in a tab that is not shown (a browser never loads those).
LOADED = ("() => [...document.images].every((i) => i.complete || (i.loading === 'lazy' && !i.offsetParent))"
          " && document.fonts.status === 'loaded'")


@pytest.mark.browser
def test_the_page_loads_nothing_from_outside(browser, app_server):
    url = app_server[1]
    context = browser.new_context()
    page = context.new_page()
    hosts = []
    page.on("request", lambda r: hosts.append(urlparse(r.url).hostname))
    page.goto(url)
    page.wait_for_selector("#title")
    for tab, shown in (("Weather", "#weather-dates"), ("Draw", "#sketch"), ("Photo", "#photo-verdict"),
                       ("Train", "#train-start"), ("t-SNE", "#tsne-info"), ("Class board", "#board-header")):
        tabs = page.get_by_role("tab", name=tab)
        if tabs.count():
            tabs.first.click()
            page.locator(shown).first.wait_for(state="attached", timeout=60_000)   # the tab is built
            page.wait_for_function(LOADED, timeout=60_000)
    context.close()
    outside = sorted({h for h in hosts if h not in ("127.0.0.1", "localhost", None)})
    assert outside == [], f"the page asked outside hosts for: {outside}"
