"""The Playground's core (cnnlab.lessons.playground): the course's three programs reproduce the course's
results, every data set and setting works, the limits hold whatever a client sends, and the code
the page shows runs and reaches the same result."""
from __future__ import annotations

import base64
import io
import math
import re
import subprocess
import sys
from dataclasses import replace

import numpy as np
import pytest
import torch
from PIL import Image

from cnnlab.lessons import playground as pg


def run(p: pg.Playground, steps: int) -> pg.Playground:
    """Train ``p`` to ``steps`` steps as the page does: a frame after every call."""
    while p.step_count < steps:
        assert p.step(min(p.settings.steps_per_frame, steps - p.step_count)) > 0
        p.frame()
    return p


# ------------------------------------------------------------------ the course's three programs
def test_the_regression_preset_fits_the_curve_as_the_course_does(one_thread):
    s = pg.PRESETS["regression"]
    assert (s.dataset, s.points, s.noise, s.hidden, s.activation, s.optimizer, s.lr) == \
        ("curve", 100, 0.2, (10,), "relu", "sgd", 0.2)
    p = run(pg.Playground(s), pg.PRESET_STEPS["regression"])
    assert len(p.data.x_train) == 100 and p.last["train"] < 0.01           # the course: loss below 0.01
    assert p.history.train[0] > 5 * p.history.train[-1]                    # and it fell to get there


def test_the_classification_preset_separates_the_two_clouds(one_thread):
    s = pg.PRESETS["classification"]
    d = pg.make_data(s)
    assert d.x_train.shape == (200, 2) and sorted(torch.bincount(d.y_train).tolist()) == [100, 100]
    assert torch.allclose(d.x_train[:100].mean(0), torch.tensor([2.0, 2.0]), atol=0.3)   # centred at (2, 2)
    assert torch.allclose(d.x_train[100:].mean(0), torch.tensor([-2.0, -2.0]), atol=0.3)
    assert abs(d.x_train[:100].std().item() - 1.0) < 0.15                                # std 1
    p = run(pg.Playground(s), pg.PRESET_STEPS["classification"])
    assert p.last["train_acc"] >= 0.98
    assert p.history.acc[0] < p.history.acc[-1]


def test_the_race_trains_four_optimizers_on_the_same_batches(one_thread):
    race = pg.Race()
    assert race.x.shape == (1000, 1)
    first = {name: [p.clone() for p in net.parameters()] for name, net in race.nets.items()}
    for a, b in zip(first["sgd"], first["adam"]):
        assert torch.equal(a, b)                                 # one set of initial weights for all four
    opts = race.optimizers
    assert opts["momentum"].defaults["momentum"] == 0.8 and opts["rmsprop"].defaults["alpha"] == 0.9
    assert opts["adam"].defaults["betas"] == (0.9, 0.99) and all(o.defaults["lr"] == 0.01 for o in opts.values())
    while not race.finished:
        assert race.step(pg.MAX_STEPS_PER_CALL) > 0
    assert race.step_count == pg.RACE_STEPS == 12 * 32
    frame = race.frame()
    assert set(frame["losses"]) == {"sgd", "momentum", "rmsprop", "adam"}
    for name, curve in frame["losses"].items():
        assert len(curve) >= 100 and all(math.isfinite(v) for v in curve), name
        assert np.mean(race.losses[name][-20:]) < np.mean(race.losses[name][:20])     # every one learned
    # the course's lesson: plain SGD is the slowest of the four here
    assert np.mean(race.losses["sgd"][-50:]) > max(np.mean(race.losses[n][-50:]) for n in ("momentum", "adam"))


