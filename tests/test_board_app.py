"""The class board through the running app, called the way a phone or a script calls it
(gradio_client): submit a drawing, see it on the board, take it back, and the teacher's actions.

The app here has a teacher key (the shared fixture has none) and its own small Draw stand-in that
keeps the Draw tab's contract: a Sketchpad (elem_id "sketch") whose prediction lands in a gr.State
{"seen", "pred", "probs", "model"}, with the board's submit row under it. The model is an untrained
CNN: the board does not care whether the network is right, only what it said.
"""
from __future__ import annotations

import csv
import zipfile

import pytest
import torch
from PIL import Image, ImageDraw

KEY = "sesame"


def build_app(tmp_path_factory, data_root, teacher_key=KEY):
    import gradio as gr

    import app
    from cnnlab.config import AppConfig
    from cnnlab.core import checkpoints, datasets
    from cnnlab.core.inference import answer
    from cnnlab.core.nets.models import build_model
    from cnnlab.ui import board as board_ui

    ck = tmp_path_factory.mktemp("checkpoints")
    torch.manual_seed(0)
    checkpoints.save(ck / "mnist-cnn.pt", build_model("cnn", datasets.get_spec("mnist")), "cnn", "mnist")
    config = AppConfig(data_dir=str(data_root), checkpoint_dir=str(ck),
                       runs_dir=str(tmp_path_factory.mktemp("runs")), teacher_key=teacher_key)
    ctx = app.build_context(config)

    def predict(value):
        result = answer(ctx.zoo.get("mnist-cnn"), value)
        if result is None:
            return None, ""
        record = {"seen": result.prepared.seen, "pred": result.top_index,
                  "probs": list(result.probs.values()), "model": "mnist-cnn"}
        return record, result.top

    with gr.Blocks() as demo:
        with gr.Tab("Draw"):
            sketch = gr.Sketchpad(elem_id="sketch", image_mode="L", canvas_size=(280, 280), fixed_canvas=True)
            last_prediction, seen = gr.State(None), gr.Textbox(label="saw", elem_id="saw")
            sketch.change(predict, sketch, [last_prediction, seen], api_name="predict")
            board_ui.build_submit(ctx, demo, sketch, last_prediction)
        with gr.Tab("Class board") as tab:
            board_ui.build(ctx, demo, tab)
    demo.queue(default_concurrency_limit=4)
    _, url, _ = demo.launch(prevent_thread_lock=True, server_port=None, quiet=True)
    return demo, url, ctx


@pytest.fixture(scope="module")
def board_app(tmp_path_factory, data_root):
    demo, url, ctx = build_app(tmp_path_factory, data_root)
    yield url, ctx
    demo.close()


@pytest.fixture()
def connect(board_app):
    from gradio_client import Client
    clients = []

    def make():
        clients.append(Client(board_app[0], verbose=False))
        return clients[-1]
    yield make
    for c in clients:
        c.close()


@pytest.fixture()
def student(connect):
    """One browser session, on a fresh, empty board."""
    c = connect()
    c.predict(KEY, "", api_name="/board_new")
    return c


def sketch_file(tmp_path, variant: int = 0):
    """A drawing as the browser sends it: black ink on a white 280x280 canvas (one per variant)."""
    image = Image.new("L", (280, 280), 255)
    pen = ImageDraw.Draw(image)
    x = 100 + 8 * variant
    pen.line([(x, 50), (280 - x, 230)], fill=0, width=22)
    if variant % 2:
        pen.line([(80, 60), (200, 60)], fill=0, width=22)
    path = tmp_path / f"sketch{variant}.png"
    image.save(path)
    from gradio_client import handle_file
    return {"background": None, "layers": [], "composite": handle_file(str(path)), "id": None}


def draw_and_send(client, tmp_path, meant, nickname="", variant=0):
    saw = client.predict(sketch_file(tmp_path, variant), api_name="/predict")
    confirmation, _sketch = client.predict(str(meant), nickname, api_name="/board_submit")
    return int(saw), confirmation


def test_a_submitted_drawing_appears_on_the_board(student, tmp_path):
    saw, confirmation = draw_and_send(student, tmp_path, 7, "Ana")
    assert "Sent, Ana!" in confirmation and f"the network saw <b>{saw}</b>" in confirmation
    board = student.predict(api_name="/board_summary")
    assert board["total"] == 1 and board["correct"] == int(saw == 7)
    assert board["confusion"][7][saw] == 1
    [latest] = board["latest"]
    assert (latest["intended"], latest["predicted"], latest["nickname"]) == (7, saw, "Ana")
    assert latest["caption"].endswith(f"meant 7 → saw {saw} · Ana")

    # /board_refresh is the page's own tick (not on the API page, so no defaults): meant, saw
    header, gallery, matrix, cell, cell_info, = student.predict("any", "any", api_name="/board_refresh")
    assert "(" + ("1" if saw == 7 else "0") + " of 1)" in header
    assert [g["caption"] for g in gallery] == [latest["caption"]]
    assert matrix["data"][7][1 + saw] == 1 and matrix["headers"][0] == "meant"
    cell, info = student.predict("7", str(saw), api_name="/board_cell")
    assert len(cell) == 1 and info.startswith("1 drawing")
    cell, info = student.predict("7", str((saw + 1) % 10), api_name="/board_cell")
    assert cell == [] and info.startswith("No drawings")


