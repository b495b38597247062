"""The Weather tab through its API (gradio_client), as a student's laptop uses it: train the
lesson and watch it stream, compare with the baselines, upload a CSV and train on it, and get a
sentence for a bad file or a bad setting."""
from __future__ import annotations

import os
import re
import threading
import time

import httpx
import numpy as np
import pandas as pd
import pytest
import torch
from gradio_client import handle_file
from gradio_client.exceptions import AppError

from cnnlab.lessons import weather as T

LESSON = ["weather", None, [], False, "random"]          # table, target, features, drop empty, split
# version, hidden, activation, optimizer, lr, batch size, epochs, loss
SHORT = ["nn", 128, "sigmoid", "adam", 0.001, 16, 12, "mse"]


def frames(outputs, i: int) -> list[dict]:
    """(Outputs: status, loss plot, dates plot, scatter, table; the buttons are not in the API.)
    Every value of output ``i`` that carried data (updates that only change settings left out)."""
    return [o[i] for o in outputs if isinstance(o[i], dict) and "data" in o[i]]


def final_status(outputs) -> str:
    return [o[0] for o in outputs if isinstance(o[0], str)][-1]


def test_the_lesson_trains_live_and_faces_the_baselines(client):
    job = client.submit(*LESSON, *SHORT, api_name="/weather_train")
    job.result(timeout=300)
    outputs = job.outputs()
    losses = frames(outputs, 1)
    points = [sum(r[2] in ("train loss", "test loss") and r[1] is not None and r[1] == r[1] for r in f["data"])
              for f in losses]
    assert len(losses) >= 2 and points == sorted(points) and points[-1] == 2 * 12    # one per epoch and split
    status = final_status(outputs)
    m = re.search(r"Finished\*\* after 12 epochs .* on the 2015 days: \*\*MAE (\d+\.\d+) °C\*\*, RMSE (\d+\.\d+)",
                  status)
    assert m, status
    assert "same as yesterday" in status and ("beats" in status or "does **not** beat" in status)
    dates = frames(outputs, 2)[-1]
    assert dates["datatypes"]["x"] == "temporal" and len(dates["data"]) == 2 * 365
    assert {r[2] for r in dates["data"]} == {"actual", "predicted (network)"}
    table = frames(outputs, 4)[-1]
    rows = {r[0]: r[1:] for r in table["data"]}
    assert set(rows) == {"the network", "same as yesterday", "historical average", "always the training mean",
                         "linear regression (scikit-learn)"}
    assert rows["the network"][0] == pytest.approx(float(m.group(1)), abs=0.006)
    assert rows["same as yesterday"][0] == pytest.approx(2.24, abs=0.01)
    scatter = frames(outputs, 3)[-1]
    assert sum(r[2] == "test day" for r in scatter["data"]) == 365


def test_the_hand_written_version_trains_too(client):
    manual = ["manual", 64, "relu", "adam", 0.001, 32, 3, "mse"]
    job = client.submit(*LESSON, *manual, api_name="/weather_train")
    job.result(timeout=300)
    assert "Finished** after 3 epochs" in final_status(job.outputs())


def student_csv(path, n=120):
    rng = np.random.default_rng(1)
    size = rng.uniform(30, 150, n)
    town = rng.choice(["north", "south"], n)
    price = 2 * size + np.where(town == "north", 60, 0) + rng.normal(0, 5, n)
    pd.DataFrame({"size": size, "town": town, "owner": [f"p{i}" for i in range(n)], "price": price}).to_csv(
        path, index=False)
    return str(path)


def test_a_cancelled_run_stops_training(client, app_server):
    worker = app_server[0].offered["weather_worker"]
    job = client.submit(*LESSON, "nn", 128, "sigmoid", "adam", 0.001, 16, 2000, "mse", api_name="/weather_train")
    deadline = time.monotonic() + 120
    while not any(isinstance(o[0], str) and "/2000 · step" in o[0] for o in job.outputs()):
        assert time.monotonic() < deadline, "the run never started"
        time.sleep(0.2)
    job.cancel()
    time.sleep(2)
    chunks = worker.submitted
    time.sleep(3)
    assert worker.submitted == chunks                        # no more steps for a run nobody waits for


