"""The Playground's server side (cnnlab.lessons.playground): the browser trains, the server keeps
the limits, the PyTorch code of a setting (it runs, and reaches what it says) and the GIF of a run
from the frames the page sends. The browser's own training is tests/test_web_playground.py
(against this code) and tests/test_playground_browser.py (the page)."""
from __future__ import annotations

import base64
import io
import math
import re
import subprocess
import sys
from dataclasses import replace

import pytest
import torch
from PIL import Image

from cnnlab.lessons import playground as pg


# ------------------------------------------------------------------ limits, enforced here
@pytest.mark.parametrize("change, words", [
    (dict(points=pg.MAX_POINTS + 1), "number of points"),
    (dict(points=1_000_000), "number of points"),
    (dict(points=2), "number of points"),
    (dict(hidden=(4,) * (pg.MAX_HIDDEN_LAYERS + 1)), "hidden layers"),
    (dict(hidden=(pg.MAX_NEURONS + 1,)), "Neurons"),
    (dict(hidden=(0,)), "Neurons"),
    (dict(lr=0.0), "learning rate"),
    (dict(lr=100.0), "learning rate"),
    (dict(lr=float("nan")), "learning rate"),
    (dict(batch_size=0), "batch size"),
    (dict(batch_size=10**6), "batch size"),
    (dict(noise=-1.0), "Noise"),
    (dict(train_ratio=0.0), "training"),
    (dict(classes=9), "classes"),
    (dict(steps_per_frame=pg.MAX_STEPS_PER_FRAME + 1), "Steps per frame"),
    (dict(dataset="mnist"), "no data set"),
    (dict(activation="gelu"), "activation"),
    (dict(optimizer="lbfgs"), "optimizer"),
    (dict(features=("x3",)), "features"),
    (dict(features=()), "features"),
    (dict(reg_rate=1e9), "regularization rate"),
    (dict(dataset="own-class", own=((0.0, 0.0, 0),)), "2 to 300 points"),
    (dict(dataset="own-class", own=((0.0, 0.0, 0),) * 301), "2 to 300 points"),
    (dict(dataset="own-class", own=((0.0, 0.0, 0), (1.0, float("inf"), 1))), "Point 2"),
    (dict(dataset="own-class", own=((0.0, 0.0, 0), (1.0, 1.0, 5))), "Point 2's class"),
    (dict(dataset="own-curve", own=((0.0, 0.0), (1.0, 1.0, 1.0))), "Point 2"),
])
def test_settings_out_of_range_are_refused_with_a_sentence(change, words):
    with pytest.raises(pg.SettingsError, match=words):
        pg.check_settings(pg.usable(replace(pg.PRESETS["classification"], **change)))
    with pytest.raises(pg.SettingsError):
        pg.code_for(replace(pg.PRESETS["classification"], **change))


def test_the_browsers_settings_object_is_read_and_checked():
    s = pg.from_browser({**pg.PRESETS["classification"].to_dict(), "features": ["x1", "x2"], "hidden": [8, 8],
                         "unknown": 1})
    assert s.hidden == (8, 8) and s.features == ("x1", "x2") and s.dataset == "two-clouds"
    own = pg.from_browser({"dataset": "own-class", "own": [[0, 0, 0], [1, 1, 1], [2, 2, 2]], "classes": 3,
                           "features": ["x1", "x2"]})
    assert own.points == 3 and own.own[2] == (2, 2, 2)
    for bad in (None, [], "curve", {"lr": "fast"}, {"hidden": [4] * 2000}, {"points": True}):
        with pytest.raises(pg.SettingsError):
            pg.from_browser(bad)


def test_a_curve_keeps_only_the_features_of_x1():
    s = pg.usable(replace(pg.PRESETS["regression"], features=("x1", "x2", "sin(x1)")))
    assert s.features == ("x1", "sin(x1)")
    assert pg.usable(replace(pg.PRESETS["regression"], features=("x2",))).features == ("x1",)


def test_features_are_what_their_names_say():
    x = torch.tensor([[0.5, -2.0]])
    got = [eval(pg.FEATURE_CODE[f], {"torch": torch, "x": x}).item() for f in pg.FEATURES]
    assert got == pytest.approx([0.5, -2.0, 0.25, 4.0, -1.0, math.sin(0.5), math.sin(-2.0)])


# ------------------------------------------------------------------ the code the page shows
def run_script(code: str, tmp_path) -> str:
    script = tmp_path / "playground.py"
    script.write_text(code)
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return out.stdout


