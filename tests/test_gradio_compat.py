"""The start-up self-check (issue 29): the pinned Gradio passes it, and a Gradio that behaves
differently where cnnlab relies on its internals stops the app with one sentence naming what."""
from __future__ import annotations

import gradio as gr
import pytest
from gradio import state_holder

from cnnlab.server import gradio_compat


def check():
    return gradio_compat.self_check.__wrapped__()      # not the once-per-process answer


def test_the_pinned_gradio_passes():
    assert gr.__version__ == gradio_compat.PINNED
    check()
    assert gradio_compat._problems() == []


def test_sessions_made_another_way_stop_the_app_with_one_sentence(monkeypatch):
    def elsewhere(self, session_id):                  # a Gradio that builds its sessions differently
        return None

    monkeypatch.setattr(state_holder.StateHolder, "__getitem__", elsewhere)
    with pytest.raises(gradio_compat.GradioChanged) as err:
        check()
    message = str(err.value)
    assert "StateHolder" in message and gradio_compat.PINNED in message and "pip install -r requirements.txt" in message
    assert message.count(". ") == 0 and message.endswith(".")          # one sentence


def test_a_page_without_the_locale_store_is_named(monkeypatch):
    monkeypatch.setattr(gradio_compat.glob, "glob", lambda pattern: [])
    assert gradio_compat._problems() == ["the page's assets/core-*.js with changeLocale"]


def test_the_light_sessions_are_checked_on_a_real_session(monkeypatch):
    assert gradio_compat._light_sessions_work()
    monkeypatch.setattr(gradio_compat.gradio_session_state(), "components", property(lambda self: iter(())))
    assert "SessionState's config bookkeeping (the light sessions)" in gradio_compat._problems()


def test_the_app_checks_when_it_is_built(monkeypatch):
    import app

    def changed():
        raise gradio_compat.GradioChanged("different")

    monkeypatch.setattr(gradio_compat, "self_check", changed)
    with pytest.raises(gradio_compat.GradioChanged):
        app.build_demo()


def test_the_page_switches_gradios_locale_store():
    js = gradio_compat.change_locale_js("locales[saved]")
    assert "/assets\\/core-" in js and ".changeLocale(locales[saved])" in js


def test_skipped_outputs_are_answered_as_gradio_answers_them():
    assert gradio_compat._quick_skips_work()