def test_stop_ends_the_run_at_once_while_the_worker_is_busy(client, app_server):
    """Stop under load: every worker thread is held by another student's work (a chunk that waits
    on an Event, so the load is certain, not timed), and the run still ends, with its results so
    far, while they hold. A Stop that did nothing, or that waited for the worker, would leave the
    run queued behind them until the timeout."""
    worker = app_server[0].offered["weather_worker"]
    job = client.submit(*LESSON, "nn", 128, "sigmoid", "adam", 0.001, 16, 2000, "mse", api_name="/weather_train")
    deadline = time.monotonic() + 120
    while not any(isinstance(o[0], str) and "/2000 · step" in o[0] for o in job.outputs()):
        assert time.monotonic() < deadline, "the run never started"
        time.sleep(0.2)
    release = threading.Event()
    busy = [threading.Event() for _ in range(worker.threads)]
    try:
        for started in busy:
            worker.submit(lambda started=started: (started.set(), release.wait(600)))
        for started in busy:
            assert started.wait(60), "the worker never took the other students' work"
        # now every worker thread is held: the run's next chunk waits in the queue behind them
        client.predict(api_name="/weather_stop")
        job.result(timeout=60)          # ends while the worker is still held; TimeoutError: Stop did not act
        status = final_status(job.outputs())
    finally:
        release.set()
    m = re.search(r"Stopped\*\* after (\d+) epochs .*MAE \d+\.\d+ °C", status)
    assert m, status
    assert int(m.group(1)) < 2000                           # well before its natural end


def test_an_uploaded_csv_offers_its_columns_and_trains(client, tmp_path):
    info, target, features = client.predict(handle_file(student_csv(tmp_path / "houses.csv")), api_name="/weather_csv")
    assert "houses.csv" in info and "120 rows, 4 columns" in info and "owner" in info   # owner: unusable
    assert target["value"] == "price" and [c[1] for c in target["choices"]] == ["size", "price"]
    assert features["value"] == ["size", "town"]
    job = client.submit("csv", "price", ["size", "town"], False, "random", "nn", 64, "relu", "adam", 0.01, 16, 40,
                        "mse", api_name="/weather_train")
    job.result(timeout=300)
    status = final_status(job.outputs())
    assert "Finished** after 40 epochs" in status and "beats *always the training mean*" in status
    rows = frames(job.outputs(), 2)[-1]
    assert rows["datatypes"]["x"] == "quantitative" and len(rows["data"]) == 2 * 24          # a fifth of 120


@pytest.mark.parametrize("content, words", [
    (b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 8, "not a CSV"),
    (b"", "empty"),
    (b"who,where\n" + b"ann,paris\n" * 30, "No column holds only numbers"),
    (b"x,y\n" + b"1,2\n" * 1_000_000, "more than 20,000 rows"),
])
def test_a_bad_csv_upload_gets_a_sentence(client, tmp_path, content, words):
    path = tmp_path / "upload.csv"
    path.write_bytes(content)
    with pytest.raises(AppError, match=words):
        client.predict(handle_file(str(path)), api_name="/weather_csv")


def test_a_file_over_the_limits_is_refused(client, tmp_path, app_server):
    mid = tmp_path / "six.csv"                            # over our 5 MB, under Gradio's 10 MB upload limit
    mid.write_bytes(b"x,y\n" + b"12345,67890\n" * 550_000)
    with pytest.raises(AppError, match=r"6 MB; the limit is 5 MB"):
        client.predict(handle_file(str(mid)), api_name="/weather_csv")
    big = tmp_path / "fifty.csv"                          # 50 MB: the server refuses the upload itself
    with open(big, "wb") as f:
        f.write(b"x,y\n")
        f.truncate(50 * 1024 * 1024)
    with open(big, "rb") as f:
        r = httpx.post(app_server[1] + "gradio_api/upload", files={"files": ("fifty.csv", f, "text/csv")}, timeout=60)
    assert r.status_code == 413


