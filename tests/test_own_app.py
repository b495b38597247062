"""The Own classes tab through its API (issue 16), on an app with a teacher key: the teacher makes
classes, four students add pictures at once and nothing is lost, a closed class refuses students,
one student flooding is slowed down, training runs as the shared run, the answer comes back,
the Photo, Inside and t-SNE tabs serve the model (the map shows the class's own pictures), and the
exports (checkpoint, ONNX, the pictures as a zip) load back."""
from __future__ import annotations

import concurrent.futures
import json
import zipfile

import onnxruntime as ort
import pandas as pd
import pytest
from conftest import served
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError
from PIL import Image

from cnnlab.core import checkpoints, datasets
from cnnlab.core.preprocess import prepare_for
from cnnlab.lessons.own.data import RATE_BURST

KEY = "sesame"

FLOWERS = datasets.get_spec("flowers5").folder     # the flower photos' folder under the data root


@pytest.fixture(scope="module")
def own_app(tmp_path_factory, flowers_root):
    from cnnlab.config import AppConfig
    runs = tmp_path_factory.mktemp("own-runs")
    config = AppConfig(data_dir=str(flowers_root), runs_dir=str(runs), tabs="own,photo,inside,tsne", teacher_key=KEY)
    with served(config) as launched:
        yield launched


def photos(root, name, start, n):
    return sorted((root / FLOWERS / "train" / name).glob("*.jpg"))[start:start + n]


def status(client) -> dict:
    return {c["name"]: c for c in client.predict(api_name="/own_status")["classes"]}


def test_a_lesson_with_own_classes(own_app, flowers_root):
    demo, url = own_app
    teacher = Client(url, verbose=False)
    with pytest.raises(AppError, match="teacher key"):
        teacher.predict(name="daisy", api_name="/own_create")
    for name in ("daisy", "sunflower"):
        teacher.predict(name=name, teacher_key=KEY, api_name="/own_create")
    ids = {name: c["id"] for name, c in status(teacher).items()}
    assert set(ids) == {"daisy", "sunflower"} and all(c["open"] for c in status(teacher).values())

    def student(k: int) -> None:
        c = Client(url, verbose=False)
        try:
            for name in ("daisy", "sunflower"):
                files = [handle_file(str(p)) for p in photos(flowers_root, name, 3 * k, 3)]
                c.predict(files=files, class_id=ids[name], api_name="/own_add_files")
        finally:
            c.close()
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        list(pool.map(student, range(4)))
    counts = status(teacher)
    assert counts["daisy"]["pictures"] == 12 and counts["sunflower"]["pictures"] == 12   # nothing lost

    teacher.predict(class_id=ids["sunflower"], teacher_key=KEY, api_name="/own_close")
    late = Client(url, verbose=False)
    with pytest.raises(AppError, match="not open for pictures"):
        late.predict(photo=handle_file(str(photos(flowers_root, "sunflower", 20, 1)[0])), class_id=ids["sunflower"],
                     api_name="/own_add_photo")

    with pytest.raises(AppError, match="teacher key"):
        late.predict(epochs=20, api_name="/own_train")
    assert "started" in teacher.predict(epochs=30, teacher_key=KEY, api_name="/own_train")
    assert demo.ctx.job.wait(300)
    run = teacher.predict(api_name="/own_status")["run"]
    assert run["state"] == "finished" and "held-out pictures" in run["status"], run

    test_photo = sorted((flowers_root / FLOWERS / "test" / "sunflower").glob("*.jpg"))[0]
    text, probs = late.predict(photo=handle_file(str(test_photo)), api_name="/own_test")
    assert probs["label"] == "sunflower", (text, probs)
    assert "sunflower" in text
    text, probs = late.predict(photo=handle_file(str(test_photo)), task="Own classes", model="latest",
                               api_name="/classify_photo")[:2]
    assert probs["label"] == "sunflower"
    inside = late.predict(photo=handle_file(str(test_photo)), model="latest", api_name="/inside_photo")
    assert "Late: the last layer" in inside and "1280 x 7 x 7" in inside     # the own model, seen inside

    # the class's own pictures on the t-SNE map: every one of the 24, two groups, hover pictures
    plot, legend, info, *_ = late.predict("latest", 500, 30, "true class", True, api_name="/tsne_map")
    data = plot.get("value", plot)
    points = pd.DataFrame(data["data"], columns=data["columns"])
    assert len(points) == 24 and set(points["group"]) == {"daisy", "sunflower"}, info
    assert points["image"].str.startswith("data:image/jpeg").all()
    assert "daisy" in legend and "sunflower" in legend
    daisy, sunflower = (points.loc[points["group"] == g, ["x", "y"]].mean() for g in ("daisy", "sunflower"))
    spread = points[["x", "y"]].std().mean()
    assert ((daisy - sunflower) ** 2).sum() ** 0.5 > spread, "the two classes should lie apart"
    placed = late.predict("latest", 500, 30, "true class", True, handle_file(str(test_photo)),
                          api_name="/tsne_place_photo")[2]
    assert "sunflower" in placed

    with pytest.raises(AppError, match="teacher key"):
        late.predict(api_name="/own_export_data")
    data_zip = teacher.predict(teacher_key=KEY, api_name="/own_export_data")
    with zipfile.ZipFile(data_zip) as z:
        names = z.namelist()
    assert sum(n.endswith(".jpg") for n in names) == 24 and "own-classes/annotations.txt" in names
    model = checkpoints.load(teacher.predict(teacher_key=KEY, api_name="/own_export_model"))
    assert model.dataset == datasets.OWN and model.classes == ("daisy", "sunflower")
    with pytest.raises(AppError, match="teacher key"):
        late.predict(api_name="/own_export_onnx")
    session = ort.InferenceSession(teacher.predict(teacher_key=KEY, api_name="/own_export_onnx"),
                                   providers=["CPUExecutionProvider"])
    assert json.loads(session.get_modelmeta().custom_metadata_map["classes"]) == ["daisy", "sunflower"]
    x = prepare_for(model, Image.open(test_photo).convert("RGB")).tensor.numpy()
    assert session.run(["probabilities"], {"image": x})[0].argmax() == 1          # sunflower, outside PyTorch

    # a prepared data set joins the classes by name
    message = teacher.predict(files=[handle_file(str(data_zip))], teacher_key=KEY, api_name="/own_load_dataset")[0]
    assert "Loaded 0 pictures" in message and "24 were already there" in message
    teacher.close()
    late.close()