# ------------------------------------------------------------------ data sets, features, network
@pytest.mark.parametrize("name", list(pg.DATASETS))
def test_every_data_set_trains_and_draws(name, one_thread):
    spec = pg.DATASETS[name]
    features = pg.FEATURES_1D if spec.dims == 1 else tuple(pg.FEATURES)
    s = pg.Settings(dataset=name, noise=spec.noise, points=spec.points, train_ratio=0.7, features=features,
                    hidden=(6, 4), activation="tanh", optimizer="adam", lr=0.03, batch_size=16, classes=3)
    p = pg.Playground(s)
    d = p.data
    assert len(d.x_train) + len(d.x_test) == spec.points - (spec.points % 2 if name == "two-clouds" else 0)
    assert abs(len(d.x_train) / spec.points - 0.7) < 0.02
    if spec.task == "classification":
        k = 3 if spec.many_classes else 2
        assert set(d.y_train.tolist()) == set(range(k))
    run(p, 40)
    frame = p.frame(layer=2)
    assert frame["step"] == 40 and frame["train_loss"] is not None and frame["test_loss"] is not None
    points = np.frombuffer(base64.b64decode(frame["points"]), np.uint8).reshape(-1, 4)
    assert len(points) == spec.points - (spec.points % 2 if name == "two-clouds" else 0)
    assert (points[:, 3] & 1).sum() == len(d.x_test)                 # test points are flagged
    if spec.dims == 2:
        heat = Image.open(io.BytesIO(base64.b64decode(frame["heat"].split(",")[1])))
        assert heat.size == (pg.GRID, pg.GRID)
        assert frame["neurons"]["n"] == 4 and frame["neurons"]["layer"] == 2
    else:
        assert len(base64.b64decode(frame["curve"])) == pg.CURVE_SAMPLES
    assert len(str(frame)) < 25_000                                   # a frame is a few kB


def test_features_are_what_their_names_say():
    x = torch.tensor([[0.5, -2.0]])
    got = pg.featurize(x, tuple(pg.FEATURES))[0].tolist()
    want = [0.5, -2.0, 0.25, 4.0, -1.0, math.sin(0.5), math.sin(-2.0)]
    assert got == pytest.approx(want)
    for name, code in pg.FEATURE_CODE.items():                       # the shown code computes the same
        assert eval(code, {"torch": torch, "x": x}).tolist() == pg.FEATURES[name](x).tolist()


def test_the_network_has_the_layers_and_neurons_asked_for():
    s = replace(pg.PRESETS["classification"], hidden=(16, 8, 1), features=("x1", "x2", "x1*x2"))
    net = pg.build_net(s)
    assert [m.weight.shape for m in net.hidden] == [(16, 3), (8, 16), (1, 8)]
    assert net.predict.weight.shape == (2, 1)
    none = pg.build_net(replace(s, hidden=()))                      # no hidden layer: a linear model
    assert len(none.hidden) == 0 and none.predict.weight.shape == (2, 3)
    first, again = pg.build_net(s), pg.build_net(s)                 # the seed decides the weights
    assert torch.equal(first.predict.weight, again.predict.weight)
    assert pg.Playground(replace(s, hidden=())).neurons()["n"] == 0


def test_activations_and_regularization_change_what_is_learned(one_thread):
    base = replace(pg.PRESETS["classification"], dataset="circle", noise=0.2, points=200, hidden=(8,),
                   optimizer="adam", lr=0.03, batch_size=20)
    finals = {}
    for act in pg.ACTIVATIONS:
        finals[act] = run(pg.Playground(replace(base, activation=act)), 60).last["train_acc"]
    assert finals["linear"] < 0.8 < min(finals["relu"], finals["tanh"])   # a line cannot cut out a disc
    plain = run(pg.Playground(base), 60)
    l1 = run(pg.Playground(replace(base, regularization="L1", reg_rate=0.1)), 60)
    weights = lambda p: sum(w.abs().sum().item() for n, w in p.net.named_parameters() if n.endswith("weight"))
    assert weights(l1) < 0.7 * weights(plain)


