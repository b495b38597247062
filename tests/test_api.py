"""The "Use via API" page as a teacher's script meets it (issue 20) and its limits (issue 11):

* every endpoint the page lists is called with valid values and answers, or raises the gr.Error
  sentence it is meant to raise in that moment; an endpoint added later without a row in
  ``valid_calls`` fails the walk;
* parameters have names and sensible defaults, and every endpoint a one-line description;
* 20 students submit drawings to the class board at once and it counts exactly 20 more;
* every setting out of range gets the sentence naming its range, through the API and through
  the Train tab's own handler, and nothing starts;
* a 12000 x 12000 PNG sent to every endpoint that takes an image is refused from its header,
  and the server goes on serving.
"""
from __future__ import annotations

import base64
import concurrent.futures
import io
import re
import zipfile
from pathlib import Path

import pytest
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError
from handwriting import DIGITS, render
from PIL import Image

from cnnlab.config import LIMITS, TrainConfig
from cnnlab.i18n import Refusal

ROOT = Path(__file__).resolve().parents[1]
PHOTO = ROOT / "demo" / "fashion-sneaker.jpg"
NO_SNAPSHOTS = r"No training run yet|No snapshots|snapshot"


def data_url(image: Image.Image) -> str:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


def sketchpad(path) -> dict:
    return {"background": None, "layers": [], "composite": handle_file(str(path)), "id": None}


def valid_calls(tmp_path: Path) -> dict:
    """api_name -> (keyword arguments of a valid call, regex of the gr.Error sentence the call may
    rightly raise in the state the walk leaves the app in, or None: it must answer). The walk
    calls them in this order, in one client session."""
    three = render(DIGITS[3])
    three.save(tmp_path / "three.png")
    drawing = data_url(three)
    (tmp_path / "table.csv").write_text("x,y\n" + "".join(f"{i},{2 * i + 1}\n" for i in range(40)))
    return {
        "/predict_drawing": (dict(drawing=drawing, model="mnist-cnn", show_saliency=True), None),
        "/predict_digit": (dict(drawing=sketchpad(tmp_path / "three.png"), model="mnist-mlp"), None),
        "/inside_show": (dict(drawing=drawing, model="mnist-cnn"), None),
        "/inside_open": (dict(drawing=drawing, model="mnist-cnn", opened="1:0:5:5"), None),
        "/inside_filters": (dict(model="mnist-cnn"), None),
        "/inside_live": ({}, None),
        "/inside_photo": (dict(photo=handle_file(str(ROOT / "demo" / "fashion-bag.jpg")), model="flowers5-transfer"),
                          None),
        "/board_new": (dict(title="API walk"), None),
        "/board_submit": (dict(digit=3, nickname="Script"), None),          # this session's last drawing
        "/board_cell": (dict(meant="3"), None),
        "/board_summary": ({}, None),
        "/board_export_csv": ({}, None),
        "/board_export_zip": ({}, None),
        "/board_finetune": (dict(model="mnist-cnn", seconds=2), r"at least 5 drawings"),
        "/board_undo": ({}, None),
        "/board_clear": (dict(sure=True), None),
        "/classify_photo": (dict(photo=handle_file(str(PHOTO)), task="Clothing"), None),
        "/own_create": (dict(name="API walk"), r"already a class"),
        "/own_status": ({}, None),
        "/own_rename": (dict(class_id="c1", name="API walk pens"), r"no longer exists|already a class"),
        "/own_close": (dict(class_id="c1"), r"no longer exists"),
        "/own_open": (dict(class_id="c1"), r"no longer exists"),
        "/own_add_photo": (dict(photo=handle_file(str(PHOTO)), class_id="c1"), r"no longer exists"),
        "/own_add_files": (dict(files=[handle_file(str(PHOTO))], class_id="c1"), r"no longer exists"),
        "/own_load_dataset": (dict(files=[handle_file(str(own_zip(tmp_path)))]), None),
        "/own_train": (dict(epochs=5), r"at least 5 pictures"),
        "/own_stop": ({}, None),
        "/own_test": (dict(photo=handle_file(str(PHOTO))), None),
        "/own_export_model": ({}, r"Train the model first"),
        "/own_export_onnx": ({}, r"Train the model first"),
        "/own_export_data": ({}, None),
        "/own_clear_pictures": (dict(sure=True), None),
        "/own_delete": (dict(class_id="c1"), r"no longer exists"),
        "/tsne_map": (dict(model="mnist-cnn", colour_by="right / wrong", pictures=False), None),
        "/tsne_place_drawing": (dict(model="mnist-cnn", drawing=drawing), None),
        "/tsne_place_photo": (dict(model="fashion-cnn-deep", photo=handle_file(str(PHOTO))), None),
        "/tsne_clear": (dict(model="mnist-cnn"), None),
        "/tsne_compare": (dict(model="mnist-cnn"), None),
        "/train_snapshot": ({}, None),
        "/train_start": (dict(dataset="mnist", model="mlp", batch_size=256, epochs=1, train_size=1000), None),
        "/train_race": (dict(dataset="mnist", model="mlp"), None),            # "already in progress": an answer
        "/train_pause": ({}, r"No run is going|Paused"),                 # a short run may have ended
        "/train_set_lr": (dict(lr=0.001), None),
        "/train_resume": ({}, None),
        "/train_grid": (dict(dataset="mnist", epochs=1, train_size=1000, learning_rates="0.003", batch_sizes="256",
                             optimizers=["adam"], models=["mlp"], seconds=30), None),   # "in progress": an answer
        "/train_tensorboard": (dict(on=False), None),
        "/train_stop": ({}, None),
        "/train_code": (dict(model="custom"), None),                       # this session's built stack
        "/tsne_snapshots": ({}, None),
        "/tsne_snapshot": (dict(index=0), NO_SNAPSHOTS),
        "/tsne_gif": ({}, NO_SNAPSHOTS + r"|Only one snapshot"),
        "/train_upload_checkpoint": (dict(checkpoint=handle_file(str(ROOT / "checkpoints" / "mnist-mlp.pt"))),
                                     None),
        "/weather_train": (dict(epochs=2), None),
        "/weather_stop": ({}, None),
        "/weather_csv": (dict(path=handle_file(str(tmp_path / "table.csv"))), None),
        "/train_export_onnx": ({}, None),                                  # the checkpoint just uploaded
    }


