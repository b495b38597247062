"""The Train tab and the Class board in Chinese and English: the shared run's live status, the
answers and refusals of the job, and the board's errors come back in the reader's language (each
viewer's own handler renders the one shared status), and the words that carry a limit name it."""
from __future__ import annotations

import re

import pytest
from gradio_client.exceptions import AppError

from cnnlab.config import TrainConfig
from cnnlab.core.nets import builder
from cnnlab.core.nets.models import MODELS
from cnnlab.core.optimizers import NAMES as OPTIMIZERS
from cnnlab.core.training import TrainEvent
from cnnlab.i18n import catalog, tr
from cnnlab.lessons.board.drawings import NICKNAME_MAX
from cnnlab.server.runstate import Grid, progress_line
from cnnlab.ui.board import MIX_DIGITS

ZH = {"Accept-Language": "zh-CN,zh;q=0.9"}
LATIN_WORD = re.compile(r"[A-Za-z]{3,}")
# Latin words a Chinese sentence keeps: names (t-SNE), code, every model's and optimizer's identifier and
# file names. The shared status is whatever another test left on the shared job: a finished run
# names its model ("mlp"), an uploaded checkpoint its file ("mnist-mlp.pt").
PROPER = {"MNIST", "Fashion", "PyTorch", "ONNX", "SNE", *LATIN_WORD.findall(" ".join([*MODELS, *OPTIMIZERS]))}
FILE_NAME = re.compile(r"[\w.-]+\.(?:pt|onnx|py|csv|zip|png|gif)\b")


def english_left(text: str) -> list[str]:
    return [w for w in LATIN_WORD.findall(FILE_NAME.sub(" ", text)) if w not in PROPER]


class FakeRequest:
    def __init__(self, accept=None):
        self.cookies = {}
        self.headers = {"accept-language": accept} if accept else {}


def test_the_words_that_name_a_limit_name_the_limit_in_every_language():
    for strings in catalog().values():
        intro = strings["builder.intro"]
        for limit in (builder.MAX_LAYERS, builder.MAX_CHANNELS, builder.MAX_UNITS):
            assert str(limit) in intro
        assert f"{builder.MAX_PARAMS:,}" in intro and f"{builder.MAX_MACS:,}" in intro
        assert str(NICKNAME_MAX) in strings["board.nickname_placeholder"]
        assert str(MIX_DIGITS) in strings["board.ft_mix"]


def test_the_live_status_line_is_said_in_chinese():
    grid = Grid(images=None, labels=[1, 2, 3, 4], classes=tuple("0123456789"), predictions=[1, 2, 0, 4])
    ev = TrainEvent("step", step=120, total_steps=469, epoch=0.51, images_per_s=850, val_acc=0.934)
    line = progress_line(tr("en", "jobs.title", model="cnn", dataset=tr("en", "datasets.mnist"), optimizer="adam"),
                         ev, TrainConfig(epochs=2), eta=12.0, grid=grid)
    assert str(line).startswith("Training cnn on MNIST digits with adam · epoch 0.51/2 · step 120/469")
    zh = progress_line(tr("zh", "jobs.title", model="cnn", dataset=tr("zh", "datasets.mnist"), optimizer="adam"),
                       ev, TrainConfig(epochs=2), eta=12.0, grid=grid).in_("zh")
    assert "周期 0.51/2" in zh and "验证集准确率 93.4%" in zh and "3/4 张图片判断正确" in zh and "还剩 12 秒" in zh
    assert not english_left(zh), zh


def status_refresh(demo):
    """The Train tab's own tick handler (every viewer's page calls it) and the status component."""
    for fn in demo.fns.values():
        ids = [getattr(block, "elem_id", None) for block in fn.outputs]
        if getattr(fn.fn, "__name__", "") == "refresh" and "train-status" in ids:
            return fn.fn, fn.outputs[ids.index("train-status")], {i: b for i, b in zip(ids, fn.outputs)}
    raise AssertionError("the Train tab's refresh handler was not found")


