"""How the Inside tab prints numbers and sentences. Its words live in cnnlab/i18n (section
"inside"); every handler renders them in the reader's language."""
from __future__ import annotations

import html

from ...i18n import DEFAULT, Text, say


def fmt(v: float) -> str:
    """A number as the page prints it: 3 significant decimals, a real minus sign."""
    return f"{v:.3f}".replace("-", "−") if abs(v) < 100 else f"{v:.1f}".replace("-", "−")


def esc(text) -> str:
    return html.escape(str(text), quote=True)


def note(message: Text, lang: str = DEFAULT) -> str:
    """A sentence of the tab in a dashed box: hints, empty states, why something is missing."""
    return f"<div class='ins ins-note'>{esc(say(lang, message))}</div>"
