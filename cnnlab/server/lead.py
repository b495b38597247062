"""Lead and follow: the teacher's page moves the class; every student page that follows moves with it.

One shared state (``Lead``: the tab the class is on, a preset in it, the lesson plan's step, a
version) behind a lock, and plain Starlette routes beside Gradio's (``routes()``, given to
``demo.launch(app_kwargs={"routes": ...})``). Nothing here goes through Gradio's queue, and a
page that follows costs the laptop one held request every ``LONG_POLL_S`` seconds:

- ``GET  /cnnlab/lead?since=V&id=PAGE&follow=1&lang=zh``: a long poll. It answers at once when the
  class's version is not V (a page that just opened sends -1 and lands where the class is), else
  as soon as the teacher moves the class, else after ``LONG_POLL_S`` with nothing new. Each call
  counts its page (pages seen in the last ``SEEN_S`` seconds). With the teacher key (header
  ``X-Cnnlab-Key``) the answer also holds the plan step's notes and how many pages follow.
- ``POST /cnnlab/lead`` with the teacher key and JSON ``{"tab", "preset", "step", "leading"}``
  (each optional): moves the class. A missing or wrong key gets a 403 with a sentence in the
  reader's language. An app with no teacher key (one that listens on 127.0.0.1 only, or was
  started with --no-teacher-key) lets only the browser on the laptop itself lead.
- ``POST /cnnlab/lead/bye?id=PAGE``: a page that closes (``navigator.sendBeacon``) is no longer
  counted; a page that vanishes without it drops out after ``SEEN_S``.
- ``GET  /cnnlab/join.png?tab=ID``: the join address as a QR code, opening that tab.

The page's side is ``cnnlab/ui/web/lead.js``.
"""
from __future__ import annotations

import io
import json
import math
import secrets
import threading
import time
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ..i18n import DEFAULT, BadValue, Text, catalog, normalise
from .classroom import TeacherKey
from .longpoll import Bell

PREFIX = "/cnnlab"
KEY_HEADER = "x-cnnlab-key"
LONG_POLL_S = 25.0        # a following page's request is held this long when nothing moves (proxies cut at 30-60 s)
LEAD_POLL_S = 5.0         # the teacher's page asks this often, so its count of followers stays fresh
SEEN_S = 40.0             # a page counts as there while it asked within this long (one long poll and some)
MAX_PAGES = 2000          # pages remembered at most (ids are the page's own: a bound against made-up ones)
MAX_ID = 64               # characters of a page id kept
LOOPBACK = ("127.0.0.1", "::1", "localhost")
NO_STORE = {"Cache-Control": "no-store"}
_KEEP = object()


class LeadError(BadValue):
    """A move the class cannot make; its argument is a ``Text`` (cnnlab.i18n)."""


@dataclass
class _Page:
    seen: float
    follow: bool
    lead: bool


