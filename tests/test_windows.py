"""The teacher's own laptop is often a Chinese Windows: nothing in the app may assume a POSIX
system. These checks read the source (the CI machine is Linux) and run what can be run here as
Windows would: a GBK terminal, a registry that calls JavaScript text/plain."""
from __future__ import annotations

import ast
import io
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SOURCES = sorted([*ROOT.glob("cnnlab/**/*.py"), ROOT / "app.py"])
POSIX_MODULES = {"fcntl", "pwd", "grp", "resource", "termios", "pty", "tty", "posix", "crypt", "syslog"}
POSIX_CALLS = {"fork", "forkpty", "setsid", "setpgrp", "killpg", "getuid", "geteuid", "getgid", "getpgid",
               "nice", "mkfifo", "sysconf", "uname", "getloadavg", "chown", "lchown"}
POSIX_PATHS = ("/tmp", "/proc", "/dev/", "/var/", "/etc/", "/usr/", "/home/")


def trees():
    for path in SOURCES:
        yield path.relative_to(ROOT), ast.parse(path.read_text(encoding="utf-8"))


def _mode(node: ast.Call, position: int) -> str | None:
    for k in node.keywords:
        if k.arg == "mode" and isinstance(k.value, ast.Constant):
            return k.value.value
    if len(node.args) > position and isinstance(node.args[position], ast.Constant):
        return node.args[position].value
    return None


def test_no_posix_only_module_call_or_path():
    found = []
    for path, tree in trees():
        guarded = {id(n) for t in ast.walk(tree) if isinstance(t, ast.Try) for n in ast.walk(t)}
        for node in ast.walk(tree):
            if isinstance(node, (ast.Import, ast.ImportFrom)) and id(node) not in guarded:
                names = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module or ""]
                found += [f"{path}:{node.lineno} imports {n}" for n in names if n.split(".")[0] in POSIX_MODULES]
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "os" \
                    and node.attr in POSIX_CALLS and id(node) not in guarded:      # (a try: is the fallback)
                found.append(f"{path}:{node.lineno} os.{node.attr}")
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "signal" \
                    and node.attr.startswith("SIG") and node.attr not in ("SIGINT", "SIGTERM"):
                found.append(f"{path}:{node.lineno} signal.{node.attr}")
            if isinstance(node, ast.Call) and any(k.arg == "shell" and getattr(k.value, "value", False)
                                                  for k in node.keywords):
                found.append(f"{path}:{node.lineno} shell=True")
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value.startswith(POSIX_PATHS):
                found.append(f"{path}:{node.lineno} the path {node.value!r}")
    assert not found, "POSIX only (use pathlib, tempfile, subprocess lists):\n" + "\n".join(found)


def test_thread_priorities_are_set_only_where_the_platform_allows():
    for path, tree in trees():
        for fn in (n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))):
            text = ast.unparse(fn)
            if "os.setpriority" in text:
                assert "sys.platform" in text, f"{path}: {fn.name} sets a priority without checking the platform"


def test_text_files_name_their_encoding():
    """A Chinese Windows opens text files as GBK unless told otherwise: a plan, a class name or a
    script the students take home would come back garbled (or not at all)."""
    found = []
    for path, tree in trees():
        for node in ast.walk(tree):
            if not isinstance(node, ast.Call) or any(k.arg == "encoding" for k in node.keywords):
                continue
            fn = node.func
            if isinstance(fn, ast.Attribute) and fn.attr in ("read_text", "write_text"):
                found.append(f"{path}:{node.lineno} {ast.unparse(node)[:80]}")
            text_mode = None
            if isinstance(fn, ast.Name) and fn.id == "open":
                text_mode = _mode(node, 1) or "r"
            elif isinstance(fn, ast.Attribute) and fn.attr == "fdopen":
                text_mode = _mode(node, 1) or "r"
            elif isinstance(fn, ast.Attribute) and fn.attr == "open" and isinstance(_mode(node, 0), str):
                text_mode = _mode(node, 0)                  # Path.open("w")
            if text_mode is not None and "b" not in text_mode:
                found.append(f"{path}:{node.lineno} {ast.unparse(node)[:80]}")
    assert not found, "text files without encoding=:\n" + "\n".join(found)


def test_the_join_code_is_left_out_on_a_terminal_that_cannot_show_it(monkeypatch):
    import app
    gbk = io.TextIOWrapper(io.BytesIO(), encoding="gbk")
    monkeypatch.setattr("sys.stdout", gbk)
    config = app.parse_args(["--lan", "--lesson", "cnn-20"], env={})
    app.announce(config)                                 # no UnicodeEncodeError
    gbk.flush()
    said = gbk.buffer.getvalue().decode("gbk")
    assert "Students join at" in said and config.teacher_key in said and "Lesson:" in said
    assert app.printable("█", io.TextIOWrapper(io.BytesIO(), encoding="utf-8"))


def test_page_files_keep_their_type_whatever_the_registry_says(monkeypatch):
    import mimetypes

    from cnnlab.server.web import WebFiles
    monkeypatch.setattr(mimetypes, "guess_type", lambda *a, **k: ("text/plain", None))     # a Windows registry
    files = WebFiles()
    assert files.get("lead.js")[2] == "text/javascript" and files.get("lead.css")[2] == "text/css"


@pytest.mark.parametrize("name", ["cnn-20", "first-lesson"])
def test_plans_are_found_through_pathlib(name):
    from cnnlab.lessons import plans
    assert (plans.FOLDER / f"{name}.json").is_file()
    assert plans.load(str(plans.FOLDER / f"{name}.json")).name == name     # a path with this system's separators


def test_the_readme_says_how_to_start_on_windows():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "py -m venv .venv" in readme and r".venv\Scripts\python app.py" in readme
    assert r".venv\Scripts\pip install -r requirements.txt" in readme