def test_the_canvas_is_cleared_and_a_second_tap_needs_a_new_drawing(student, tmp_path):
    from gradio_client.exceptions import AppError
    draw_and_send(student, tmp_path, 3)
    with pytest.raises(AppError, match="Draw a digit"):          # the prediction went with the drawing
        student.predict("3", "", api_name="/board_submit")
    assert student.predict(api_name="/board_summary")["total"] == 1


def test_submitting_before_drawing_is_refused(connect):
    from gradio_client.exceptions import AppError
    with pytest.raises(AppError, match="Draw a digit"):
        connect().predict("4", "", api_name="/board_submit")
    with pytest.raises(AppError, match="0 to 9"):
        connect().predict("12", "", api_name="/board_submit")


def test_nicknames_are_cut_to_length_and_escaped(student, tmp_path):
    _, confirmation = draw_and_send(student, tmp_path, 1, "<img src=x onerror=alert(1)>" + "x" * 50)
    assert "<img" not in confirmation and "&lt;img" in confirmation
    [latest] = student.predict(api_name="/board_summary")["latest"]
    assert latest["nickname"] == "<img src=x onerror=a"                    # 20 characters, as typed


def test_a_student_can_take_back_only_their_own_drawing(student, connect, tmp_path):
    draw_and_send(student, tmp_path, 2, "me", variant=1)
    other = connect()
    assert "no drawing on this board" in other.predict(api_name="/board_undo")
    assert student.predict(api_name="/board_summary")["total"] == 1
    draw_and_send(other, tmp_path, 5, "them", variant=2)
    assert "Taken back" in student.predict(api_name="/board_undo")
    assert [x["nickname"] for x in student.predict(api_name="/board_summary")["latest"]] == ["them"]


@pytest.mark.parametrize("endpoint, args", [
    ("/board_new", ["wrong", "my board"]),
    ("/board_clear", ["wrong", True]),
    ("/board_export_csv", ["wrong"]),
    ("/board_export_zip", ["wrong"]),
    ("/board_finetune", ["wrong", "mnist-cnn", 2, False]),
])
def test_teacher_actions_refuse_a_wrong_key(student, tmp_path, endpoint, args):
    from gradio_client.exceptions import AppError
    draw_and_send(student, tmp_path, 6)
    with pytest.raises(AppError, match="Wrong teacher key"):
        student.predict(*args, api_name=endpoint)
    assert student.predict(api_name="/board_summary")["total"] == 1


def test_teacher_exports_the_board_then_clears_it(student, tmp_path):
    from gradio_client.exceptions import AppError
    saw, _ = draw_and_send(student, tmp_path, 4, "Zoe", variant=0)
    draw_and_send(student, tmp_path, 8, "Zoe", variant=1)
    rows = list(csv.DictReader(open(student.predict(KEY, api_name="/board_export_csv"), encoding="utf-8")))
    assert [(r["intended"], r["nickname"]) for r in rows] == [("4", "Zoe"), ("8", "Zoe")]
    assert rows[0]["predicted"] == str(saw)
    with zipfile.ZipFile(student.predict(KEY, api_name="/board_export_zip")) as z:
        assert sorted(n.split("/")[0] for n in z.namelist() if n.endswith(".png")) == ["4", "8"]
    with pytest.raises(AppError, match="Tick"):
        student.predict(KEY, False, api_name="/board_clear")
    message, ticked = student.predict(KEY, True, api_name="/board_clear")
    assert message.startswith("Deleted 2 drawings") and ticked is False
    assert student.predict(api_name="/board_summary")["total"] == 0


@pytest.mark.slow
def test_fine_tuning_on_the_board_publishes_the_latest_model(student, tmp_path, board_app):
    from gradio_client.exceptions import AppError
    ctx = board_app[1]
    with pytest.raises(AppError, match="at least"):
        student.predict(KEY, "mnist-cnn", 3, False, api_name="/board_finetune")
    for i in range(6):
        draw_and_send(student, tmp_path, i % 2 + 1, variant=i)
    message, table = student.predict(KEY, "mnist-cnn", 3, False, api_name="/board_finetune")
    assert "latest" in message
    assert [row[0] for row in table["data"]] == ["the class's 6 drawings", "2,000 MNIST test digits"]
    assert table["headers"] == ["accuracy on", "before", "after", "change"]
    latest = ctx.zoo.get("latest")
    assert latest.config["finetuned_from"] == "mnist-cnn" and latest.metrics["board_drawings"] == 6


def test_the_app_keeps_the_board_in_the_runs_folder(tmp_path):
    import app
    from cnnlab.config import AppConfig
    from cnnlab.lessons.board.store import BoardStore
    ctx = app.build_context(AppConfig(checkpoint_dir=str(tmp_path / "none"), runs_dir=str(tmp_path / "runs")))
    store = ctx.board
    assert isinstance(store, BoardStore) and store.path == tmp_path / "runs" / "board.sqlite"
    assert store.path.exists()
    store.close()
