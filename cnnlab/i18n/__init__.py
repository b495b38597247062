"""Every word a user sees, in each language the app speaks: one JSON file per language here
(``en.json``, ``zh.json``; a third language is a third file), with ``glossary.md`` beside them.

Keys are ``section.name`` (the JSON nests sections). A template may hold ``str.format`` fields:
``Text("draw.sure", share=0.93)`` renders "93% sure" or "有 93% 的把握". English is the
reference: every other file must have the same keys (a test checks), and a key missing at run time
falls back to English rather than failing in front of the class.

This module is plain Python (no Gradio), so the core can say things too: a limit that is broken
raises an error carrying a ``Text``, and the page renders it in the reader's language.
"""
from __future__ import annotations

import functools
import json
from pathlib import Path

FOLDER = Path(__file__).parent
DEFAULT = "en"


def _flatten(tree: dict, prefix: str = "") -> dict[str, str]:
    flat: dict[str, str] = {}
    for name, value in tree.items():
        key = f"{prefix}{name}"
        if isinstance(value, dict):
            flat.update(_flatten(value, key + "."))
        else:
            flat[key] = str(value)
    return flat


@functools.cache
def catalog() -> dict[str, dict[str, str]]:
    """{language code: {key: template}}, read once from the JSON files (English first)."""
    files = sorted(FOLDER.glob("*.json"), key=lambda f: (f.stem != DEFAULT, f.stem))
    return {f.stem: _flatten(json.loads(f.read_text(encoding="utf-8"))) for f in files}


def languages() -> tuple[str, ...]:
    return tuple(catalog())


def normalise(code: str | None) -> str:
    """A language this app speaks for a browser tag ("zh-CN", "zh-Hant-TW", "en-GB"), or English."""
    base = (code or "").strip().lower().replace("_", "-").split("-")[0]
    return base if base in catalog() else DEFAULT


def template(lang: str, key: str) -> str:
    strings = catalog()
    found = strings.get(lang, {}).get(key)
    if found is None:
        found = strings[DEFAULT].get(key)
    if found is None:
        raise KeyError(f"no text called {key!r} in {FOLDER / (DEFAULT + '.json')}")
    return found


class Text:
    """A sentence to be said, not yet in any language: a key and its fields. Fields may be Texts
    themselves (a setting's name inside a limit message) and are rendered in the same language."""

    __slots__ = ("key", "fields")

    def __init__(self, key: str, /, **fields):
        self.key, self.fields = key, fields

    def in_(self, lang: str) -> str:
        fields = {name: value.in_(lang) if isinstance(value, Text) else value
                  for name, value in self.fields.items()}
        return template(lang, self.key).format(**fields)

    def __str__(self) -> str:               # logs, the CLI, exceptions: English
        return self.in_(DEFAULT)

    def __repr__(self) -> str:
        return f"Text({self.key!r}, **{self.fields!r})"

    def __eq__(self, other) -> bool:
        return isinstance(other, Text) and (self.key, self.fields) == (other.key, other.fields)

    __hash__ = None


class Refusal(Exception):
    """The one way the app says no: something the user must fix, or may not do, with the sentence
    that says so. Core, lessons and the server raise it (or a subclass, where a caller must tell
    the kinds apart: ``LimitError``, ``CheckpointError``, ``TeacherOnly`` ...); the page turns it
    into a ``gr.Error`` in the reader's language (``cnnlab.ui.common.refusing``).

    ``args[0]`` is the ``Text`` (a plain string only for words that are the user's own);
    ``title``, optional, heads the message box. ``str(err)`` is English (logs, the CLI)."""

    def __init__(self, text: Text | str, /, *, title: Text | None = None):
        if not isinstance(text, (Text, str)):
            raise TypeError(f"a Refusal says a Text or a string, not {type(text).__name__}")
        super().__init__(text)
        self.title = title

    @property
    def text(self) -> Text | str:
        return self.args[0] if self.args else ""

    def in_(self, lang: str) -> str:
        return say(lang, self.text)

    def __str__(self) -> str:               # also for KeyError subclasses, which would quote it
        return str(self.text)


def refusal_of(err: BaseException) -> Refusal:
    """``err`` as a Refusal: itself when it is one; else its sentence (a Text the core put in a
    ValueError, or the exception's English) for the few places that catch a library's errors."""
    if isinstance(err, Refusal):
        return err
    return Refusal(err.args[0] if err.args and isinstance(err.args[0], (Text, str)) else str(err))


class TeacherOnly(Refusal):
    """An action that needs the teacher key (``cnnlab.server.classroom.TeacherKey.require``)."""


class UnknownName(Refusal, KeyError):
    """A registry (models, data sets, optimizers, templates, the zoo) has nothing by that name;
    still a ``KeyError`` for code that looks names up."""


class BadValue(Refusal, ValueError):
    """A value the core cannot work with (a wrong shape, a point outside the picture ...); still a
    ``ValueError``."""


def tr(lang: str, key: str, /, **fields) -> str:
    """The text called ``key`` in ``lang``, with its fields filled in."""
    return Text(key, **fields).in_(lang)


def say(lang: str, message) -> str:
    """``message`` (a Text, or a plain string such as an exception's English) in ``lang``."""
    return message.in_(lang) if isinstance(message, Text) else str(message)


def class_name(lang: str, name: str) -> str:
    """A data set's class name ("Sneaker", "daisy") in ``lang``; names with no entry (digits,
    a class the students made) are shown as they are."""
    return catalog().get(lang, {}).get(f"classes.{name}", name)
