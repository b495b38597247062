"""The lesson's finished runs (cnnlab.server.runs) and the hyperparameter grid (cnnlab.core.sweep): every
finished run of the shared job is kept with its curves and checkpoint, the index survives a
restart and a damaged file, stays bounded; a grid is checked before it trains, runs its
configurations one after the other as one shared run, fills its table, and Stop ends it."""
from __future__ import annotations

import csv
import io
import json

import pytest
from rungate import RunGate

from cnnlab.config import LIMITS, LimitError, TrainConfig
from cnnlab.core import checkpoints, sweep
from cnnlab.i18n import TeacherOnly
from cnnlab.server.classroom import TeacherKey
from cnnlab.server.jobs import TrainJob
from cnnlab.server.runs import RunIndex, RunRecord, RunRecorder, overlay_figure
from cnnlab.server.zoo import ModelZoo

QUICK = dict(train_size=1000, batch_size=128, lr=3e-3, epochs=1, val_size=500, eval_every_s=0.3)


def teacher_refusal(call) -> str:
    """The sentence of the TeacherOnly refusal that ``call()`` raises."""
    with pytest.raises(TeacherOnly) as refused:
        call()
    return str(refused.value)


def make_job(tmp_path, data_root, teacher_key=None):
    job = TrainJob(ModelZoo(tmp_path / "none"), tmp_path / "runs", data_root, teacher=TeacherKey(teacher_key))
    index = RunIndex(tmp_path / "runs" / "lesson")
    job.subscribe(RunRecorder(index, job))
    return job, index


def record(**kw) -> RunRecord:
    settings = {"dataset": "mnist", "model": "mlp", "optimizer": "adam", "lr": 0.003, "batch_size": 128}
    return RunRecord(id=0, finished="10:00:00", settings=settings, test_accuracy=0.9, seconds=3.0, **kw)


# ---------------------------------------------------------------------- the index on its own
def test_index_is_bounded_survives_a_restart_and_drops_the_oldest_checkpoint(tmp_path):
    ckpt = tmp_path / "model.pt"
    ckpt.write_bytes(b"x" * 1000)
    index = RunIndex(tmp_path / "lesson", max_runs=3)
    kept = [index.add(record(loss=((0.5, 1.0, "train loss"),)), ckpt) for _ in range(5)]
    assert [r.id for r in index.runs()] == [3, 4, 5]
    assert not (tmp_path / "lesson" / kept[0].checkpoint).exists()
    assert (tmp_path / "lesson" / kept[-1].checkpoint).stat().st_size == 1000
    assert index.runs()[-1].checkpoint_bytes == 1000
    again = RunIndex(tmp_path / "lesson", max_runs=3)              # the app restarted
    assert [r.id for r in again.runs()] == [3, 4, 5] and again.runs()[0].loss == ((0.5, 1.0, "train loss"),)
    assert again.add(record()).id == 6                             # ids go on, never reused
    assert not list((tmp_path / "lesson").glob("*.tmp"))           # the atomic writes left nothing behind


def test_checkpoints_over_the_disk_budget_go_oldest_first_and_their_rows_stay(tmp_path):
    ckpt = tmp_path / "model.pt"
    ckpt.write_bytes(b"x" * 1000)
    index = RunIndex(tmp_path / "lesson", max_runs=10, max_bytes=2500)
    for _ in range(4):
        index.add(record(), ckpt)
    assert [bool(r.checkpoint) for r in index.runs()] == [False, False, True, True]
    assert sorted(p.name for p in (tmp_path / "lesson").glob("*.pt")) == ["run-3.pt", "run-4.pt"]
    assert len(index.runs()) == 4 and index.runs()[0].checkpoint_bytes == 1000