class Lead:
    """Where the class is. ``tabs``: the app's tab ids; ``presets``: {tab id: preset names};
    ``plan``: a ``cnnlab.lessons.plans.Plan`` (or None). Safe to use from any thread; the long
    polls wait on the server's event loop."""

    def __init__(self, tabs, presets: dict | None = None, plan=None, clock=time.monotonic):
        self.tabs = tuple(tabs)
        self.presets = {t: tuple(p) for t, p in (presets or {}).items() if t in self.tabs}
        self.plan = plan
        self.clock = clock
        self._lock = threading.Lock()
        # Starts anywhere: a page that saw an earlier server's version is answered at once.
        self.version = secrets.randbelow(1 << 30) + 1
        self.leading = plan is not None          # a lesson plan starts the class on its first step
        self.tab: str | None = None
        self.preset: str | None = None
        self.cue = 0                             # counts preset picks: picking one again applies it again
        self.step: int | None = None
        if plan is not None:
            self._go_to_step(0)
        self._pages: dict[str, _Page] = {}
        self._bell = Bell()

    # ---------------------------------------------------------------- the class's state
    def _go_to_step(self, step: int) -> None:
        s = self.plan.steps[step]
        self.step, self.tab, self.preset = step, s.tab, s.preset
        if s.preset is not None:
            self.cue += 1

    def _match_step(self, tab: str, preset: str | None) -> int | None:
        """The plan step a move to (tab, preset) lands on: the current step, or the one just after
        or before it, when it shows that tab (and preset, when one was picked)."""
        if self.plan is None or self.step is None:
            return None
        steps = self.plan.steps
        for i in (self.step, self.step + 1, self.step - 1):
            if 0 <= i < len(steps) and steps[i].tab == tab and (preset is None or steps[i].preset == preset):
                return i
        return None

    def move(self, tab=_KEEP, preset=_KEEP, step=_KEEP, leading: bool | None = None) -> bool:
        """Move the class (a teacher's request, already allowed). ``step`` goes to that plan step
        (its tab and preset); ``tab`` (with ``preset`` or without) goes there, and to the plan step
        that shows it when it is the current, next or previous one. Any move starts leading;
        ``leading=False`` stops (the pages stay where they are). Returns whether anything changed;
        raises ``LeadError`` for a tab, preset or step that does not exist."""
        with self._lock:
            before = (self.leading, self.tab, self.preset, self.cue, self.step)
            if step is not _KEEP and step is not None:
                if self.plan is None:
                    raise LeadError(Text("lead.no_plan"))
                if isinstance(step, bool) or not isinstance(step, int) or not 0 <= step < len(self.plan.steps):
                    raise LeadError(Text("lead.no_step", steps=len(self.plan.steps)))
                self._go_to_step(step)
                self.leading = True
            elif tab is not _KEEP and tab is not None:
                if not isinstance(tab, str) or tab not in self.tabs:
                    raise LeadError(Text("lead.no_tab", tab=str(tab)[:40], choices=", ".join(self.tabs)))
                preset = None if preset is _KEEP else preset
                if preset is not None and (not isinstance(preset, str) or preset not in self.presets.get(tab, ())):
                    raise LeadError(Text("lead.no_preset", preset=str(preset)[:40], tab=tab,
                                         choices=", ".join(self.presets.get(tab, ())) or "-"))
                matched = self._match_step(tab, preset)
                if matched is not None and matched != self.step:
                    self._go_to_step(matched)                   # the next (or previous) step's tab: the plan moves
                elif matched is not None and preset is None:
                    self.tab, self.preset = tab, self.plan.steps[matched].preset    # back at this step
                else:
                    if preset is not None:
                        self.cue += 1                           # picked (again): the pages apply it
                    if preset is not None or tab != self.tab:
                        self.preset = preset
                    self.tab = tab
                self.leading = True
            if leading is not None:
                self.leading = bool(leading)
            changed = (self.leading, self.tab, self.preset, self.cue, self.step) != before
            if changed:
                self.version += 1
                self._bell.ring()
            return changed

    async def wait(self, since: int, timeout: float) -> None:
        """Return when the version is no longer ``since``, or after ``timeout`` seconds."""
        await self._bell.wait(lambda: since != self.version, timeout)

    # ---------------------------------------------------------------- who is there
    def seen(self, page: str | None, follow: bool = True, lead: bool = False) -> None:
        if not page:
            return
        now = self.clock()
        with self._lock:
            self._pages[page[:MAX_ID]] = _Page(now, follow, lead)
            if len(self._pages) > MAX_PAGES:
                self._prune(now)
                for old in sorted(self._pages, key=lambda p: self._pages[p].seen)[:len(self._pages) - MAX_PAGES]:
                    del self._pages[old]

    def bye(self, page: str | None) -> None:
        with self._lock:
            self._pages.pop((page or "")[:MAX_ID], None)

    def _prune(self, now: float) -> None:
        for page in [p for p, v in self._pages.items() if now - v.seen > SEEN_S]:
            del self._pages[page]

    def counts(self) -> tuple[int, int]:
        """(pages that follow, student pages open): the teacher's pages are not counted."""
        with self._lock:
            self._prune(self.clock())
            students = [p for p in self._pages.values() if not p.lead]
            return sum(p.follow for p in students), len(students)

    # ---------------------------------------------------------------- what a page is told
    def view(self, lang: str = DEFAULT, teacher: bool = False) -> dict:
        with self._lock:
            out = {"version": self.version, "leading": self.leading, "tab": self.tab, "preset": self.preset,
                   "cue": self.cue, "plan": None}
            if self.plan is not None and self.step is not None:
                s = self.plan.steps[self.step]
                on_step = s.tab == self.tab and (s.preset is None or s.preset == self.preset)
                out["plan"] = {"name": self.plan.name, "title": self.plan.title_in(lang), "step": self.step,
                               "steps": len(self.plan.steps), "on_step": on_step,
                               "say": s.text("say", lang) if on_step else None}
                if teacher:
                    out["plan"].update(notes=s.text("notes", lang), minutes=s.minutes, step_tab=s.tab,
                                       step_preset=s.preset)
        if teacher:
            out["following"], out["pages"] = self.counts()
        return out


# -------------------------------------------------------------------- the routes
def reader_language(request: Request) -> str:
    """``?lang=``, else the page's language cookie, else the browser's Accept-Language (as the
    page does: cnnlab/ui/lang.py)."""
    chosen = request.query_params.get("lang") or request.cookies.get("cnnlab-lang")
    if chosen:
        return normalise(chosen)
    for part in request.headers.get("accept-language", "").split(","):
        base = part.split(";")[0].strip().lower().split("-")[0]
        if base in catalog():
            return base
    return DEFAULT


