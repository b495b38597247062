"""One way to refuse (issue 29): the core, lessons and server raise a ``Refusal`` carrying a
``Text``; one decorator turns it into a ``gr.Error`` in the page's language, one guards the
teacher's actions. Here every sentence a refusal can say is walked (it exists in every language),
no English-only sentence is raised where a page can see it, and a Chinese page is answered in Chinese."""
from __future__ import annotations

import ast
import importlib
import inspect
import pkgutil
from pathlib import Path
from types import SimpleNamespace

import gradio as gr
import pytest

import cnnlab
from cnnlab.config import LimitError, check
from cnnlab.i18n import DEFAULT, Refusal, TeacherOnly, Text, catalog
from cnnlab.server.classroom import TeacherKey
from cnnlab.ui.common import refusing, teacher_only

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "cnnlab"
# English on purpose: command-line errors (argparse prints them) and a programmer's mistake in
# wiring the app, never reached by a page.
ENGLISH_ONLY = {"cnnlab/__main__.py", "cnnlab/ui/tabs.py", "cnnlab/ui/common.py", "cnnlab/i18n/__init__.py",
                "cnnlab/core/threads.py", "cnnlab/server/jobs.py", "cnnlab/core/nets/models.py",
                "cnnlab/lessons/board/store.py"}      # the store used after the app closed it


def _sources():
    for path in sorted(PACKAGE.rglob("*.py")):
        yield path.relative_to(ROOT).as_posix(), ast.parse(path.read_text(encoding="utf-8"))


def _text_keys(node) -> set[str]:
    return {n.args[0].value for n in ast.walk(node)
            if isinstance(n, ast.Call) and getattr(n.func, "id", None) == "Text" and n.args
            and isinstance(n.args[0], ast.Constant) and isinstance(n.args[0].value, str)}


def _refusal_classes() -> set[str]:
    for info in pkgutil.walk_packages(cnnlab.__path__, "cnnlab."):
        importlib.import_module(info.name)
    found, todo = set(), [Refusal]
    while todo:
        cls = todo.pop()
        found.add(cls.__name__)
        todo += cls.__subclasses__()
    return found


def test_every_sentence_a_refusal_can_say_exists_in_every_language():
    keys = set()
    for _, tree in _sources():
        for node in ast.walk(tree):
            if isinstance(node, ast.Raise) and node.exc is not None:
                keys |= _text_keys(node.exc)
    assert len(keys) > 100, len(keys)               # the walk found the refusals
    for lang, strings in catalog().items():
        missing = sorted(k for k in keys if k not in strings)
        assert not missing, (lang, missing)
    zh, en = catalog()["zh"], catalog()[DEFAULT]
    untranslated = sorted(k for k in keys if zh[k] == en[k] and any(c.isalpha() for c in en[k]))
    assert not untranslated, untranslated


def test_every_error_a_page_can_show_is_a_refusal_with_a_text():
    """No ``raise ...Error(f"...")`` / ``("...")`` in code a page reaches (the issue counted 26), and
    each refusal class is raised with a Text, never a bare English string."""
    refusals = _refusal_classes()
    assert {"LimitError", "CheckpointError", "ImageInputError", "TeacherOnly", "UnknownName", "BadValue",
            "SettingsError", "OwnDataError", "BoardError", "TableError", "DataMissingError"} <= refusals
    english = []
    for name, tree in _sources():
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call) and node.exc.args):
                continue
            func = node.exc.func
            called = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            first = node.exc.args[0]
            plain = isinstance(first, ast.JoinedStr) or (isinstance(first, ast.Constant)
                                                          and isinstance(first.value, str))
            if plain and (called in refusals or (called in ("ValueError", "KeyError", "RuntimeError")
                                                 and name not in ENGLISH_ONLY)):
                english.append(f"{name}:{node.lineno} {called}")
    assert not english, english


def test_every_exception_class_of_the_package_is_a_refusal():
    """A new error class for the user joins the family, so the pages show it translated."""
    others = []
    for info in pkgutil.walk_packages(cnnlab.__path__, "cnnlab."):
        module = importlib.import_module(info.name)
        for name, cls in vars(module).items():
            if inspect.isclass(cls) and issubclass(cls, Exception) and cls.__module__ == module.__name__ \
                    and not issubclass(cls, Refusal):
                others.append(f"{module.__name__}.{name}")
    assert others == ["cnnlab.server.gradio_compat.GradioChanged"], others   # start-up self-check: English


