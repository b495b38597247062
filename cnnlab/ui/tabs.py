"""The tab registry: which tabs exist, in the order a lesson uses them. ``app.py`` builds the
ones a lesson asks for (``--tabs draw,train,tsne``); a new tab is one line here.

A builder is called inside its ``gr.Tab`` as ``build(ctx, demo, tab, **needs)`` and returns a dict
of what it offers other tabs (for example the Draw tab's canvas); ``needs`` names what it takes
from tabs built before it (None when that tab is not in the lesson).
"""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import gradio as gr

from ..i18n import tr
from . import board, draw, inside, own, photo, playground, train, tsne, weather
from .context import AppContext
from .lang import T, lang_of
from .lead import TABS_ID


@dataclass(frozen=True)
class Tab:
    id: str                         # what --tabs names
    title: str                      # its key in cnnlab/i18n (tabs.<id>)
    build: Callable[..., dict | None]
    needs: tuple[str, ...] = ()     # names offered by earlier tabs (or "board_tab": the board is shown)


TABS: tuple[Tab, ...] = (
    Tab("playground", "tabs.playground", playground.build),     # the course's first lesson
    Tab("weather", "tabs.weather", weather.build),              # the course's regression lesson
    Tab("draw", "tabs.draw", draw.build, needs=("board_tab",)),
    Tab("inside", "tabs.inside", inside.build, needs=("drawing",)),
    Tab("photo", "tabs.photo", photo.build),
    Tab("own", "tabs.own", own.build),                          # the class's own classes
    Tab("train", "tabs.train", train.build),
    Tab("tsne", "tabs.tsne", tsne.build, needs=("drawing",)),
    Tab("board", "tabs.board", board.build),
)


def select(ids: str | list[str] | tuple[str, ...] | None) -> list[Tab]:
    """The tabs named (comma-separated or a list), in registry order; all of them for None."""
    if ids is None:
        return list(TABS)
    wanted = [i.strip().lower() for i in (ids.split(",") if isinstance(ids, str) else ids) if i.strip()]
    known = [t.id for t in TABS]
    unknown = [i for i in wanted if i not in known]
    if unknown or not wanted:
        raise ValueError(f"unknown tab {', '.join(unknown) or '(none given)'}; choose from: {', '.join(known)}")
    return [t for t in TABS if t.id in wanted]


def build_tabs(ctx: AppContext, demo: gr.Blocks, tabs: list[Tab]) -> dict:
    """Builds ``tabs`` in order; returns everything they offered each other."""
    offered: dict = {"board_tab": any(t.id == "board" for t in tabs)}
    made = []
    with gr.Tabs(elem_id=TABS_ID):                  # the id lead.js finds the tab bar by
        for t in tabs:
            with gr.Tab(T(t.title), id=t.id) as tab:
                offered.update(t.build(ctx, demo, tab, **{name: offered.get(name) for name in t.needs}) or {})
            made.append(tab)

    def titles(request: gr.Request = None):
        """Tab titles in the reader's language, from the server: Gradio's tab bar keeps the titles
        it first drew, so a language chosen with the header's switch would not reach them."""
        lang = lang_of(request)
        shown = [gr.Tab(label=tr(lang, t.title)) for t in tabs]
        return shown if len(shown) > 1 else shown[0]      # one output: Gradio wants the value itself

    if made:
        demo.load(titles, None, made, api_name=False, queue=False, show_progress="hidden")
    return offered