def own_zip(tmp_path: Path, picture: Path = PHOTO, name: str = "own.zip") -> Path:
    """A tiny prepared data set in ImageFolder layout: ``picture`` in a class folder (and a bag
    in another unless ``picture`` is the only one wanted: a name other than own.zip)."""
    path = tmp_path / name
    with zipfile.ZipFile(path, "w") as z:
        z.write(picture, f"shoes/{picture.name}")
        if name == "own.zip":
            z.write(ROOT / "demo" / "fashion-bag.jpg", "bags/fashion-bag.jpg")
    return path


def own_class(client) -> str:
    """The id of an own class open for pictures (made when there is none)."""
    classes = client.predict(api_name="/own_status")["classes"]
    if not classes:
        client.predict(name="huge pictures", api_name="/own_create")
        classes = client.predict(api_name="/own_status")["classes"]
    client.predict(class_id=classes[0]["id"], api_name="/own_open")
    return classes[0]["id"]


def listed(client) -> dict:
    return client.view_api(return_format="dict", print_info=False)["named_endpoints"]


def test_every_listed_endpoint_answers_or_says_why(client, idle_job, tmp_path):
    api = listed(client)
    calls = valid_calls(tmp_path)
    assert set(api) == set(calls), (
        f"endpoints without a valid call in valid_calls(): {sorted(set(api) - set(calls))}; "
        f"rows for endpoints the page no longer lists: {sorted(set(calls) - set(api))}")
    problems = []
    for name, (kwargs, may_raise) in calls.items():
        try:
            client.predict(**kwargs, api_name=name)
        except AppError as err:
            if may_raise is None or not re.search(may_raise, str(err)):
                problems.append(f"{name}: {err}")
    idle_job.stop()
    assert idle_job.wait(60)
    assert not problems, "\n".join(problems)


def test_every_listed_endpoint_has_named_parameters_and_a_description(client):
    for name, endpoint in listed(client).items():
        assert endpoint["description"] and "\n" not in endpoint["description"].strip(), name
        for p in endpoint["parameters"]:
            assert not re.fullmatch(r"param_\d+", p["parameter_name"]), f"{name}: unnamed {p['parameter_name']}"
            if p["component"] not in ("Drawingcanvas", "Imageeditor", "Image", "File", "Number"):
                assert p["parameter_has_default"], f"{name}: {p['parameter_name']} has no default"


