"""Compare runs and the hyperparameter grid in Chinese and English (issue 18): a Chinese reader
gets the grid's refusals, the compare table's headers, the grid's states, the overlay plot and
the TensorBoard switch's answer in Chinese; an English reader keeps the English."""
from __future__ import annotations

import io
import re
import warnings

import pytest
from chinese import chinese_client
from gradio_client.exceptions import AppError

from cnnlab.config import LIMITS, LimitError, TrainConfig
from cnnlab.core import sweep
from cnnlab.i18n import catalog
from cnnlab.server.runs import MAX_RUNS, RunRecord, overlay_figure
from cnnlab.ui.runs import grid_frame, runs_frame

TOO_BIG = dict(dataset="mnist", epochs=1, train_size=1000, learning_rates="0.1 0.01 0.001 0.0001",
               batch_sizes="32, 64", optimizers=["sgd", "adam"], models=["mlp"], seconds=60)


def record(run_id, lr, accuracy):
    return RunRecord(id=run_id, finished="10:00:00", settings={"model": "cnn", "optimizer": "adam", "lr": lr,
                                                                "batch_size": 128, "train_size": None},
                     test_accuracy=accuracy, seconds=12.3, parameters=1234, checkpoint_bytes=4096,
                     loss=((0.5, 1.0, "train loss"), (1.0, 0.5, "train loss")),
                     accuracy=((0.5, 0.8, "validation accuracy"), (1.0, 0.9, "validation accuracy")))


@pytest.mark.parametrize("lrs, optimizers, english, chinese", [
    ("0.1 0.01 0.001 0.0001", ["sgd", "adam"],
     "16 configurations (4 x 2 x 2 x 1) is more than the 12 a grid may have; shorten a list.",
     "16 种配置（4 x 2 x 2 x 1）超过了一个网格最多允许的 12 种；请缩短某个列表。"),
    ("0.001, fast", ["adam"], "Learning rate must be numbers separated by commas, like 0.001, 0.003; "
     "you sent '0.001, fast'.", "学习率必须是用逗号分隔的数字，例如 0.001, 0.003；你填的是 '0.001, fast'。"),
    ("0.001", [], "The grid needs at least one optimizer.", "超参数网格至少需要一个优化器。"),
])
def test_a_grid_that_does_not_fit_is_refused_in_the_readers_language(lrs, optimizers, english, chinese):
    with pytest.raises(LimitError) as err:
        sweep.plan(TrainConfig(), lrs, "32, 64", optimizers, ["mlp"], 60)
    assert str(err.value) == english
    assert err.value.args[0].in_("zh") == chinese


def test_the_compare_table_and_the_grid_table_speak_the_readers_language():
    runs = [record(1, 0.003, 0.91), record(2, 0.0001, 0.42)]
    zh = runs_frame(runs, "zh")
    assert list(zh.columns) == ["训练编号", "完成时间", "网格", "模型", "优化器", "学习率", "批大小", "周期数（epoch）",
                                "训练图片数", "测试准确率", "用时（秒）", "参数量", "大小（KB）"]
    assert zh.iloc[0]["训练编号"] == 2 and zh.iloc[0]["训练图片数"] == "全部" and zh.iloc[1]["测试准确率"] == "91.00%"
    en = runs_frame(runs)
    assert "test accuracy" in en.columns and en.iloc[0]["training pictures"] == "all"
    p = sweep.plan(TrainConfig(train_size=1000, epochs=1), "0.003, 0.001", "128", ["adam"], ["mlp"], 60)
    table = sweep.rows(p)
    table = ({**table[0], "state": "done", "test_accuracy": 0.9}, table[1])
    grid = grid_frame(table, "zh")
    assert list(grid.columns)[:6] == ["#", "模型", "优化器", "学习率", "批大小", "状态"]
    assert list(grid["状态"]) == ["完成", "等待中"] and grid.iloc[0]["测试准确率"] == "90.00%"
    assert list(grid_frame(table)["state"]) == ["done", "waiting"]


def test_the_overlay_plot_is_drawn_in_chinese_with_every_glyph():
    runs = [record(1, 0.003, 0.91), record(2, 0.0001, 0.42)]
    fig = overlay_figure(runs, lang="zh")
    loss_ax, acc_ax = fig.axes
    assert loss_ax.get_title() == "训练损失（越低越好）" and acc_ax.get_title() == "验证集准确率（越高越好）"
    assert loss_ax.get_xlabel() == "周期" and acc_ax.get_ylabel() == "准确率"
    assert [t.get_text() for t in fig.legends[0].get_texts()] == ["#1 cnn · adam 0.003 · 批大小 128",
                                                                  "#2 cnn · adam 0.0001 · 批大小 128"]
    assert runs[0].label == "#1 cnn · adam 0.003 · batch 128"            # pickers, tests and the CSV: English
    with warnings.catch_warnings():
        warnings.simplefilter("error")                 # "Glyph ... missing from font(s)" is a warning
        fig.savefig(io.BytesIO(), format="png")
        overlay_figure([], lang="zh").savefig(io.BytesIO(), format="png")


def test_the_intros_name_the_limits_they_state():
    for code in ("en", "zh"):
        assert re.search(rf"\b{MAX_RUNS}\b", catalog()[code]["runs.intro"]), code
        assert re.search(rf"\b{int(LIMITS['grid_configs'].high)}\b", catalog()[code]["runs.grid_intro"]), code


def test_a_chinese_browser_is_refused_in_chinese_and_nothing_starts(app_server, client, idle_job):
    before = client.predict(api_name="/train_snapshot")["run_id"]
    with chinese_client(app_server[1]) as zh:
        with pytest.raises(AppError) as err:
            zh.predict(**TOO_BIG, api_name="/train_grid")
        assert "16 种配置（4 x 2 x 2 x 1）超过了一个网格最多允许的 12 种" in str(err.value)
        with pytest.raises(AppError, match="批大小必须在 1 到 1,024 之间"):
            zh.predict(**{**TOO_BIG, "learning_rates": "0.001", "batch_sizes": "4096"}, api_name="/train_grid")
        message, on = zh.predict(on=True, api_name="/train_tensorboard")
        assert on is True and message.startswith("从下一次训练起") and "tensorboard --logdir" in message
        message, on = zh.predict(on=False, api_name="/train_tensorboard")
        assert on is False and message == "从下一次训练起不再写 TensorBoard 日志。"
    with pytest.raises(AppError, match="16 configurations"):
        client.predict(**TOO_BIG, api_name="/train_grid")
    assert client.predict(api_name="/train_snapshot")["run_id"] == before