def test_one_student_flooding_is_slowed_down_and_the_others_are_not(own_app, flowers_root):
    _, url = own_app
    teacher = Client(url, verbose=False)
    teacher.predict(name="tulip", teacher_key=KEY, api_name="/own_create")
    tulip = status(teacher)["tulip"]["id"]
    flooder = Client(url, verbose=False)
    flood = [handle_file(str(p)) for p in photos(flowers_root, "tulip", 0, RATE_BURST + 5)]
    with pytest.raises(AppError, match="Slow down a little"):
        flooder.predict(files=flood, class_id=tulip, api_name="/own_add_files")
    assert status(teacher)["tulip"]["pictures"] == 0
    flooder.predict(files=flood[:RATE_BURST], class_id=tulip, api_name="/own_add_files")    # a burst is fine
    other = Client(url, verbose=False)
    other.predict(photo=handle_file(str(photos(flowers_root, "tulip", 40, 1)[0])), class_id=tulip,
                  api_name="/own_add_photo")
    assert status(teacher)["tulip"]["pictures"] == RATE_BURST + 1
    for c in (teacher, flooder, other):
        c.close()


def test_the_live_test_stops_after_its_limit_and_starts_afresh_after_a_pause():
    from cnnlab.ui.own_views import LIVE_EVERY_S, LIVE_GAP_S, LIVE_LIMIT_S, live_clock
    t, (clock, allowed) = 1000.0, live_clock(None, 1000.0)
    while t + LIVE_EVERY_S - 1000.0 <= LIVE_LIMIT_S:          # a frame every second up to the limit
        assert allowed
        t += LIVE_EVERY_S
        clock, allowed = live_clock(clock, t)
    clock, allowed = live_clock(clock, t + LIVE_EVERY_S)       # past it, frames still coming: refused
    assert not allowed
    clock, allowed = live_clock(clock, t + 2 * LIVE_EVERY_S)
    assert not allowed
    clock, allowed = live_clock(clock, t + 2 * LIVE_EVERY_S + LIVE_GAP_S + 0.5)   # Stop, then Record
    assert allowed and clock[0] == clock[1]