def test_train_endpoints_show_their_settings_by_name(client):
    api = listed(client)
    for name in ("/train_start", "/train_race"):
        params = {p["parameter_name"]: p["parameter_default"] for p in api[name]["parameters"]}
        d = TrainConfig()
        assert params == {"dataset": d.dataset, "model": d.model, "optimizer": d.optimizer, "lr": d.lr,
                          "batch_size": d.batch_size, "epochs": d.epochs, "time_budget_s": d.time_budget_s,
                          "train_size": d.train_size, "augment": d.augment, "teacher_key": None}
    assert [p["parameter_name"] for p in api["/board_submit"]["parameters"]] == ["digit", "nickname"]


def test_page_only_endpoints_are_not_listed(client):
    api = listed(client)
    assert not {"/train_refresh", "/board_refresh", "/photo_models"} & set(api)
    assert not any(re.fullmatch(r"/board_submit_\d", name) for name in api)


def test_twenty_students_submit_at_once_and_the_board_counts_twenty_more(app_server, client):
    url = app_server[1]
    before = client.predict(api_name="/board_summary")["total"]
    students = [Client(url, verbose=False) for _ in range(20)]

    def draw(i: int):
        students[i].predict(data_url(render(DIGITS[i % 10])), "mnist-cnn", False, api_name="/predict_drawing")

    def send(i: int) -> str:
        return students[i].predict(i % 10, f"student {i}", api_name="/board_submit")[0]

    try:
        with concurrent.futures.ThreadPoolExecutor(20) as pool:
            list(pool.map(draw, range(20)))
            confirmations = list(pool.map(send, range(20)))          # 20 submissions at once
    finally:
        for c in students:
            c.close()
    assert all("Sent, student" in text for text in confirmations)
    board = client.predict(api_name="/board_summary")
    assert board["total"] == before + 20
    assert {x["nickname"] for x in board["latest"]} >= {f"student {i}" for i in range(20)}


# ------------------------------------------------------------------------------------ limits
TRAIN = dict(dataset="mnist", model="cnn", optimizer="adam", lr=0.003, batch_size=128, epochs=1,
             time_budget_s=0, train_size=1000, augment=False)
OUT_OF_RANGE = [  # (endpoint, changed settings, the sentence's telling part)
    ("/train_start", dict(batch_size=30000), "Batch size must be between 1 and 1,024; you asked for 30,000."),
    ("/train_start", dict(batch_size=0), "Batch size must be between 1 and 1,024; you asked for 0."),
    ("/train_start", dict(batch_size="lots"), "Batch size must be a whole number between 1 and 1,024"),
    ("/train_start", dict(epochs=21), "Epochs must be between 1 and 20; you asked for 21."),
    ("/train_start", dict(epochs=0), "Epochs must be between 1 and 20"),
    ("/train_start", dict(time_budget_s=601), "Time budget must be between 0 and 600 seconds (0 = no limit)"),
    ("/train_start", dict(time_budget_s=-5), "Time budget must be between 0 and 600 seconds"),
    ("/train_start", dict(lr=0), "Learning rate must be between 1e-06 and 10; you asked for 0."),
    ("/train_start", dict(lr=50), "Learning rate must be between 1e-06 and 10; you asked for 50."),
    ("/train_start", dict(train_size=60001), "Training-set size must be between 0 and 60,000 (0 = all pictures)"),
    ("/train_start", dict(train_size=-1), "Training-set size must be between 0 and 60,000"),
    ("/train_start", dict(augment="maybe"), "Augment must be true or false"),
    ("/train_start", dict(dataset="cifar"), "There is no data set called 'cifar'; choose one of: mnist"),
    ("/train_start", dict(model="transfer"), "The 'transfer' model does not fit MNIST digits"),
    ("/train_start", dict(optimizer="adamw"), "Optimizer must be one of: sgd, momentum, rmsprop, adam"),
    ("/train_race", dict(batch_size=5000), "Batch size must be between 1 and 1,024; you asked for 5,000."),
    ("/train_race", dict(epochs=100), "Epochs must be between 1 and 20"),
    ("/tsne_map", dict(n=20000), "Test pictures on the map must be between 500 and 10,000; you asked for 20,000."),
    ("/tsne_map", dict(n=100), "Test pictures on the map must be between 500 and 10,000"),
    ("/tsne_map", dict(perplexity=1), "Perplexity must be between 5 and 100; you asked for 1."),
    ("/tsne_compare", dict(perplexity=500), "Perplexity must be between 5 and 100; you asked for 500."),
    ("/tsne_place_drawing", dict(n=50000), "Test pictures on the map must be between 500 and 10,000"),
    ("/board_finetune", dict(seconds=100), "Fine-tune seconds must be between 2 and 30 seconds; you asked for 100."),
    ("/board_finetune", dict(seconds=1), "Fine-tune seconds must be between 2 and 30 seconds"),
    ("/board_submit", dict(digit=12), "a digit from 0 to 9, not 12"),
    ("/board_cell", dict(meant="12"), "a digit from 0 to 9, not 12"),
]