def may_lead(request: Request, teacher: TeacherKey) -> Text | None:
    """None when this request may move the class, else the sentence why not."""
    key = request.headers.get(KEY_HEADER)
    if teacher.required:
        if not key:
            return Text("lead.need_key")
        return None if teacher.accepts(key) else Text("lead.wrong_key")
    host = request.client.host if request.client else ""
    if host in LOOPBACK and "x-forwarded-for" not in request.headers:
        return None
    return Text("lead.local_only")


def _refuse(why: Text, lang: str, status: int) -> JSONResponse:
    return JSONResponse({"error": why.in_(lang)}, status_code=status, headers=NO_STORE)


def number_param(text: str | None, default: float) -> float:
    """A finite number from a query parameter, else ``default``."""
    try:
        value = float(text) if text is not None else default
    except ValueError:
        return default
    return value if math.isfinite(value) else default


class LeadRoutes:
    """The handlers, sharing one ``Lead`` and the app's ``TeacherKey``."""

    def __init__(self, lead: Lead, teacher: TeacherKey, join_url: str | None = None):
        self.lead, self.teacher, self.join_url = lead, teacher, join_url
        self._qr: dict[str, bytes] = {}
        self._said: dict[tuple[int, str], bytes] = {}       # (version, language) -> a student's answer

    def student_answer(self, lang: str) -> bytes:
        """What every following page in ``lang`` is told now, encoded once per move and language:
        when the class moves, fifty pages ask at once for the same bytes."""
        found = self._said.get((self.lead.version, lang))
        if found is None:
            view = self.lead.view(lang)
            if len(self._said) > 16:
                self._said.clear()
            found = self._said[(view["version"], lang)] = json.dumps(view, ensure_ascii=False).encode()
        return found

    async def poll(self, request: Request) -> Response:
        q = request.query_params
        lang = reader_language(request)
        page, follow, leads = q.get("id"), q.get("follow", "1") != "0", q.get("role") == "lead"
        teacher = leads and may_lead(request, self.teacher) is None
        since = int(number_param(q.get("since"), -1))
        wait = max(0.0, min(number_param(q.get("wait"), LONG_POLL_S), LEAD_POLL_S if teacher else LONG_POLL_S))
        self.lead.seen(page, follow, teacher)
        await self.lead.wait(since, wait)
        self.lead.seen(page, follow, teacher)
        if teacher:
            return JSONResponse(self.lead.view(lang, teacher=True), headers=NO_STORE)
        return Response(self.student_answer(lang), media_type="application/json", headers=NO_STORE)

    async def move(self, request: Request) -> Response:
        lang = reader_language(request)
        why = may_lead(request, self.teacher)
        if why is not None:
            return _refuse(why, lang, 403)
        try:
            body = json.loads(await request.body() or b"{}")
            if not isinstance(body, dict):
                raise ValueError
        except ValueError:
            return _refuse(Text("lead.bad_request"), lang, 400)
        leading = body.get("leading")
        try:
            self.lead.move(tab=body.get("tab", _KEEP), preset=body.get("preset", _KEEP),
                           step=body.get("step", _KEEP), leading=None if leading is None else bool(leading))
        except LeadError as err:
            return _refuse(err.args[0], lang, 400)
        self.lead.seen(request.query_params.get("id"), True, True)
        return JSONResponse(self.lead.view(lang, teacher=True), headers=NO_STORE)

    async def bye(self, request: Request) -> Response:
        self.lead.bye(request.query_params.get("id"))
        return Response(status_code=204)

    async def join_png(self, request: Request) -> Response:
        tab = request.query_params.get("tab")
        tab = tab if tab in self.lead.tabs else ""
        if not self.join_url:
            return Response(status_code=404)
        if tab not in self._qr:
            from PIL import Image

            from .classroom import qr_image
            buffer = io.BytesIO()
            Image.fromarray(qr_image(join_address(self.join_url, tab))).save(buffer, format="PNG")
            self._qr[tab] = buffer.getvalue()
        return Response(self._qr[tab], media_type="image/png", headers={"Cache-Control": "public, max-age=3600"})


def join_address(url: str, tab: str | None = None) -> str:
    """The address students open: the app, at ``tab`` when one is given."""
    return f"{url.rstrip('/')}/?tab={tab}" if tab else url


def routes(lead: Lead, teacher: TeacherKey, join_url: str | None = None) -> list[Route]:
    """The lead routes, for ``app_kwargs={"routes": [...]}``."""
    handlers = LeadRoutes(lead, teacher, join_url)
    return [Route(f"{PREFIX}/lead", handlers.poll, methods=["GET"]),
            Route(f"{PREFIX}/lead", handlers.move, methods=["POST"]),
            Route(f"{PREFIX}/lead/bye", handlers.bye, methods=["POST"]),
            Route(f"{PREFIX}/join.png", handlers.join_png, methods=["GET"])]