def test_settings_change_between_steps(one_thread):
    p = run(pg.Playground(pg.PRESETS["classification"]), 10)
    w = p.net.predict.weight.clone()
    assert p.update(replace(p.settings, lr=0.5, optimizer="adam", noise=0.5)) == "settings changed"
    assert p.step_count == 10 and torch.equal(p.net.predict.weight, w)     # the same net carries on
    assert isinstance(p.optimizer, torch.optim.Adam) and p.optimizer.param_groups[0]["lr"] == 0.5
    run(p, 20)
    assert p.update(replace(p.settings, hidden=(4, 4))) == "new network"
    assert p.step_count == 0 and len(p.net.hidden) == 2
    assert p.update(p.settings) == ""


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
    (dict(steps_per_frame=pg.MAX_STEPS_PER_CALL + 1), "Steps per frame"),
    (dict(dataset="mnist"), "no data set"),
    (dict(activation="gelu"), "activation"),
    (dict(optimizer="lbfgs"), "optimizer"),
    (dict(features=("x3",)), "features"),
    (dict(features=()), "features"),
    (dict(reg_rate=1e9), "regularization rate"),
])
def test_settings_out_of_range_are_refused_with_a_sentence(change, words):
    with pytest.raises(pg.SettingsError, match=words):
        pg.check_settings(replace(pg.PRESETS["classification"], **change))
    with pytest.raises(pg.SettingsError):
        pg.Playground(replace(pg.PRESETS["classification"], **change))


def test_steps_per_call_and_per_run_are_bounded(one_thread):
    p = pg.Playground(replace(pg.PRESETS["classification"], batch_size=1))
    assert p.step(10_000) <= pg.MAX_STEPS_PER_CALL
    p.step_count = pg.MAX_RUN_STEPS - 3
    assert p.step(pg.MAX_STEPS_PER_CALL) <= 3 and p.finished
    assert p.step(5) == 0
    race = pg.Race()
    assert race.step(10_000) <= pg.MAX_STEPS_PER_CALL


def test_a_curve_keeps_only_the_features_of_x1():
    s = pg.usable(replace(pg.PRESETS["regression"], features=("x1", "x2", "sin(x1)")))
    assert s.features == ("x1", "sin(x1)")
    assert pg.usable(replace(pg.PRESETS["regression"], features=("x2",))).features == ("x1",)


def test_history_and_gif_frames_stay_small(one_thread):
    p = pg.Playground(replace(pg.PRESETS["classification"], steps_per_frame=1))
    for _ in range(3 * pg.MAX_HISTORY):
        p.step(1)
        p.frame(gif=True)
    assert len(p.history.epoch) <= pg.MAX_HISTORY and len(p.gif_frames) <= pg.MAX_GIF_FRAMES
    assert p.history.epoch == sorted(p.history.epoch) and p.history.epoch[-1] > 0.9 * 3 * pg.MAX_HISTORY


# ------------------------------------------------------------------ the code the page shows, the GIF
@pytest.mark.parametrize("settings", [
    pg.PRESETS["classification"],
    pg.PRESETS["regression"],
    pg.Settings(dataset="spiral", classes=3, noise=0.1, points=300, train_ratio=0.6,
                features=("x1", "x2", "sin(x1)", "sin(x2)"), hidden=(8, 6), activation="tanh",
                regularization="L2", reg_rate=0.001, optimizer="rmsprop", lr=0.01, batch_size=16),
    pg.Settings(dataset="bumps", noise=0.05, points=200, train_ratio=0.5, features=("x1", "x2"), hidden=(),
                regularization="L1", reg_rate=0.01, optimizer="momentum", lr=0.01, batch_size=10),
], ids=["classification", "regression", "spiral", "bumps-linear"])
@pytest.mark.slow
def test_the_shown_code_runs_and_reaches_the_same_result(settings, tmp_path, one_thread):
    steps = 40
    p = run(pg.Playground(settings), steps)
    script = tmp_path / "playground.py"
    script.write_text(p.code(steps))
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "class Net(torch.nn.Module)" in script.read_text() and "optimizer.step()" in script.read_text()
    found = re.search(r"step (\d+): train loss ([\d.]+)", out.stdout)
    assert found and int(found.group(1)) == steps
    assert float(found.group(2)) == pytest.approx(p.last["train"], rel=0.02, abs=2e-4)
    if p.last["train_acc"] is not None:
        accuracy = float(re.search(r"train accuracy ([\d.]+)", out.stdout).group(1))
        assert accuracy == pytest.approx(p.last["train_acc"], abs=0.01)


