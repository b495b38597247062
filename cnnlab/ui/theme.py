"""The look: clean on a laptop or phone; large and high-contrast on a projector."""
from __future__ import annotations

import gradio as gr

BASE_CSS = """
.gradio-container {max-width: 1280px !important}
#title h1 {margin-bottom: 0}
.big-answer {font-size: 5rem; font-weight: 800; line-height: 1; text-align: center}
.big-answer .hint {font-size: 1.2rem; font-weight: 400; color: var(--body-text-color-subdued)}
"""

# Applied when <body> has the class "projector" (the header's toggle, or --projector).
PROJECTOR_CSS = """
body.projector .gradio-container {max-width: 100% !important; font-size: 22px}
body.projector .big-answer {font-size: 10rem}
body.projector .big-answer .hint {font-size: 2rem}
body.projector label, body.projector button, body.projector .label-wrap {font-size: 1.35rem !important}
body.projector h1 {font-size: 2.6rem}
body.projector .gradio-container {--body-text-color: #000; --block-label-text-color: #000;
  --body-text-color-subdued: #222; --border-color-primary: #000}
body.projector #inside-tab .ins {--zoom: 1.4; font-size: 1.3rem}
body.projector #inside-tab .ins-fig {max-width: 340px}
body.projector #inside-tab .ins-filter img {width: 84px; height: 84px}
.join-url {font-size: 1.6rem; padding: 1rem}
#header {align-items: center}
"""


def theme_and_css(projector: bool = False):
    """--projector also uses a larger, higher-contrast theme; the toggle only switches CSS."""
    if projector:
        size = gr.themes.Size(name="text_projector", xxs="14px", xs="16px", sm="18px", md="22px",
                              lg="26px", xl="32px", xxl="40px")
        theme = gr.themes.Default(primary_hue="blue", text_size=size, spacing_size="lg").set(
            button_large_text_size="*text_xl", block_label_text_size="*text_lg")
        return theme, BASE_CSS + PROJECTOR_CSS
    return gr.themes.Soft(primary_hue="blue"), BASE_CSS + PROJECTOR_CSS