@pytest.mark.parametrize("settings, steps, most", [
    (pg.PRESETS["classification"], pg.PRESET_STEPS["classification"], None),
    (pg.PRESETS["regression"], pg.PRESET_STEPS["regression"], 0.01),
    (pg.Settings(dataset="spiral", classes=3, noise=0.1, points=300, train_ratio=0.6,
                 features=("x1", "x2", "sin(x1)", "sin(x2)"), hidden=(8, 6), activation="tanh",
                 regularization="L2", reg_rate=0.001, optimizer="rmsprop", lr=0.01, batch_size=16), 40, None),
    (pg.Settings(dataset="bumps", noise=0.05, points=200, train_ratio=0.5, features=("x1", "x2"), hidden=(),
                 regularization="L1", reg_rate=0.01, optimizer="momentum", lr=0.01, batch_size=10), 40, None),
    (pg.Settings(dataset="own-class", own=((-2.0, -2.0, 0), (-1.0, -2.0, 0), (2.0, 2.0, 1), (2.0, 1.0, 1)),
                 features=("x1", "x2"), hidden=(4,), lr=0.1, batch_size=10), 60, None),
], ids=["classification", "regression", "spiral", "bumps-linear", "own-points"])
@pytest.mark.slow
def test_the_shown_code_runs_and_reaches_the_courses_figures(settings, steps, most, tmp_path, one_thread):
    code = pg.code_for(settings, steps)
    assert "class Net(torch.nn.Module)" in code and "optimizer.step()" in code
    out = run_script(code, tmp_path)
    found = re.search(r"step (\d+): train loss ([\d.]+)", out)
    assert found and int(found.group(1)) == steps
    if most is not None:
        assert float(found.group(2)) < most                        # the course: MSE below 0.01
    if settings.dataset in ("two-clouds", "own-class"):
        assert float(re.search(r"train accuracy ([\d.]+)", out).group(1)) >= 0.98   # the course: >= 98%


def test_the_code_has_its_limits():
    assert "STEPS = 100000" in pg.code_for(pg.PRESETS["regression"], 10**9)
    assert "STEPS = 0" in pg.code_for(pg.PRESETS["regression"], -5)


def test_the_race_code_runs_and_puts_adam_and_rmsprop_ahead_of_sgd(tmp_path, one_thread):
    out = run_script(pg.race_code(), tmp_path)
    mean = {name: float(re.search(rf"{name}: final batch loss [\d.]+, mean of the last 20 ([\d.]+)", out).group(1))
            for name in ("SGD", "Momentum", "RMSprop", "Adam")}
    assert mean["Adam"] < mean["SGD"] and mean["RMSprop"] < mean["SGD"], mean


# ------------------------------------------------------------------ the GIF, from the page's frames
def png_url(colour, size=(320, 348)) -> str:
    buffer = io.BytesIO()
    Image.new("RGB", size, colour).save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def test_the_run_becomes_an_animated_gif():
    frames = [png_url((20 * i, 100, 200)) for i in range(10)]
    gif = Image.open(io.BytesIO(pg.gif_from_frames(frames)))
    assert gif.format == "GIF" and gif.n_frames == 10
    assert pg.gif_data_url(frames[:2]).startswith("data:image/gif;base64,")


@pytest.mark.parametrize("frames, words", [
    ([], "at least two frames"),
    (None, "at least two frames"),
    ([png_url("red")] * (pg.MAX_GIF_FRAMES + 1), "at most 60 frames"),
    ([png_url("red"), "data:image/png;base64,AAAA"], "not a small PNG"),
    ([png_url("red"), "data:text/html;base64,AAAA"], "not a small PNG"),
    ([png_url("red"), png_url("red", (2000, 10))], "not a small PNG"),
    ([png_url("red"), 7], "not a small PNG"),
    (["data:image/png;base64," + "A" * 3_000_000] * 2, "too large"),
])
def test_gif_frames_are_bounded_on_the_server(frames, words):
    with pytest.raises(pg.SettingsError, match=words):
        pg.gif_from_frames(frames)


def test_a_big_networks_batch_is_capped_so_a_phone_keeps_its_speed():
    largest = replace(pg.PRESETS["classification"], dataset="gaussian", classes=4, points=1000,
                      features=tuple(pg.FEATURES), hidden=(pg.MAX_NEURONS,) * pg.MAX_HIDDEN_LAYERS, batch_size=1000)
    assert pg.weight_count(largest) == 1556 and pg.max_batch(largest) == 32
    assert pg.usable(largest).batch_size == 32
    assert pg.from_browser(largest.to_dict() | {"batch_size": 1000}).batch_size == 32
    with pytest.raises(pg.SettingsError) as err:
        pg.check_settings(largest)
    assert err.value.args[0].in_("zh") == "这个网络的批大小最多是 32：批次再大，手机上每一步都会变慢。"
    for preset in pg.PRESETS.values():                                   # the course's full batches stay
        assert pg.usable(preset) == preset
    assert pg.usable(replace(largest, batch_size=10)).batch_size == 10


# ------------------------------------------------------------------ in the reader's language
def test_a_setting_out_of_range_is_refused_in_chinese_too():
    with pytest.raises(pg.SettingsError) as err:
        pg.check_settings(replace(pg.PRESETS["classification"], lr=100.0))
    assert str(err.value) == "The learning rate must be between 1e-05 and 10 (got 100.0)."
    assert err.value.args[0].in_("zh") == "学习率必须在 1e-05 到 10 之间（收到的是 100.0）。"
    with pytest.raises(pg.SettingsError) as err:
        pg.check_settings(replace(pg.PRESETS["classification"], features=("x3",)))
    assert err.value.args[0].in_("zh").startswith("请从这些输入特征中选择")