def test_a_damaged_index_is_set_aside_and_the_lesson_starts_empty(tmp_path):
    folder = tmp_path / "lesson"
    folder.mkdir()
    (folder / "index.json").write_text('{"runs": [{"id": 1, "sett')
    index = RunIndex(folder)
    assert index.runs() == ()
    assert (folder / "index.json.bad").is_file()
    index.add(record())
    assert json.loads((folder / "index.json").read_text())["runs"][0]["id"] == 1


def test_csv_has_a_header_and_one_row_per_run(tmp_path):
    index = RunIndex(tmp_path / "lesson")
    index.add(record())
    index.add(record(group="grid 2"))
    rows = list(csv.DictReader(io.StringIO(index.csv())))
    assert [r["run"] for r in rows] == ["1", "2"] and rows[1]["group"] == "grid 2"
    assert rows[0]["test_accuracy"] == "0.9" and rows[0]["model"] == "mlp"


def test_overlay_draws_each_picked_run_in_its_own_colour_in_both_panels():
    a = record(loss=((0.5, 1.0, "train loss"), (1.0, 0.5, "train loss"), (1.0, 0.6, "validation loss")),
               accuracy=((1.0, 0.8, "validation accuracy"),))
    b = RunRecord(**{**a.__dict__, "id": 2, "settings": {**a.settings, "lr": 0.1}})
    fig = overlay_figure([a, b])
    loss_ax, acc_ax = fig.axes
    assert [line.get_label() for line in loss_ax.lines] == [a.label, b.label]
    assert [len(line.get_xdata()) for line in loss_ax.lines] == [2, 2]      # train loss only
    assert [line.get_color() for line in acc_ax.lines] == [line.get_color() for line in loss_ax.lines]
    assert len({line.get_color() for line in acc_ax.lines}) == 2
    assert [t.get_text() for t in fig.legends[0].get_texts()] == [a.label, b.label]
    assert not overlay_figure([]).axes[0].lines


# ---------------------------------------------------------------------- the job keeps its runs
@pytest.mark.slow
def test_every_finished_run_is_kept_with_curves_and_checkpoint(tmp_path, data_root):
    job, index = make_job(tmp_path, data_root)
    for model in ("mlp", "cnn"):
        assert "started" in str(job.start(TrainConfig(model=model, **QUICK)))
        assert job.wait(600)
    runs = index.runs()
    assert [r.settings["model"] for r in runs] == ["mlp", "cnn"]
    for r, snap_acc in zip(runs, (None, job.state().results["test_accuracy"])):
        assert r.test_images == 10_000 and 0.5 < r.test_accuracy <= 1
        assert r.parameters > 1000 and r.seconds > 0 and r.steps == 8
        assert {s for _, _, s in r.loss} == {"train loss", "validation loss"} and r.accuracy
        loaded = checkpoints.load(index.checkpoint_path(r))         # the run's own weights, kept
        assert loaded.model_name == r.settings["model"]
        assert loaded.metrics["test_accuracy"] == r.test_accuracy
        if snap_acc is not None:
            assert r.test_accuracy == snap_acc
    assert runs[0].parameters != runs[1].parameters


# ---------------------------------------------------------------------- the grid is checked first
@pytest.mark.parametrize("lrs, batches, optimizers, models, seconds, words", [
    ("0.001, 0.01, 0.1", "32, 64", ["sgd", "adam"], ["mlp", "cnn"], 300, "24 configurations"),
    ("0.001, fast", "64", ["adam"], ["mlp"], 60, "numbers separated by commas"),
    ("0.001", "64", ["adam"], ["mlp"], 5000, "Grid time budget must be between 30 and 900"),
    ("50", "64", ["adam"], ["mlp"], 60, "Learning rate must be between"),
    ("0.001", "0", ["adam"], ["mlp"], 60, "Batch size must be between 1 and 1,024"),
    ("0.001", "64", [], ["mlp"], 60, "at least one optimizer"),
    ("0.001", "64", ["adam"], ["transfer"], 60, "Model must be one of"),
    ("0.001", "64", ["lion"], ["mlp"], 60, "Optimizer must be one of"),
])
def test_a_grid_that_does_not_fit_is_refused_with_a_sentence(lrs, batches, optimizers, models, seconds, words):
    with pytest.raises(LimitError, match=words):
        sweep.plan(TrainConfig(), lrs, batches, optimizers, models, seconds)