@pytest.mark.slow
def test_the_race_code_runs_and_ranks_the_optimizers_as_the_race_does(tmp_path, one_thread):
    race = pg.Race()
    while race.step_count < 100:
        race.step(min(pg.MAX_STEPS_PER_CALL, 100 - race.step_count))
    script = tmp_path / "race.py"
    script.write_text(pg.race_code(100))
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    for name, label in (("sgd", "SGD"), ("momentum", "Momentum"), ("rmsprop", "RMSprop"), ("adam", "Adam")):
        final = float(re.search(rf"{label}: final batch loss ([\d.]+)", out.stdout).group(1))
        assert final == pytest.approx(race.losses[name][-1], rel=0.02, abs=2e-4)


def test_the_run_saves_as_an_animated_gif(tmp_path, one_thread):
    p = pg.Playground(pg.PRESETS["classification"])
    with pytest.raises(pg.SettingsError, match="GIF"):
        p.save_gif(tmp_path / "none.gif")
    run(p, 40)
    path = p.save_gif(tmp_path / "Classification.gif")
    gif = Image.open(path)
    assert gif.format == "GIF" and gif.n_frames >= 10 and path.stat().st_size < 2_000_000
    first = np.asarray(gif.convert("RGB"))
    gif.seek(gif.n_frames - 1)
    assert not np.array_equal(first, np.asarray(gif.convert("RGB")))   # the boundary moved


def test_the_gate_keeps_all_playground_work_to_its_share_of_a_core():
    import time
    gate = pg.CpuGate(share=0.25, event_cpu_s=0.0)
    start, used = time.perf_counter(), 0.0
    for _ in range(10):
        with gate():
            c = time.thread_time()
            while time.thread_time() - c < 0.01:          # 10 ms of real work
                pass
            used += time.thread_time() - c
    wall = time.perf_counter() - start
    assert wall >= 0.9 * (used / 0.25 - 3 * used / 10)     # ~4x the work's time (the last rest not waited)
    assert gate.waited_s > 0
    alone = pg.CpuGate(share=0.35)                           # one student alone never waits
    with alone():
        pass
    time.sleep(pg.EVENT_CPU_S / 0.35 + 0.01)
    with alone():
        pass
    assert alone.waited_s == 0


# ------------------------------------------------------------------ in the reader's language
def test_a_setting_out_of_range_is_refused_in_chinese_too():
    with pytest.raises(pg.SettingsError) as err:
        pg.check_settings(replace(pg.PRESETS["classification"], lr=100.0))
    assert str(err.value) == "The learning rate must be between 1e-05 and 10 (got 100.0)."
    assert err.value.args[0].in_("zh") == "学习率必须在 1e-05 到 10 之间（收到的是 100.0）。"
    with pytest.raises(pg.SettingsError) as err:
        pg.check_settings(replace(pg.PRESETS["classification"], features=("x3",)))
    assert err.value.args[0].in_("zh").startswith("请从这些输入特征中选择")


def test_a_chinese_gif_caption_has_its_characters(tmp_path, one_thread):
    """The GIF's caption in Chinese is drawn with a font that has the characters (two different
    characters drawn alike would be the 'missing glyph' box)."""
    p = run(pg.Playground(pg.PRESETS["classification"]), 10)
    frame = pg.render_gif_frame(p.gif_frames[-1], lang="zh")
    english = pg.render_gif_frame(p.gif_frames[-1], lang="en")
    assert np.asarray(frame).shape == np.asarray(english).shape
    assert not np.array_equal(np.asarray(frame)[-28:], np.asarray(english)[-28:])
    font = pg._font(16, "第步")
    glyphs = [np.asarray(font.getmask("第")), np.asarray(font.getmask("步"))]
    assert glyphs[0].size and glyphs[0].max() > 0 and not np.array_equal(glyphs[0], glyphs[1])
    assert p.save_gif(tmp_path / "zh.gif", lang="zh").stat().st_size > 0
