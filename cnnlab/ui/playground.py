"""Playground tab: every student trains their own tiny network in their own browser.

The course's first lessons as one-click presets (fit a curve, separate two clouds, race four
optimizers) beside TensorFlow Playground's data sets and settings, the student's own points, the
setting in the page's address and the weights as a small file. Between Play and Pause the server
does nothing: the page's JavaScript (cnnlab/ui/web/playground/page.js, loaded from the app's
/cnnlab/web route) trains and draws on every animation frame.

The server answers two calls, on demand only, through the component's server functions (one
small POST each, outside the queue, no session state): the PyTorch code of the browser's current
settings (``playground_code``, checked against the limits here) and the GIF of a run from the
frames the page sends once (``playground_gif``, bounded in cnnlab.lessons.playground.gif).

Every word of the tab is in cnnlab/i18n (section "playground"); the page gets all languages in
its ``texts`` prop and shows the reader's.
"""
from __future__ import annotations

from pathlib import Path

import gradio as gr

from ..i18n import DEFAULT, Refusal, Text, normalise
from ..lessons import playground as pg
from .context import AppContext
from .lang import T, texts

BOOT_JS = (Path(__file__).resolve().parent / "web" / "playground" / "boot.js").read_text(encoding="utf-8")


def _lang(payload) -> str:
    return normalise(payload.get("lang")) if isinstance(payload, dict) and isinstance(payload.get("lang"), str) \
        else DEFAULT


def _refusal(err: Refusal, lang: str) -> dict:
    """The page's own functions answer in JSON, not with gr.Error: the Playground's JavaScript shows it."""
    return {"error": err.in_(lang)}


def playground_code(payload) -> dict:
    """{settings, steps, lang} from the page -> {"code": the PyTorch script} or {"error": a sentence}."""
    lang = _lang(payload)
    try:
        if not isinstance(payload, dict):
            raise pg.SettingsError(Text("playground.not_a_number"))
        steps = payload.get("steps", 100)
        if not isinstance(steps, int) or isinstance(steps, bool):
            steps = 100
        return {"code": pg.code_for(pg.from_browser(payload.get("settings")), steps)}
    except Refusal as err:
        return _refusal(err, lang)


def playground_gif(payload) -> dict:
    """{frames: [PNG data URLs], lang} -> {"gif": a GIF data URL} or {"error": a sentence}."""
    lang = _lang(payload)
    try:
        frames = payload.get("frames") if isinstance(payload, dict) else None
        return {"gif": pg.gif_data_url(frames)}
    except Refusal as err:
        return _refusal(err, lang)


class PlayPage(gr.HTML):
    """The whole tab as one component: the page's JavaScript builds and runs it in the browser."""

    def __init__(self, elem_id: str = "pg-page", **kwargs):
        for fixed in ("html_template", "js_on_load", "apply_default_css", "server_functions"):
            kwargs.pop(fixed, None)              # gr.skip() / updates rebuild the component with these
        kwargs.setdefault("texts", texts("playground"))
        kwargs.setdefault("race_code", pg.race_code())
        super().__init__(None, html_template='<div class="pgp-mount"></div>', js_on_load=BOOT_JS,
                         apply_default_css=False, elem_id=elem_id, padding=False,
                         server_functions=[playground_code, playground_gif], **kwargs)

    def api_info(self) -> dict:
        return {"type": "string", "description": "unused: the Playground runs in the browser"}


def build(ctx: AppContext, demo: gr.Blocks, tab: gr.Tab) -> dict:
    gr.Markdown(T("playground.intro"))
    PlayPage()
    return {}