def test_bad_choices_and_settings_get_a_sentence(client, tmp_path):
    with pytest.raises(AppError, match="Upload a CSV file first"):
        client.predict("csv", None, [], False, "random", *SHORT, api_name="/weather_train")
    client.predict(handle_file(student_csv(tmp_path / "houses.csv")), api_name="/weather_csv")
    with pytest.raises(AppError, match="'owner' cannot be a feature: it has 120 different texts"):
        client.predict("csv", "price", ["size", "owner"], False, "random", *SHORT, api_name="/weather_train")
    with pytest.raises(AppError, match="less than minimum value"):          # Gradio checks the number boxes
        client.predict(*LESSON, "nn", 128, "sigmoid", "adam", 0, 16, 5, "mse", api_name="/weather_train")
    with pytest.raises(AppError, match="batch size must be between 1 and 4096"):   # a typed-in batch size
        client.predict(*LESSON, "nn", 128, "sigmoid", "adam", 0.001, "0", 5, "mse", api_name="/weather_train")
    with pytest.raises(AppError, match="not a number"):
        client.predict(*LESSON, "nn", 128, "sigmoid", "adam", 0.001, "lots", 5, "mse", api_name="/weather_train")


def threads_and_nice() -> tuple[int, int]:
    return torch.get_num_threads(), os.getpriority(os.PRIO_PROCESS, threading.get_native_id())


def test_training_waits_in_its_own_queue_on_a_low_priority_worker(app_server):
    """Thirty students training cannot take the Draw tab's place: the weather runs have their own
    queue with a bounded number in progress, and their steps run on the worker thread (one
    PyTorch thread, lower priority) in short chunks."""
    fns = {fn.api_name: fn for fn in app_server[0].fns.values()}
    train, draw = fns["weather_train"], fns["predict_drawing"]
    assert train.concurrency_id == "weather-train" and train.concurrency_limit == 8
    assert draw.concurrency_id != train.concurrency_id
    worker = T.Worker()
    try:
        me = os.getpriority(os.PRIO_PROCESS, 0)
        threads, nice = worker.submit(threads_and_nice).result(30)
        assert threads == 1 and nice == min(19, me + 10)
    finally:
        worker.shutdown()


def test_a_chinese_reader_gets_chinese_status_tables_and_errors(app_server, tmp_path):
    from gradio_client import Client
    zh = Client(app_server[1], verbose=False, headers={"Accept-Language": "zh-CN,zh;q=0.9"})
    try:
        job = zh.submit(*LESSON, "nn", 32, "sigmoid", "adam", 0.001, 64, 2, "mse", api_name="/weather_train")
        job.result(timeout=300)
        outputs = job.outputs()
        status = final_status(outputs)
        finished = r"^\*\*训练完成\*\*：共 2 个周期.*（在 2015 年的数据上）：\*\*平均绝对误差（MAE）\d+\.\d+ °C\*\*"
        assert re.search(finished, status), status
        assert "和昨天一样" in status and "after" not in status
        table = frames(outputs, 4)[-1]
        assert table["headers"] == ["方法", "平均绝对误差（MAE）", "均方根误差（RMSE）"]
        assert {r[0] for r in table["data"]} >= {"神经网络", "和昨天一样", "历史平均"}
        assert {r[2] for r in frames(outputs, 2)[-1]["data"]} == {"实际值", "预测值（网络）"}
        with pytest.raises(AppError, match="有一项设置不是数字"):
            zh.predict(*LESSON, "nn", 128, "sigmoid", "adam", 0.001, "lots", 5, "mse", api_name="/weather_train")
        with pytest.raises(AppError, match="请先上传一个 CSV 文件"):
            zh.predict("csv", None, [], False, "random", *SHORT, api_name="/weather_train")
        path = tmp_path / "one.csv"
        path.write_text("a\n" + "1\n" * 50)
        with pytest.raises(AppError, match="文件只有一列"):
            zh.predict(handle_file(str(path)), api_name="/weather_csv")
        info, _, features = zh.predict(handle_file(student_csv(tmp_path / "houses.csv")), api_name="/weather_csv")
        assert "120 行，4 列" in info and "不能用作特征：owner（它有 120 种不同的文本" in info
        assert ["town（文本，2 种值：独热编码）", "town"] in features["choices"]
    finally:
        zh.close()
