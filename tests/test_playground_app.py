"""The Playground tab through its API (gradio_client), as a student's phone uses it: a preset, Step
until the clouds are separated, settings out of range refused with a sentence, each student's
network their own, the GIF, and the optimizer race."""
from __future__ import annotations

import json
import math

import pytest
from gradio_client.exceptions import AppError
from PIL import Image

from cnnlab.lessons import playground as pg

N_CONTROLS = 15          # dataset ... steps per frame (cnnlab.ui.playground: ``controls``)


def preset(client, name: str) -> list:
    """Load a preset; returns the controls' values as the page then shows them."""
    out = client.predict(1, api_name=f"/playground_preset_{name}")
    values = [v["value"] if isinstance(v, dict) and "__type__" in v else v for v in out[:N_CONTROLS]]
    frame = json.loads(out[N_CONTROLS])
    assert frame["step"] == 0
    code = out[-1]                                   # the PyTorch code of the preset, shown beside it
    assert "class Net(torch.nn.Module)" in code and f"LR = {values[12]!r}" in code
    return values


def step(client, values) -> dict:
    return json.loads(client.predict(1, *values, api_name="/playground_step")[0])


def test_the_clouds_preset_learns_step_by_step(client):
    values = preset(client, "classification")
    assert values[0] == "two-clouds" and values[3] == 200 and values[12] == 0.02
    accuracies = []
    while not accuracies or accuracies[-1] < 0.98:
        frame = step(client, values)
        accuracies.append(frame["train_acc"])
        assert len(accuracies) <= 60, accuracies
    assert len(accuracies) <= frame["step"] <= 2 * len(accuracies) and frame["kind"] == "class"
    assert accuracies[0] < 0.98 and frame["heat"].startswith("data:image/png;base64,")


def test_settings_change_between_steps_and_a_new_data_set_resets(client):
    values = preset(client, "regression")
    # (a call stops early after MAX_CALL_S, which a busy machine can reach: hence the ranges; the
    # curves get a point at the start of a network and after every call)
    first = step(client, values)
    assert 1 <= first["step"] <= 5 and len(first["history"]["epoch"]) == 2
    faster = list(values)
    faster[14] = 10                                  # steps per frame
    frame = step(client, faster)
    assert first["step"] < frame["step"] <= first["step"] + 10
    assert len(frame["history"]["epoch"]) == 3       # the same network carried on
    deeper = list(faster)
    deeper[6] = 2                                    # two hidden layers: a new network
    frame = step(client, deeper)
    assert 1 <= frame["step"] <= 10 and frame["neurons"]["layers"] == 2
    assert len(frame["history"]["epoch"]) == 2


# Sliders and fixed lists are checked by Gradio itself ("... greater than maximum value ..."),
# the rest by cnnlab.lessons.playground.check_settings; either way the student reads a sentence.
@pytest.mark.parametrize("index, value, words", [
    (3, 1_000_000, "greater than maximum value 1000"),
    (6, 100, "greater than maximum value 6"),
    (7, 99, "greater than maximum value 16"),
    (12, 0, "learning rate must be between"),
    (12, 1e6, "learning rate must be between"),
    (12, "fast", "not a number"),
    (10, 1e9, "regularization rate must be between"),
    (13, 10**9, "greater than maximum value 1000"),
    (14, 10_000, "greater than maximum value 25"),
    (0, "mnist", "not in the list of choices"),
    (5, ["x1", "x3"], "not in the list of choices"),
])
def test_settings_out_of_range_are_refused_with_a_sentence(client, index, value, words):
    values = preset(client, "classification")
    values[index] = value
    with pytest.raises(AppError, match=words):
        client.predict(1, *values, api_name="/playground_step")


def test_each_student_trains_their_own_network(client, app_server):
    from gradio_client import Client
    other = Client(app_server[1], verbose=False)
    try:
        values = preset(client, "classification")
        for _ in range(3):
            step(client, values)
        theirs = preset(other, "regression")
        frame = step(other, theirs)
        assert frame["kind"] == "reg1" and frame["step"] <= 5       # their own, new network
        mine = step(client, values)["step"]
        assert 4 <= mine <= 8 and step(other, theirs)["step"] > 1
    finally:
        other.close()


def test_the_run_is_saved_as_a_gif(client):
    values = preset(client, "classification")
    for _ in range(6):
        step(client, values)
    out = client.predict(api_name="/playground_gif")
    value = out.get("value", out) if isinstance(out, dict) else out       # an update that also shows it
    gif = Image.open(value["path"] if isinstance(value, dict) else value)
    assert gif.format == "GIF" and gif.n_frames >= 5


def test_the_race_runs_four_optimizers_in_lockstep(client):
    frame = json.loads(client.predict(api_name="/playground_race_reset"))
    assert frame["step"] == 0 and frame["total"] == pg.RACE_STEPS
    json.loads(client.predict(api_name="/playground_race_play"))
    job = client.submit(api_name="/playground_race_stream")        # what the page reads while it plays
    frames = []
    for out in job:
        if isinstance(out, str):                                    # the stream's first message is empty
            frames.append(json.loads(out))
        if len(frames) == 4:
            break
    client.predict(api_name="/playground_race_play")                # Pause: the stream ends
    job.result(timeout=30)
    frame = frames[-1]
    assert [f["step"] for f in frames] == sorted(f["step"] for f in frames)
    assert 5 <= frame["step"] <= 8 * 5              # 8 steps a frame, fewer when a frame passes MAX_CALL_S
    assert set(frame["losses"]) == {"sgd", "momentum", "rmsprop", "adam"}
    assert all(len(v) == frame["step"] and all(math.isfinite(x) for x in v) for v in frame["losses"].values())


def test_a_chinese_reader_gets_chinese_answers_and_errors(app_server):
    from gradio_client import Client
    zh = Client(app_server[1], verbose=False, headers={"Accept-Language": "zh-CN,zh;q=0.9"})
    try:
        values = preset(zh, "classification")
        with pytest.raises(AppError, match="先点几次“开始”或“单步”"):     # step 0: no GIF yet
            zh.predict(api_name="/playground_gif")
        step(zh, values)
        bad = list(values)
        bad[12] = "fast"
        with pytest.raises(AppError, match="有一项设置不是数字"):
            zh.predict(1, *bad, api_name="/playground_step")
        bad[12] = 1e6
        with pytest.raises(AppError, match="学习率必须在 1e-05 到 10 之间"):
            zh.predict(1, *bad, api_name="/playground_step")
    finally:
        zh.close()