# ---------------------------------------------------------------------------- the decorators
def page(lang: str):
    """A request as Gradio passes it, from a browser in ``lang``."""
    return SimpleNamespace(cookies={}, headers={"accept-language": f"{lang},en;q=0.5"})


def test_a_handler_answers_a_chinese_page_in_chinese_and_an_english_one_in_english():
    @refusing
    def set_batch(batch_size, request: gr.Request = None):
        return check("batch_size", batch_size)

    assert set_batch(64, request=page("zh")) == 64
    with pytest.raises(gr.Error) as zh:
        set_batch(30000, request=page("zh-CN"))
    assert zh.value.message == "批大小必须在 1 到 1,024 之间；你填的是 30,000。"
    with pytest.raises(gr.Error) as en:
        set_batch(30000, page("en-GB"))                      # request passed by position too
    assert en.value.message == "Batch size must be between 1 and 1,024; you asked for 30,000."
    with pytest.raises(gr.Error, match="Batch size"):
        set_batch(30000)                                     # no request (a script): English


def test_the_core_s_own_refusals_reach_a_chinese_page_in_chinese():
    from cnnlab.core import datasets
    from cnnlab.core.nets.models import build_model

    @refusing
    def pick(dataset, model, request: gr.Request = None):
        return build_model(model, datasets.get_spec(dataset))

    with pytest.raises(gr.Error) as unknown:
        pick("cifar", "cnn", request=page("zh"))
    assert unknown.value.message.startswith("没有名为 'cifar' 的数据集")
    with pytest.raises(gr.Error) as misfit:
        pick("mnist", "transfer", request=page("zh"))
    assert misfit.value.message.startswith("模型 'transfer' 不适合") and "cnn" in misfit.value.message


def test_a_streaming_handler_stays_a_generator_and_refuses_in_the_page_language():
    @refusing
    def stream(n, request: gr.Request = None):
        yield 1
        check("epochs", n)
        yield 2

    assert inspect.isgeneratorfunction(stream)
    assert list(stream(3, request=page("zh"))) == [1, 2]
    run = stream(99, request=page("zh"))
    assert next(run) == 1
    with pytest.raises(gr.Error, match="周期数（epoch）必须在 1 到 20 之间"):
        next(run)


def test_teacher_only_checks_the_key_before_the_handler_runs():
    ran = []

    @teacher_only(TeacherKey("owl"))
    def clear(sure=False, teacher_key: str | None = None, request: gr.Request = None):
        ran.append(sure)
        return "cleared"

    assert inspect.signature(clear).parameters.keys() == {"sure", "teacher_key", "request"}  # the API page
    with pytest.raises(gr.Error) as wrong:
        clear(True, "cat", request=page("zh"))
    assert wrong.value.message == catalog()["zh"]["errors.teacher_key"] and ran == []
    with pytest.raises(gr.Error, match="teacher key"):
        clear(True, request=page("en"))
    assert clear(True, teacher_key="owl", request=page("en")) == "cleared" and ran == [True]
    assert teacher_only(TeacherKey(None))(clear.__wrapped__)(True) == "cleared"     # no key set: anyone


def test_a_handler_without_a_request_or_a_teacher_key_is_a_wiring_mistake():
    with pytest.raises(TypeError, match="request"):
        refusing(lambda x: x)
    with pytest.raises(TypeError, match="teacher_key"):
        teacher_only(TeacherKey("k"))(lambda request=None: None)


def test_a_refusal_says_english_in_logs_and_keeps_its_kind():
    err = LimitError(Text("limits.not_a_flag", setting="Augment", sent="'maybe'"))
    assert isinstance(err, ValueError) and str(err) == err.text.in_("en") and err.in_("zh") != str(err)
    with pytest.raises(KeyError):                           # UnknownName is still a KeyError
        from cnnlab.core import optimizers
        optimizers.make("adagrad", [], 0.1)
    with pytest.raises(TeacherOnly):
        TeacherKey("owl").require("cat")
