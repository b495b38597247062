"""The Own classes tab in Chinese and English (issue 18): a Chinese reader gets the tab's answers,
status and errors in Chinese, an English one in English, and the class names the students typed
stay exactly as typed in both (a class called "rose" is never shown as 玫瑰)."""
from __future__ import annotations

import io
import warnings

import pytest
from conftest import served
from gradio_client import Client, handle_file
from gradio_client.exceptions import AppError

from cnnlab.config import LIMITS
from cnnlab.core import datasets, plots
from cnnlab.i18n import catalog
from cnnlab.lessons.own.data import OwnClass, OwnDataError
from cnnlab.lessons.own.model import check_ready
from cnnlab.ui.own_views import verdict

FLOWERS = datasets.get_spec("flowers5").folder     # the flower photos' folder under the data root

KEY = "sesame"
ZH = {"Accept-Language": "zh-CN,zh;q=0.9,en;q=0.8"}


def test_too_few_pictures_says_the_count_needed_in_each_language(tmp_path):
    snapshot = [(OwnClass("c1", "rose"), [tmp_path / f"r{i}.jpg" for i in range(3)]),
                (OwnClass("c2", "tulip"), [tmp_path / f"t{i}.jpg" for i in range(5)])]
    with pytest.raises(OwnDataError) as refused:
        check_ready(snapshot)
    problem = refused.value
    assert str(problem) == ("Every class needs at least 5 pictures to train; 'rose' has 3 (add 2 more). "
                            "Add more pictures, then click Train again.")
    assert problem.in_("zh") == ("每个类别至少需要 5 张图片才能训练；“rose”只有 3 张（还要再加 2 张）。"
                                 "请再添加一些图片，然后重新点击“训练”。")


def test_the_answer_speaks_the_readers_language_and_keeps_the_class_names():
    unsure = verdict({"rose": 0.5, "tulip": 0.4, "pen": 0.1}, "zh")
    assert unsure.startswith("## 我不太确定。") and "**rose**" in unsure and "rose、tulip、pen" in unsure
    assert "玫瑰" not in unsure and "郁金香" not in unsure
    sure = verdict({"rose": 0.9, "tulip": 0.1}, "zh")
    assert sure.startswith("## rose\n") and "我比较有把握：**90%**" in sure
    assert verdict({"rose": 0.9, "tulip": 0.1}).startswith("## rose\nI'm fairly sure: **90%**")


def test_the_confusion_matrix_keeps_the_students_class_names():
    fig = plots.confusion_matrix_figure([[3, 1], [0, 4]], ["rose", "tulip"], "留出的图片", lang="zh",
                                        translate_classes=False)
    assert [t.get_text() for t in fig.axes[0].get_yticklabels()] == ["rose", "tulip"]
    assert fig.axes[0].get_ylabel() == catalog()["zh"]["plots.true_class"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")                 # every Chinese character has a glyph
        fig.savefig(io.BytesIO(), format="png")


def test_the_intro_names_the_class_limits():
    span = f"{int(LIMITS['own_classes'].low)}-{int(LIMITS['own_classes'].high)} "
    assert span in catalog()["en"]["own.intro"] and span in catalog()["zh"]["own.intro"]


@pytest.fixture(scope="module")
def own_url(tmp_path_factory, flowers_root):
    from cnnlab.config import AppConfig
    config = AppConfig(data_dir=str(flowers_root), runs_dir=str(tmp_path_factory.mktemp("own-zh")), tabs="own",
                       teacher_key=KEY)
    with served(config) as (_, url):
        yield url


def test_an_app_of_one_tab_sends_its_title_in_the_readers_language(tmp_path, flowers_root):
    """The page's load event that names the tabs (cnnlab.ui.tabs) also works with a single tab:
    it used to fail on every page load of such an app."""
    import httpx

    import app
    from cnnlab.config import AppConfig
    demo = app.build_demo(AppConfig(data_dir=str(flowers_root), runs_dir=str(tmp_path), tabs="own"))
    fn = next(i for i, f in demo.fns.items() if getattr(f.fn, "__name__", "") == "titles")
    kwargs = app.launch_kwargs(AppConfig(data_dir=str(flowers_root), runs_dir=str(tmp_path), tabs="own"))
    kwargs.update(server_port=None, prevent_thread_lock=True, quiet=True)
    _, url, _ = demo.launch(**kwargs)
    try:
        r = httpx.post(f"{url}gradio_api/run/predict", headers=ZH, timeout=30,
                       json={"data": [], "fn_index": fn, "session_hash": "one-tab"})
        assert r.status_code == 200, r.text
        assert r.json()["data"][0]["label"] == "自定义类别"
    finally:
        demo.close()


def photos(root, name, n):
    return [handle_file(str(p)) for p in sorted((root / FLOWERS / "train" / name).glob("*.jpg"))[:n]]


@pytest.mark.slow
def test_a_chinese_browser_gets_the_tabs_answers_and_errors_in_chinese(own_url, flowers_root):
    zh = Client(own_url, verbose=False, headers=ZH)
    en = Client(own_url, verbose=False)
    with pytest.raises(AppError, match="这需要教师密钥"):
        zh.predict(name="rose", api_name="/own_create")
    notice = zh.predict(name="rose", teacher_key=KEY, api_name="/own_create")[0]
    assert notice == "已添加类别“rose”，它已开放收集图片。"                 # the name as typed, not 玫瑰
    zh.predict(name="tulip", teacher_key=KEY, api_name="/own_create")
    ids = {c["name"]: c["id"] for c in zh.predict(api_name="/own_status")["classes"]}
    added = zh.predict(files=photos(flowers_root, "rose", 3), class_id=ids["rose"], api_name="/own_add_files")[0]
    assert added == "已向“rose”添加 3 张图片。"
    again = zh.predict(files=photos(flowers_root, "rose", 3), class_id=ids["rose"], api_name="/own_add_files")[0]
    assert again == "没有添加任何图片。其中 3 张已经有了。"
    en.predict(files=photos(flowers_root, "tulip", 5), class_id=ids["tulip"], api_name="/own_add_files")

    with pytest.raises(AppError, match=r"“rose”只有 3 张（还要再加 2 张）"):
        zh.predict(epochs=5, teacher_key=KEY, api_name="/own_train")
    with pytest.raises(AppError, match=r"'rose' has 3 \(add 2 more\)"):
        en.predict(epochs=5, teacher_key=KEY, api_name="/own_train")

    zh.predict(class_id=ids["tulip"], teacher_key=KEY, api_name="/own_close")
    with pytest.raises(AppError, match="类别“tulip”没有开放收集图片。请让老师开放它。"):
        zh.predict(files=photos(flowers_root, "tulip", 1), class_id=ids["tulip"], api_name="/own_add_files")
    text, probs = zh.predict(photo=photos(flowers_root, "rose", 1)[0], api_name="/own_test")
    assert text.startswith("### 还没有模型") and not probs
    with pytest.raises(AppError, match="请先训练模型"):
        zh.predict(teacher_key=KEY, api_name="/own_export_model")
    zh.close()
    en.close()