def call_with(endpoint: str, changed: dict, tmp_path: Path) -> dict:
    if endpoint.startswith("/train"):
        return {**TRAIN, **changed}
    if endpoint == "/tsne_place_drawing":
        return {"drawing": data_url(render(DIGITS[1])), **changed}
    return changed


@pytest.mark.parametrize("endpoint,changed,sentence", OUT_OF_RANGE,
                         ids=[f"{e}-{'-'.join(map(str, c.values()))}" for e, c, _ in OUT_OF_RANGE])
def test_a_setting_out_of_range_gets_the_sentence_naming_its_range(client, idle_job, tmp_path, endpoint,
                                                                   changed, sentence):
    before = client.predict(api_name="/train_snapshot")["run_id"]
    with pytest.raises(AppError) as err:
        client.predict(**call_with(endpoint, changed, tmp_path), api_name=endpoint)
    assert sentence in str(err.value)
    assert "Traceback" not in str(err.value)
    assert client.predict(api_name="/train_snapshot")["run_id"] == before, "nothing may start"


def widget(demo, elem_id):
    return next(b for b in demo.blocks.values() if getattr(b, "elem_id", None) == elem_id)


def test_the_train_tab_widgets_show_the_server_limits(app_server):
    demo = app_server[0]
    assert (widget(demo, "train-epochs").minimum, widget(demo, "train-epochs").maximum) == \
        (LIMITS["epochs"].low, LIMITS["epochs"].high)
    assert widget(demo, "train-budget").maximum == LIMITS["time_budget_s"].high
    assert (widget(demo, "train-lr").minimum, widget(demo, "train-lr").maximum) == \
        (LIMITS["lr"].low, LIMITS["lr"].high)
    assert max(v for _, v in widget(demo, "train-batch").choices) == LIMITS["batch_size"].high
    assert widget(demo, "tsne-n").maximum == LIMITS["tsne_points"].high
    assert widget(demo, "tsne-perplexity").minimum == LIMITS["tsne_perplexity"].low


@pytest.mark.parametrize("field,value,sentence", [
    ("batch_size", "30000", "Batch size must be between 1 and 1,024; you asked for 30,000."),
    ("epochs", 25, "Epochs must be between 1 and 20"),
    ("lr", -1, "Learning rate must be between"),
    ("budget", 3600, "Time budget must be between 0 and 600 seconds"),
    ("train_size", "70000", "Training-set size must be between 0 and 60,000"),
])
def test_the_train_tabs_handler_refuses_a_value_typed_past_the_widget(field, value, sentence):
    """What a student types into the Batch size box (it takes custom values) reaches make_config."""
    from cnnlab.ui.train import make_config
    settings = dict(dataset="mnist", model="cnn", optimizer="adam", lr=0.003, batch_size=128, epochs=3,
                    budget=0, train_size=0, augment=False)
    settings[field] = value
    with pytest.raises(Refusal, match=re.escape(sentence)):
        make_config(**settings)


@pytest.mark.slow
def test_the_finetune_and_tsne_code_enforce_the_limits_without_the_ui(data_root):
    import numpy as np

    from cnnlab.config import LimitError
    from cnnlab.core import checkpoints, finetune
    from cnnlab.core.maps import MapCache
    loaded = checkpoints.load(ROOT / "checkpoints" / "mnist-cnn.pt")
    drawings = np.zeros((6, 28, 28), np.uint8)
    with pytest.raises(LimitError, match="Fine-tune seconds must be between 2 and 30 seconds"):
        finetune.finetune(loaded, drawings, [1] * 6, data_root, finetune.FinetuneConfig(time_budget_s=600))
    with pytest.raises(LimitError, match="Fine-tune batch size must be between 1 and 256"):
        finetune.finetune(loaded, drawings, [1] * 6, data_root, finetune.FinetuneConfig(batch_size=100_000))
    maps = MapCache(data_root)
    with pytest.raises(LimitError, match="Test pictures on the map must be between 500 and 10,000"):
        maps.get(loaded.path, "mnist", lambda: loaded, n=60_000)
    with pytest.raises(LimitError, match="Perplexity must be between 5 and 100"):
        maps.get(loaded.path, "mnist", lambda: loaded, perplexity=0.5)


