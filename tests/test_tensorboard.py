"""TensorBoard logs (cnnlab.core.tblog): ``python -m cnnlab train --tensorboard DIR`` writes scalars,
test pictures, the model graph and the last layer's embedding for the Embedding Projector, read
back here the way TensorBoard reads them; the app's switch logs the shared runs only while on,
and only the teacher may flip it."""
from __future__ import annotations

import json

import pytest

pytest.importorskip("tensorboard", reason="pip install tensorboard (requirements.txt)")
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator  # noqa: E402

from cnnlab.__main__ import main  # noqa: E402
from cnnlab.config import TrainConfig  # noqa: E402
from cnnlab.core import datasets  # noqa: E402
from cnnlab.core.nets.models import build_model  # noqa: E402
from cnnlab.core.tblog import EMBED_N, TensorBoardLogger  # noqa: E402
from cnnlab.server.classroom import TeacherKey  # noqa: E402
from cnnlab.server.jobs import TrainJob  # noqa: E402
from cnnlab.server.zoo import ModelZoo  # noqa: E402


def read(folder):
    acc = EventAccumulator(str(folder), size_guidance={"scalars": 0, "images": 0})
    acc.Reload()
    return acc


@pytest.mark.slow
def test_cli_writes_scalars_pictures_graph_and_projector(tmp_path, data_root):
    logdir = tmp_path / "tb"
    out = tmp_path / "run.pt"
    assert main(["train", "--data-dir", str(data_root), "--model", "cnn", "--train-size", "1000", "--epochs", "1",
                 "--val-size", "500", "--eval-every-s", "0", "--tensorboard", str(logdir), "--out", str(out)]) == 0
    (run,) = logdir.glob("run-1-mnist-cnn")
    acc = read(run)
    tags = acc.Tags()
    assert {"loss/train", "loss/validation", "accuracy/validation", "accuracy/test"} <= set(tags["scalars"])
    train = acc.Scalars("loss/train")
    assert len(train) >= 2 and train[-1].value < train[0].value   # it learned (a point every step: not timing)
    test_acc = acc.Scalars("accuracy/test")[-1].value
    metrics = json.loads(out.with_suffix(".metrics.json").read_text())
    assert test_acc == pytest.approx(metrics["test_accuracy"], abs=1e-6)      # the checkpoint's own figure
    assert tags["images"] == ["test pictures"] and acc.Images("test pictures")[0].width > 28
    assert tags["graph"]
    graph = acc.Graph()
    assert any("Conv2d" in node.name or "conv" in node.op.lower() for node in graph.node)
    projector = (run / "projector_config.pbtxt").read_text()
    assert "tensor_path" in projector and "metadata_path" in projector and "sprite" in projector
    (tensors,) = run.glob("*/last_layer/tensors.tsv")
    rows = tensors.read_text().strip().split("\n")
    spec = datasets.get_spec("mnist")
    width = build_model("cnn", spec).embed(datasets.normalize(datasets.load("mnist", "test", data_root)
                                                             .images[:1], spec)).shape[1]
    assert len(rows) == EMBED_N and all(len(r.split("\t")) == width for r in rows)
    labels = (tensors.parent / "metadata.tsv").read_text().split()
    assert len(labels) == EMBED_N and set(labels) == set(spec.classes)
    assert (tensors.parent / "sprite.png").stat().st_size > 1000


def test_the_switch_logs_shared_runs_only_while_on(tmp_path, data_root):
    job = TrainJob(ModelZoo(tmp_path / "none"), tmp_path / "runs", data_root, teacher=TeacherKey())
    logger = TensorBoardLogger(tmp_path / "tb", data_root, enabled=False, embed_n=100)
    job.subscribe(logger)
    quick = TrainConfig(model="mlp", train_size=500, epochs=1, val_size=200)
    job.start(quick)
    assert job.wait(600)
    assert not (tmp_path / "tb").exists()
    logger.set_enabled(True)
    job.start(quick)
    assert job.wait(600)
    (run,) = (tmp_path / "tb").glob("run-1-mnist-mlp")
    tags = read(run).Tags()
    assert "accuracy/test" in tags["scalars"] and tags["graph"]
    assert read(run).Scalars("accuracy/test")[-1].value == pytest.approx(job.state().results["test_accuracy"])


def test_the_switch_through_the_api_says_where_the_logs_go(client):
    from gradio_client.exceptions import AppError
    try:
        message, on = client.predict(on=True, api_name="/train_tensorboard")
    except AppError as err:                       # the test app has no key: anyone is the teacher
        pytest.fail(str(err))
    assert on is True and "tensorboard --logdir" in message
    message, on = client.predict(on=False, api_name="/train_tensorboard")
    assert on is False
    with pytest.raises(AppError, match="must be true or false"):
        client.predict(on="maybe", api_name="/train_tensorboard")
