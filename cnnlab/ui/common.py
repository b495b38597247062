"""What every tab does the same way: refusing, and guarding the teacher's actions.

One way to refuse. Core, lessons and the server raise ``cnnlab.i18n.Refusal`` (or a subclass)
carrying a ``Text``; a handler wrapped in ``@refusing`` lets it rise, and the wrapper turns it into
a ``gr.Error`` in the language of the request that made it (``lang.lang_of``). A handler refuses
the same way: ``raise Refusal(Text("draw.no_model"))``.

One guard for the teacher. ``teacher_only(ctx.teacher)`` wraps a handler whose parameter
``teacher_key`` must match the key the app was started with (no key set: everyone may); a wrong
key is a ``TeacherOnly`` refusal, shown like any other.

    @refusing
    def draw_predict(drawing, key, request: gr.Request = None): ...

    @teacher_only(ctx.teacher)
    def board_new(teacher_key=None, title=None, request: gr.Request = None): ...

Both keep the handler's signature (Gradio reads it for the API page and to pass ``request``) and
its kind (a generator stays a generator, so a streaming handler still streams).

The shared run's answers are not refusals of bad input but news about the class's one run ("a run
is already going", "nothing to stop"): the job returns them as a ``Text``, and ``job_reply`` shows
every one the same way, in the notice, and as a warning too unless it is the answer of the action
done (``jobs.started``, ``jobs.stopping``, ...).
"""
from __future__ import annotations

import functools
import inspect

import gradio as gr

from ..i18n import DEFAULT, Refusal, TeacherOnly, Text, say
from ..server.classroom import TeacherKey
from .lang import lang_of

__all__ = ["Refusal", "TeacherOnly", "error", "job_reply", "refusing", "teacher_only"]


def error(refusal: Refusal | Text | str, lang: str = DEFAULT) -> gr.Error:
    """The ``gr.Error`` that says ``refusal`` in ``lang`` (with its title, if it has one)."""
    title = getattr(refusal, "title", None)
    message = refusal.in_(lang) if isinstance(refusal, Refusal) else say(lang, refusal)
    extra = {"title": say(lang, title)} if title is not None else {}
    return gr.Error(message, print_exception=False, **extra)


def job_reply(message: Text | str, lang: str, done: str) -> str:
    """The shared job's answer in ``lang``, for the notice; a warning too unless it is the Text
    keyed ``done`` (what the job answers when it did what was asked)."""
    shown = say(lang, message)
    if getattr(message, "key", None) != done:
        gr.Warning(shown)
    return shown


def _request_finder(fn):
    """A function (args, kwargs) -> the gr.Request among a call's arguments (or None)."""
    signature = inspect.signature(fn)
    if "request" not in signature.parameters:
        raise TypeError(f"{fn.__qualname__} needs a `request: gr.Request = None` parameter to answer "
                        "in the page's language")

    def find(args, kwargs):
        try:
            return signature.bind_partial(*args, **kwargs).arguments.get("request")
        except TypeError:
            return kwargs.get("request")
    return find


def _wrap(fn, before=None):
    """``fn`` with ``before(args, kwargs)`` run first and every Refusal turned into a gr.Error."""
    find = _request_finder(fn)

    def refused(err: Refusal, args, kwargs) -> gr.Error:
        return error(err, lang_of(find(args, kwargs)))

    if inspect.isasyncgenfunction(fn):
        @functools.wraps(fn)
        async def wrapper(*args, **kwargs):
            try:
                if before:
                    before(args, kwargs)
                async for item in fn(*args, **kwargs):
                    yield item
            except Refusal as err:
                raise refused(err, args, kwargs) from None
    elif inspect.isgeneratorfunction(fn):
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            try:
                if before:
                    before(args, kwargs)
                return (yield from fn(*args, **kwargs))
            except Refusal as err:
                raise refused(err, args, kwargs) from None
    elif inspect.iscoroutinefunction(fn):
        @functools.wraps(fn)
        async def wrapper(*args, **kwargs):
            try:
                if before:
                    before(args, kwargs)
                return await fn(*args, **kwargs)
            except Refusal as err:
                raise refused(err, args, kwargs) from None
    else:
        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            try:
                if before:
                    before(args, kwargs)
                return fn(*args, **kwargs)
            except Refusal as err:
                raise refused(err, args, kwargs) from None
    return wrapper


def refusing(fn):
    """Decorator: a ``Refusal`` raised by the handler becomes a ``gr.Error`` in the page's language."""
    return _wrap(fn)


def teacher_only(teacher: TeacherKey, what: Text | None = None):
    """Decorator for a teacher's action: its ``teacher_key`` argument must be accepted by
    ``teacher`` before the handler runs; refusals become ``gr.Error`` as with ``refusing``."""
    def decorate(fn):
        signature = inspect.signature(fn)
        if "teacher_key" not in signature.parameters:
            raise TypeError(f"{fn.__qualname__} is teacher-only but has no `teacher_key` parameter")

        def check(args, kwargs):
            key = signature.bind_partial(*args, **kwargs).arguments.get("teacher_key")
            teacher.require(key, what)
        return _wrap(fn, check)
    return decorate
