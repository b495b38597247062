"""The page header: title, language switch, how students join (address + QR code), projector mode,
and "Lead the class" for the teacher (cnnlab/ui/web/lead.js)."""
from __future__ import annotations

import html

import gradio as gr

from ..config import LOOPBACK
from ..server.classroom import join_url, qr_image
from .context import AppContext
from .lang import T, build_switch

# A per-viewer switch: only the browser at the projector gets large type.
PROJECTOR_JS = "() => { document.body.classList.toggle('projector'); }"
PROJECTOR_ON_JS = "() => { document.body.classList.add('projector'); }"


def build(ctx: AppContext, demo: gr.Blocks) -> None:
    config = ctx.config
    with gr.Row(equal_height=True, elem_id="header"):
        gr.Markdown(T("header.title"), elem_id="title")
        build_switch(demo)
        projector = gr.Button(T("header.projector"), size="sm", variant="secondary", scale=0,
                              min_width=160, elem_id="projector-toggle")
        # Shown on the laptop itself (or with ?lead) and handled in the page (cnnlab/ui/web/lead.js).
        gr.Button(T("lead.lead"), size="sm", variant="secondary", scale=0, min_width=140, elem_id="lead-toggle")
    projector.click(None, None, None, js=PROJECTOR_JS)
    if config.projector:
        demo.load(None, None, None, js=PROJECTOR_ON_JS)
    if config.host not in LOOPBACK:
        url = join_url(config.host, config.port)
        with gr.Accordion(T("header.join"), open=False, elem_id="join"):
            with gr.Row():
                gr.Image(qr_image(url), label=T("header.scan"), show_label=True, height=240,
                         interactive=False, buttons=[], elem_id="join-qr")
                with gr.Column():
                    gr.HTML(f"<div class='join-url'><b>{html.escape(url)}</b></div>")
                    gr.Markdown(T("header.join_how"))
