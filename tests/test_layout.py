"""The package's shape (issue 29): imports go down only (ui -> lessons/server -> core ->
config/i18n), with no cycle, core and lessons free of Gradio, and no module over 500 lines.

The import graph is read from the source with ``ast`` (nothing is imported), and counts every
import, also those inside functions: a cycle through a lazy import is still a cycle.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "cnnlab"
MAX_LINES = 500
# Modules allowed over the limit while another piece of work splits them (none now).
BEING_REWRITTEN: set[str] = set()


def module_name(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def imported(name: str, path: Path, node: ast.Import | ast.ImportFrom, mods) -> list[str]:
    """The absolute names an import statement reaches: ``from . import x`` reaches the module
    ``x`` (not its package), ``from .x import f`` the module ``x``."""
    if isinstance(node, ast.Import):
        return [a.name for a in node.names]
    if node.level:
        base = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
        base = base[:len(base) - node.level + 1]
        source = ".".join(base + ([node.module] if node.module else []))
    else:
        source = node.module or ""
    return [f"{source}.{a.name}" if f"{source}.{a.name}" in mods else source for a in node.names]


def graph() -> tuple[dict[str, set[str]], dict[str, set[str]]]:
    """(module -> the cnnlab modules it imports, module -> the other top-level packages it imports)."""
    mods = modules()
    inner: dict[str, set[str]] = {m: set() for m in mods}
    outer: dict[str, set[str]] = {m: set() for m in mods}
    for name, path in mods.items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, (ast.Import, ast.ImportFrom)):
                continue
            for target in imported(name, path, node, mods):
                if target.split(".")[0] != "cnnlab":
                    outer[name].add(target.split(".")[0])
                    continue
                while target not in mods and "." in target:
                    target = target.rsplit(".", 1)[0]
                if target in mods and target != name and not name.startswith(target + "."):
                    inner[name].add(target)     # (a package's own __init__ is not an import of it)
    return inner, outer


def wing(module: str) -> str:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def find_cycle(edges: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(m: str) -> list[str] | None:
        state[m] = 1
        stack.append(m)
        for n in sorted(edges[m]):
            if state.get(n) == 1:
                return stack[stack.index(n):] + [n]
            if n not in state and (found := visit(n)):
                return found
        stack.pop()
        state[m] = 2
        return None

    for m in sorted(edges):
        if m not in state and (found := visit(m)):
            return found
    return None


def test_the_graph_is_read_from_the_package():
    inner, _ = graph()
    assert "cnnlab.core.training" in inner["cnnlab.server.jobs"]
    assert "cnnlab.core.nets.builder" in inner["cnnlab.core.nets.models"]


def test_find_cycle_finds_one():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None


def test_no_import_cycle():
    cycle = find_cycle(graph()[0])
    assert cycle is None, "an import cycle: " + " -> ".join(cycle)


def test_imports_go_down_only():
    allowed = {"core": {"core", "config", "i18n"}, "config": {"i18n"}, "i18n": set(),
               "server": {"server", "core", "config", "i18n"},
               "lessons": {"lessons", "server", "core", "config", "i18n"}}
    inner, _ = graph()
    wrong = [f"{m} -> {t}" for m, targets in inner.items() if wing(m) in allowed
             for t in sorted(targets) if wing(t) not in allowed[wing(m)]]
    assert not wrong, "imports going up: " + "; ".join(wrong)


def test_core_and_lessons_use_no_gradio():
    _, outer = graph()
    wrong = [m for m, packages in outer.items() if wing(m) in ("core", "lessons", "config", "i18n")
             and packages & {"gradio", "gradio_client"}]
    assert not wrong, f"Gradio outside the pages and the server: {wrong}"


def test_gradio_internals_only_in_gradio_compat():
    """Gradio's public API is ``gradio`` (``gr.*``); anything imported from inside it lives in
    ``server/gradio_compat.py``, where the start-up self-check covers it."""
    wrong = []
    for name, path in modules().items():
        if name == "cnnlab.server.gradio_compat":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("gradio"):
                wrong.append(f"{name}: from {node.module} import ...")
            if isinstance(node, ast.Import) and any(a.name.startswith("gradio.") for a in node.names):
                wrong.append(f"{name}: import {', '.join(a.name for a in node.names)}")
    assert not wrong, "Gradio internals outside gradio_compat: " + "; ".join(wrong)


def _sizes():
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE.parent).as_posix()
        marks = [pytest.mark.xfail(strict=True, reason="the Playground is being rewritten into the browser's "
                                   "JavaScript (cnnlab/ui/web/); it is split by that work")] \
            if rel in BEING_REWRITTEN else []
        yield pytest.param(path, id=rel, marks=marks)


@pytest.mark.parametrize("path", _sizes())
def test_no_module_over_500_lines(path):
    lines = len(path.read_text(encoding="utf-8").splitlines())
    assert lines <= MAX_LINES, f"{path.name} has {lines} lines (at most {MAX_LINES}): split it by concern"


def test_one_cache_type():
    """Every cache of values is a ``core.cache.LRU`` (bounded, thread-safe): no ``functools``
    cache on a function of arguments. (``functools.cache`` on a function of none is "once": one
    value, read at start-up, such as the language catalogue.)"""
    wrong = []
    for name, path in modules().items():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            for d in node.decorator_list:
                called = d.func if isinstance(d, ast.Call) else d
                what = called.attr if isinstance(called, ast.Attribute) else getattr(called, "id", "")
                args = node.args
                takes = args.posonlyargs + args.args + args.kwonlyargs + [a for a in (args.vararg, args.kwarg) if a]
                if what == "lru_cache" or (what == "cache" and takes):
                    wrong.append(f"{name}.{node.name} (line {node.lineno})")
    assert not wrong, "caches that are not core.cache.LRU: " + "; ".join(wrong)