def test_each_viewer_reads_the_shared_status_in_their_own_language(app_server):
    refresh, status, blocks = status_refresh(app_server[0])
    chinese = refresh({"version": -1}, FakeRequest("zh-CN,zh;q=0.9"))
    english = refresh({"version": -1}, FakeRequest("en-US"))
    job = app_server[0].ctx.job
    assert chinese[status] == job.state().status.in_("zh") and english[status] == str(job.state().status)
    assert chinese[status] != english[status] and not english_left(chinese[status]), chinese[status]
    loss = chinese[blocks["train-loss"]]
    assert loss.x_title == "周期" and loss.y_title == "损失" and loss.color_title == "曲线"
    if not job.state().grid:
        assert "开始训练后" in chinese[blocks["train-grid"]]


@pytest.fixture()
def zh_client(app_server):
    from gradio_client import Client
    c = Client(app_server[1], verbose=False, headers=ZH)
    yield c
    c.close()


# dataset, model, optimizer, lr, batch size, epochs, time budget, training images, augment, teacher key
SETTINGS = ["mnist", "cnn", "adam", 0.003, 30000, 1, 0, 1000, False, ""]


def test_a_refused_setting_comes_back_in_chinese(zh_client, client, idle_job):
    with pytest.raises(AppError, match="批大小必须在 1 到 1,024 之间；你填的是 30,000。"):
        zh_client.predict(*SETTINGS, api_name="/train_start")
    with pytest.raises(AppError, match="Batch size must be between 1 and 1,024; you asked for 30,000."):
        client.predict(*SETTINGS, api_name="/train_start")
    assert zh_client.predict("", api_name="/train_pause") == "现在没有正在进行的训练。"
    assert client.predict("", api_name="/train_pause") == "No run is going."
    status = zh_client.predict(api_name="/train_snapshot")["status"]
    assert status == idle_job.state().status.in_("zh") and not english_left(status), status


def test_the_builders_sentence_for_a_stack_that_cannot_work_is_chinese():
    from cnnlab.i18n import Refusal
    from cnnlab.ui.common import error
    from cnnlab.ui.train import make_config
    stack = [{"type": "dense", "units": 5}]
    with pytest.raises(Refusal) as refused:       # the handler's @refusing shows it in the page's language
        make_config("mnist", "custom", "adam", 0.003, 64, 1, 0, 1000, False, stack, lang="zh")
    assert "第 1 层（全连接）收到的输入是 1 x 28 x 28；全连接层需要一维向量" in error(refused.value, "zh").message
    assert "Layer 1 (dense) gets an image of 1 x 28 x 28" in error(refused.value, "en").message


def test_a_board_error_comes_back_in_chinese(zh_client, client):
    with pytest.raises(AppError, match="请先在画板上写一个数字，再点你想写的那个数字。"):
        zh_client.predict("4", "", api_name="/board_submit")
    with pytest.raises(AppError, match="Draw a digit on the canvas first"):
        client.predict("4", "", api_name="/board_submit")
    with pytest.raises(AppError, match="数字必须是 0 到 9 中的一个，而不是 12。"):
        zh_client.predict("12", "any", api_name="/board_cell")
    cell, info = zh_client.predict("any", "any", api_name="/board_cell")
    assert info.startswith("还没有画") or "幅画" in info, info
    assert zh_client.predict(api_name="/board_undo").endswith("你在这个看板上没有可以撤回的画。</div>")


@pytest.mark.browser
def test_a_chinese_phone_sees_the_train_and_board_tabs_in_chinese(browser, app_server):
    from conftest import open_tab
    context = browser.new_context(viewport={"width": 390, "height": 900}, locale="zh-CN")
    page = context.new_page()
    try:
        page.goto(app_server[1])
        open_tab(page, "训练")
        status = page.locator("#train-status")
        status.wait_for()
        page.wait_for_function("() => /[\\u4e00-\\u9fff]/.test(document.querySelector('#train-status').innerText)")
        assert not english_left(status.inner_text()), status.inner_text()
        assert page.get_by_text("批大小", exact=True).filter(visible=True).count() >= 1
        assert "16 张测试图片" in page.inner_text("#train-grid-legend")
        open_tab(page, "班级看板")
        page.wait_for_function("() => /还没有画|网络认对了/.test(document.querySelector('#board-header').innerText)")
    finally:
        context.close()
