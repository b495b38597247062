"""Lessons as plans: a short list of steps the teacher leads the class through, kept as data.

One JSON file per lesson in this folder (``cnn-20.json``: ``python app.py --lesson cnn-20``),
both languages inside::

    {"title": {"en": "...", "zh": "..."},
     "steps": [{"tab": "draw",                       # a tab id (cnnlab/ui/tabs.py)
                "preset": "regression",              # optional: one of PRESETS[tab]
                "minutes": 5,                        # optional: how long the step takes
                "say":   {"en": "...", "zh": "..."}, # what the students read on their phones
                "notes": {"en": "...", "zh": "..."}  # what only the teacher's page shows
               }, ...]}

Every language cnnlab speaks (cnnlab/i18n) must be in every text. ``load`` checks a file
completely and raises ``PlanError`` with a sentence naming the file and what is wrong in it.

``PRESETS`` names what a tab can be moved to beyond the tab itself: the Playground's three
lessons and the part of the Train tab the class watches (its run, the optimizer race, the runs
compared). No Gradio here: the page (cnnlab/ui/web/lead.js) knows how to show each preset.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from ...i18n import DEFAULT, BadValue, Text, languages

FOLDER = Path(__file__).parent

# tab id -> its presets, in the order a lesson uses them
PRESETS: dict[str, tuple[str, ...]] = {
    "playground": ("regression", "classification", "race"),     # the course's three programs
    "train": ("run", "race", "compare"),                         # the shared run, the race, compare runs
}


class PlanError(BadValue):
    """A lesson plan that cannot be used; its argument is a ``Text`` (``str(err)`` is English)."""


@dataclass(frozen=True)
class Step:
    tab: str
    say: dict[str, str]             # {language: the students' sentence}
    notes: dict[str, str]           # {language: the teacher's notes}
    preset: str | None = None
    minutes: float | None = None

    def text(self, field: str, lang: str) -> str:
        texts = getattr(self, field)
        return texts.get(lang) or texts[DEFAULT]


@dataclass(frozen=True)
class Plan:
    name: str                       # the file's name without .json: what --lesson names
    title: dict[str, str]
    steps: tuple[Step, ...]

    @property
    def tabs(self) -> tuple[str, ...]:
        """The tabs the plan visits, each once, in the order of first visit."""
        return tuple(dict.fromkeys(s.tab for s in self.steps))

    def title_in(self, lang: str) -> str:
        return self.title.get(lang) or self.title[DEFAULT]


def names(folder: Path = FOLDER) -> list[str]:
    """The plans that ship (or that ``folder`` holds), by name."""
    return sorted(p.stem for p in Path(folder).glob("*.json"))


def load(name: str, known_tabs: tuple[str, ...] | list[str] | None = None, folder: Path = FOLDER) -> Plan:
    """The plan called ``name`` (or the JSON file at that path). ``known_tabs``: the tab ids the app
    has (all steps must use them); None skips that check."""
    path = Path(name)
    if path.suffix != ".json":
        path = Path(folder) / f"{name}.json"
    if not path.is_file():
        raise PlanError(Text("lead.plan_unknown", name=str(name), choices=", ".join(names(folder)) or "-"))
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as err:
        raise PlanError(Text("lead.plan_bad", file=path.name, why=str(err))) from None
    return parse(data, path.stem, known_tabs, source=path.name)


def parse(data, name: str, known_tabs=None, source: str | None = None) -> Plan:
    """A plan from its JSON data; ``PlanError`` naming ``source`` and the first problem."""
    source = source or f"{name}.json"

    def bad(why: str):
        return PlanError(Text("lead.plan_bad", file=source, why=why))

    def texts(value, where: str) -> dict[str, str]:
        if not isinstance(value, dict):
            raise bad(f"{where} must be an object with a text for each language ({', '.join(languages())})")
        missing = [code for code in languages() if not isinstance(value.get(code), str) or not value[code].strip()]
        if missing:
            raise bad(f"{where} has no text in {', '.join(missing)}")
        return {code: value[code].strip() for code in languages()}

    if not isinstance(data, dict):
        raise bad("the file must hold one object with a title and steps")
    title = texts(data.get("title"), "title")
    raw_steps = data.get("steps")
    if not isinstance(raw_steps, list) or not raw_steps:
        raise bad("steps must be a list of at least one step")
    steps = []
    for i, raw in enumerate(raw_steps, 1):
        where = f"step {i}"
        if not isinstance(raw, dict):
            raise bad(f"{where} must be an object")
        unknown = sorted(set(raw) - {"tab", "preset", "minutes", "say", "notes"})
        if unknown:
            raise bad(f"{where} has unknown fields: {', '.join(unknown)}")
        tab = raw.get("tab")
        if not isinstance(tab, str) or not tab or (known_tabs is not None and tab not in known_tabs):
            choices = f" (choose from: {', '.join(known_tabs)})" if known_tabs else ""
            raise bad(f"{where}: no tab called {tab!r}{choices}")
        preset = raw.get("preset")
        if preset is not None and not PRESETS.get(tab):
            raise bad(f"{where}: the {tab} tab has no presets (leave out preset {preset!r})")
        if preset is not None and preset not in PRESETS[tab]:
            raise bad(f"{where}: preset {preset!r} is not one of the {tab} tab's ({', '.join(PRESETS[tab])})")
        minutes = raw.get("minutes")
        if minutes is not None and (isinstance(minutes, bool) or not isinstance(minutes, (int, float))
                                    or not 0 < minutes <= 120):
            raise bad(f"{where}: minutes must be a number between 0 and 120")
        steps.append(Step(tab=tab, preset=preset, minutes=minutes, say=texts(raw.get("say"), f"{where} say"),
                          notes=texts(raw.get("notes"), f"{where} notes")))
    return Plan(name=name, title=title, steps=tuple(steps))
