"""The page's side of lead and follow (cnnlab/ui/web/lead.js, lead.css, phone.css), put in the
page through ``launch(head=...)``: the script's settings as JSON (the tabs in order, each tab's
presets, whether leading needs the teacher key, the "lead" and "tabs" words in every language),
and the two files, fetched from ``/cnnlab/web/`` (cnnlab/server/web.py) and cached by the
browser. The server's side is cnnlab/server/lead.py.

Addresses are relative (``cnnlab/web/lead.js``), so the page also works behind a reverse proxy
that serves it under a path (``root_path``).
"""
from __future__ import annotations

import json

from .lang import texts

TABS_ID = "lesson-tabs"           # the elem_id of the app's gr.Tabs: lead.js finds the tab bar by it


def config(tabs: list[str], presets: dict[str, tuple[str, ...]], key_required: bool) -> dict:
    return {"tabs": list(tabs), "presets": {t: list(p) for t, p in presets.items() if t in tabs},
            "key": bool(key_required), "texts": texts("lead"), "titles": texts("tabs")}


def head(tabs: list[str], presets: dict[str, tuple[str, ...]], key_required: bool) -> str:
    """For ``launch(head=...)``, after ``lang.head()``."""
    settings = json.dumps(config(tabs, presets, key_required), ensure_ascii=False).replace("</", "<\\/")
    return (f'<script type="application/json" id="cnnlab-lead-config">{settings}</script>'
            '<link rel="stylesheet" href="cnnlab/web/lead.css">'
            '<link rel="stylesheet" href="cnnlab/web/phone.css">'
            '<script type="module" src="cnnlab/web/lead.js"></script>')