# ------------------------------------------------------------------------------ huge images
@pytest.fixture(scope="module")
def huge_png(tmp_path_factory) -> Path:
    """12000 x 12000 white pixels: 144 megapixels (Pillow itself would decode it), ~140 kB as PNG."""
    path = tmp_path_factory.mktemp("huge") / "huge.png"
    Image.new("L", (12000, 12000), 255).save(path, optimize=False)
    return path


def huge_calls(path: Path) -> dict:
    url = "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")
    return {
        "/predict_digit": dict(drawing=sketchpad(path)),
        "/predict_drawing": dict(drawing=url),
        "/classify_photo": dict(photo=handle_file(str(path))),
        "/tsne_place_photo": dict(model="fashion-cnn-deep", photo=handle_file(str(path))),
        "/tsne_place_drawing": dict(model="mnist-cnn", drawing=url),
        "/inside_show": dict(drawing=url, model="mnist-cnn"),
        "/inside_open": dict(drawing=url, model="mnist-cnn", opened="1:0:5:5"),
        "/inside_photo": dict(photo=handle_file(str(path))),
        "/weather_csv": dict(path=handle_file(str(renamed(path, ".csv")))),
        "/train_upload_checkpoint": dict(checkpoint=handle_file(str(renamed(path, ".pt")))),
        "/own_add_photo": dict(photo=handle_file(str(path)), class_id="(an open class)"),
        "/own_add_files": dict(files=[handle_file(str(path))], class_id="(an open class)"),
        "/own_load_dataset": dict(files=[handle_file(str(own_zip(path.parent, path, "huge.zip")))]),
        "/own_test": dict(photo=handle_file(str(path))),
    }


def renamed(path: Path, suffix: str) -> Path:
    """The same bytes under another name (Gradio refuses a .png where only .pt is accepted)."""
    other = path.with_suffix(suffix)
    if not other.exists():
        other.write_bytes(path.read_bytes())
    return other


IMAGE_COMPONENTS = ("Drawingcanvas", "Imageeditor", "Image", "File")


def test_every_image_endpoint_is_in_the_huge_image_table(client, huge_png):
    takes_images = {name for name, ep in listed(client).items()
                    if any(p["component"] in IMAGE_COMPONENTS for p in ep["parameters"])}
    assert takes_images == set(huge_calls(huge_png))


@pytest.mark.parametrize("endpoint", ["/predict_digit", "/predict_drawing", "/classify_photo", "/tsne_place_photo",
                                      "/tsne_place_drawing", "/inside_show", "/inside_open", "/inside_photo",
                                      "/weather_csv", "/train_upload_checkpoint", "/own_add_photo",
                                      "/own_add_files", "/own_load_dataset", "/own_test"])
def test_a_huge_image_is_refused_from_its_header_and_the_server_keeps_serving(client, huge_png, endpoint):
    kwargs = huge_calls(huge_png)[endpoint]
    if "class_id" in kwargs:
        kwargs["class_id"] = own_class(client)
    with pytest.raises(AppError) as err:
        client.predict(**kwargs, api_name=endpoint)
    message = str(err.value)
    assert "Traceback" not in message
    if endpoint == "/train_upload_checkpoint":            # a file, never decoded as an image
        assert "not a PyTorch checkpoint" in message or "not a readable PyTorch checkpoint" in message
    elif endpoint == "/weather_csv":                      # a file, never decoded as an image
        assert "CSV" in message
    elif endpoint in ("/predict_drawing", "/tsne_place_drawing", "/inside_show", "/inside_open"):
        assert "12000 x 12000 pixels; the limit is 1024 pixels a side" in message    # the canvas
    elif endpoint == "/predict_digit":
        assert "12000 x 12000 pixels; the limit here is 1024 pixels" in message
    else:
        assert "12000 x 12000 pixels (144 megapixels)" in message and "limit is 50 megapixels" in message
    verdict = client.predict(data_url(render(DIGITS[1])), "mnist-cnn", False, api_name="/predict_drawing")[0]
    assert "1" in re.sub(r"<[^>]+>", " ", verdict)