def test_grid_of_photos_is_refused():
    with pytest.raises(LimitError, match="MNIST or Fashion-MNIST"):
        sweep.plan(TrainConfig(dataset="flowers5", model="transfer"), "0.001", "32", ["adam"], ["transfer"], 60)


def test_grid_is_the_product_of_the_lists_with_the_time_shared():
    p = sweep.plan(TrainConfig(epochs=2), "0.001, 0.01", "64 128", ["sgd", "adam"], ["mlp"], 120)
    assert len(p.configs) == 8 <= LIMITS["grid_configs"].high
    assert [(c.lr, c.batch_size, c.optimizer) for c in p.configs[:3]] == [
        (0.001, 64, "sgd"), (0.001, 64, "adam"), (0.001, 128, "sgd")]
    assert all(c.time_budget_s == 15 and c.epochs == 2 for c in p.configs)
    assert p.parameters["mlp"] > 100_000


# ---------------------------------------------------------------------- the grid runs as one job
def test_grid_runs_each_configuration_fills_its_table_and_keeps_each_run(tmp_path, data_root):
    job, index = make_job(tmp_path, data_root, teacher_key="k")
    p = sweep.plan(TrainConfig(**QUICK), "0.003, 0.0001", "128", ["adam"], ["mlp"], 60)
    assert "teacher key" in teacher_refusal(lambda: job.start_sweep(p, "wrong"))
    seen = []
    job.subscribe(lambda ev, model, config: ev.kind == "start" and seen.append(job.state().sweep))
    assert "Hyperparameter grid" in str(job.start_sweep(p, "k"))
    assert job.wait(600)
    snap = job.state()
    assert snap.mode == "sweep" and snap.state == "finished"
    table = snap.sweep
    assert [r["state"] for r in table] == ["done", "done"]
    assert [r["state"] for r in seen[0]] == ["training", "waiting"]   # filled live: the 2nd waited
    assert [r["state"] for r in seen[1]] == ["done", "training"]
    assert table[0]["test_accuracy"] > table[1]["test_accuracy"]      # lr 1e-4 learns far less in 8 steps
    assert "best: configuration 1" in str(snap.status)
    assert snap.status.in_("zh").startswith("超参数网格已完成：2 种配置中训练了 2 种；最好的是第 1 种配置")
    runs = index.runs()
    assert [r.group for r in runs] == [f"grid {snap.sweep_id}"] * 2
    assert [r.test_accuracy for r in runs] == [r["test_accuracy"] for r in table]
    rows = list(csv.DictReader(io.StringIO(sweep.table_csv(table))))
    assert [float(r["lr"]) for r in rows] == [0.003, 0.0001] and rows[0]["state"] == "done"


def test_stop_ends_the_grid(tmp_path, data_root):
    job, index = make_job(tmp_path, data_root)
    p = sweep.plan(TrainConfig(**QUICK), "0.003", "128", ["sgd", "momentum", "adam"], ["mlp"], 90)
    with RunGate(job, hold=[3]) as gate:
        job.start_sweep(p)
        gate.wait_held()
        assert "Stopping" in str(job.stop())
        gate.release()
        assert job.wait(600)
    snap = job.state()
    assert snap.state == "stopped" and "grid stopped" in str(snap.status)
    assert snap.status.in_("zh").startswith("超参数网格已停止：3 种配置中训练了 1 种")
    assert [r["state"] for r in snap.sweep] == ["stopped", "skipped", "skipped"]
    assert len(index.runs()) == 1 and index.runs()[0].steps == 3   # held before batch 3, stopped there
