"""Starting the app: Gradio's environment variables, the teacher key on the LAN, the lesson's tabs,
temporary files that do not pile up, and shipped checkpoints that cannot be read."""
from __future__ import annotations

import os
import time

import pytest

import app
from cnnlab.config import TrainConfig
from cnnlab.i18n import TeacherOnly
from cnnlab.server.scratch import Scratch
from cnnlab.server.zoo import ModelZoo
from cnnlab.ui import tabs
from cnnlab.ui.lang import rendered


def teacher_refusal(call) -> str:
    """The sentence of the TeacherOnly refusal that ``call()`` raises."""
    with pytest.raises(TeacherOnly) as refused:
        call()
    return str(refused.value)


def test_gradio_server_name_and_port_are_honoured_without_flags():
    config = app.parse_args([], env={"GRADIO_SERVER_NAME": "0.0.0.0", "GRADIO_SERVER_PORT": "7999"})
    assert (config.host, config.port) == ("0.0.0.0", 7999)
    assert app.launch_kwargs(config)["server_name"] == "0.0.0.0"
    flags = app.parse_args(["--host", "127.0.0.1", "--port", "7001"], env={"GRADIO_SERVER_NAME": "0.0.0.0"})
    assert (flags.host, flags.port) == ("127.0.0.1", 7001)
    assert app.parse_args([], env={}).host == "127.0.0.1"            # nothing set: this laptop only


def test_the_lan_without_a_key_gets_one_printed_in_the_terminal(capsys):
    config = app.parse_args(["--lan"], env={})
    assert config.host == "0.0.0.0" and config.teacher_key and config.teacher_key_generated
    assert len(config.teacher_key) >= 10
    assert app.parse_args(["--lan"], env={}).teacher_key != config.teacher_key     # not guessable
    app.announce(config)
    assert config.teacher_key in capsys.readouterr().out
    container = app.parse_args([], env={"GRADIO_SERVER_NAME": "0.0.0.0"})
    assert container.teacher_key_generated                          # any address beyond loopback
    chosen = app.parse_args(["--lan", "--teacher-key", "owl"], env={})
    assert chosen.teacher_key == "owl" and not chosen.teacher_key_generated
    from_env = app.parse_args(["--lan"], env={"CNNLAB_TEACHER_KEY": "lark"})
    assert from_env.teacher_key == "lark"
    opted_out = app.parse_args(["--lan", "--no-teacher-key"], env={"CNNLAB_TEACHER_KEY": "lark"})
    assert opted_out.teacher_key is None
    app.announce(opted_out)
    assert "anyone on the network" in capsys.readouterr().out
    assert app.parse_args([], env={}).teacher_key is None           # on loopback: the teacher's own laptop


def test_a_generated_key_is_never_shown_in_the_page(tmp_path):
    config = app.parse_args(["--lan", "--runs-dir", str(tmp_path)], env={})
    demo = app.build_demo(config)
    page = str(demo.config)
    assert config.teacher_key not in page
    assert demo.ctx.teacher.required and not demo.ctx.teacher_ok(None) and demo.ctx.teacher_ok(config.teacher_key)
    assert "teacher key" in teacher_refusal(lambda: demo.ctx.job.start(TrainConfig()))


def test_a_lesson_shows_only_the_tabs_it_names(tmp_path, capsys):
    assert [t.id for t in tabs.select("train,draw")] == ["draw", "train"]      # registry order
    assert [t.id for t in tabs.select(None)] == [t.id for t in tabs.TABS]
    with pytest.raises(ValueError, match="choose from: playground, weather, draw, inside, photo"):
        tabs.select("draw,drawing")
    with pytest.raises(SystemExit):
        app.parse_args(["--tabs", "nope"], env={})
    assert "unknown tab nope" in capsys.readouterr().err
    demo = app.build_demo(app.parse_args(["--tabs", "draw,tsne", "--runs-dir", str(tmp_path)], env={}))
    titles = [b.label for b in demo.blocks.values() if type(b).__name__ == "Tab"]
    assert [rendered(t) for t in titles] == ["Draw", "t-SNE"]
    assert [rendered(t, "zh") for t in titles] == ["手写数字", "t-SNE"]
    assert demo.offered["drawing"] is not None and not demo.offered["board_tab"]
    api = demo.get_api_info()["named_endpoints"]
    assert "/predict_drawing" in api and "/board_submit" not in api and "/train_start" not in api


def test_the_module_has_a_demo_for_gradio_reload_mode():
    assert app.demo is not None and hasattr(app.demo, "ctx")


def test_old_temporary_files_are_pruned_and_new_ones_kept(tmp_path):
    scratch = Scratch(max_age_s=60, root=tmp_path)
    old, new = scratch.folder("gif-"), scratch.folder("gif-")
    (old / "a.gif").write_bytes(b"x")
    thumbs = scratch.shared_folder("thumbs")
    (thumbs / "1.png").write_bytes(b"x")
    (thumbs / "2.png").write_bytes(b"x")
    an_hour_ago = time.time() - 3600
    for p in (old / "a.gif", old, thumbs / "1.png"):
        os.utime(p, (an_hour_ago, an_hour_ago))
    assert scratch.prune() == 2
    assert not old.exists() and new.is_dir() and thumbs.is_dir()
    assert sorted(p.name for p in thumbs.iterdir()) == ["2.png"]


def test_a_shipped_checkpoint_that_cannot_be_read_is_named_not_hidden(tmp_path, caplog):
    (tmp_path / "mnist-broken.pt").write_bytes(b"not a checkpoint")
    zoo = ModelZoo(tmp_path)
    assert "mnist-broken.pt" in caplog.text
    [(label, key)] = zoo.choices()
    assert "mnist-broken.pt" in label and "cannot be read" in label
    with pytest.raises(KeyError, match="cannot be read"):
        zoo.get(key)
    assert zoo.default() is None
