"""Chinese and English: every word has both, the page and the server agree on the reader's
language, and Chinese plots draw every character."""
from __future__ import annotations

import io
import re
import string
import warnings
from pathlib import Path

import gradio as gr
import pytest
from gradio.components.api_component import Api

from cnnlab import i18n
from cnnlab.config import LimitError, check
from cnnlab.i18n import Text, catalog, class_name, tr
from cnnlab.server import gradio_compat
from cnnlab.ui.lang import lang_of, rendered

ROOT = Path(__file__).resolve().parents[1]
SOURCES = [*ROOT.glob("cnnlab/**/*.py"), ROOT / "app.py"]
KEY_USE = re.compile(r"""\b(?:T|Text|tr\(\s*\w+\s*,)\(?\s*["']([a-z_]+\.[\w.\-/ ]+)["']""")


def fields(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def test_every_language_has_every_key_with_the_same_fields():
    english = catalog()[i18n.DEFAULT]
    assert set(catalog()) >= {"en", "zh"}
    for code, strings in catalog().items():
        assert set(strings) == set(english), (code, sorted(set(english) ^ set(strings))[:20])
        for key, template in strings.items():
            assert fields(template) == fields(english[key]), (code, key)
            assert template.strip(), (code, key)


def test_every_key_the_code_uses_exists():
    used = {key for path in SOURCES for key in KEY_USE.findall(path.read_text(encoding="utf-8"))}
    assert len(used) > 50
    missing = sorted(key for key in used if key not in catalog()[i18n.DEFAULT])
    assert not missing, missing


def test_chinese_uses_the_course_terms_consistently():
    zh = catalog()["zh"]
    assert zh["limits.lr"] == "学习率" and zh["limits.batch_size"] == "批大小"
    assert zh["limits.optimizer"] == "优化器"
    glossary = (ROOT / "cnnlab" / "i18n" / "glossary.md").read_text(encoding="utf-8")
    for term in ("卷积", "池化", "损失", "准确率", "学习率", "优化器", "批大小", "特征图", "过拟合"):
        assert term in glossary
    # A glossary term is never translated two ways: "learning rate" is always 学习率.
    for english, chinese in (("learning rate", "学习率"), ("batch size", "批大小"), ("accuracy", "准确率")):
        for key, text in catalog()[i18n.DEFAULT].items():
            if english in re.sub(r"\{[^}]*\}", "", text).lower():
                assert chinese in zh[key], (key, zh[key])


def test_a_limit_is_refused_in_the_readers_language():
    with pytest.raises(LimitError) as err:
        check("batch_size", 30000)
    message = err.value.args[0]
    assert str(err.value) == "Batch size must be between 1 and 1,024; you asked for 30,000."
    assert message.in_("zh") == "批大小必须在 1 到 1,024 之间；你填的是 30,000。"


def test_text_fields_and_class_names():
    assert tr("en", "draw.sure", share=0.934) == "93% sure"
    assert tr("zh", "draw.sure", share=0.934) == "有 93% 的把握"
    nested = Text("limits.out_of_range", setting=Text("limits.lr"), range="x", asked="y")
    assert nested.in_("zh").startswith("学习率")
    assert class_name("zh", "Sneaker") == "运动鞋" and class_name("en", "Sneaker") == "Sneaker"
    assert class_name("zh", "7") == "7"
    assert i18n.normalise("zh-Hant-TW") == "zh" and i18n.normalise("fr-FR") == "en"


def test_every_class_and_data_set_has_a_name_in_each_language():
    """Each class of each data set (digits aside) has its own name in every language: two classes
    sharing a name would merge on the t-SNE map and in the Photo tab's answer."""
    from cnnlab.core.datasets import DATASETS
    for spec in DATASETS.values():
        assert tr("en", f"datasets.{spec.name}") == spec.title
        for code in catalog():
            assert spec.title_text.in_(code).strip(), (code, spec.name)
            names = [class_name(code, c) for c in spec.classes]
            assert len(set(names)) == len(names), (code, spec.name)
            if code != "en" and spec.name != "mnist":
                assert not set(names) & set(spec.classes), (code, spec.name, set(names) & set(spec.classes))
    assert class_name("zh", "bird of paradise") == "鹤望兰" and class_name("zh", "lotus") == "荷花"


class FakeRequest:
    def __init__(self, cookies=None, accept=None):
        self.cookies = cookies or {}
        self.headers = {"accept-language": accept} if accept else {}


@pytest.mark.parametrize(("cookies", "accept", "lang"), [
    ({}, "zh-CN,zh;q=0.9,en;q=0.8", "zh"),
    ({}, "en-US,en;q=0.9", "en"),
    ({}, "fr-FR,zh-TW;q=0.8", "zh"),            # the first language this app speaks
    ({}, None, "en"),
    ({"cnnlab-lang": "zh"}, "en-US", "zh"),       # the header's switch wins
    ({"cnnlab-lang": "en"}, "zh-CN", "en"),
])
def test_the_server_answers_in_the_language_of_the_browser(cookies, accept, lang):
    assert lang_of(FakeRequest(cookies, accept)) == lang
    assert lang_of(None) == "en"


def test_chinese_plot_text_has_every_glyph():
    from matplotlib.figure import Figure

    from cnnlab.core import plots

    confusion = plots.confusion_matrix_figure([[5, 1], [2, 7]], ["daisy", "rose"], lang="zh")
    titled = Figure()
    titled.add_subplot().set_title(tr("zh", "limits.lr") + " -0.5")
    with warnings.catch_warnings():
        warnings.simplefilter("error")                 # "Glyph ... missing from font(s)" is a warning
        for fig in (confusion, titled):
            fig.savefig(io.BytesIO(), format="png")
    assert "学习率" in titled.axes[0].get_title()


# --------------------------------------------------------------------------- the whole page
TEXT_PROPS = ("label", "info", "placeholder")
NOT_WORDS = re.compile(r"^[\W\d_]*$|^(cnnlab|t-SNE|MNIST|ONNX|CSV|PNG|GIF|PyTorch|x|y|SGD|Momentum|RMSprop|Adam)$")


def is_words(value) -> bool:
    return (isinstance(value, str) and not value.startswith("__i18n__")     # a T(...) key, as Gradio keeps it
            and not NOT_WORDS.match(value.strip()))


def untranslated(block) -> list[str]:
    """The plain-text words a reader would see on ``block`` that bypass the translations. Not
    counted: the language switch (each language named in itself) and model lists (checkpoint
    labels, made again in the reader's language by each tab's load/focus refresh)."""
    elem_id = getattr(block, "elem_id", None) or ""
    if elem_id == "language-switch" or isinstance(block, Api):      # gr.api's placeholder is never shown
        return []
    found = []
    for prop in TEXT_PROPS:
        value = getattr(block, prop, None)
        if is_words(value):
            found.append(f"{prop}={value[:60]!r}")
    if isinstance(block, (gr.Markdown, gr.Button, gr.DownloadButton, gr.UploadButton)):
        value = getattr(block, "value", None)
        if is_words(value):
            found.append(f"value={value[:60]!r}")
    if "model" in elem_id and isinstance(block, gr.Dropdown):
        return found
    for choice in getattr(block, "choices", None) or ():
        shown = choice[0] if isinstance(choice, (tuple, list)) else choice
        if is_words(shown):
            found.append(f"choice={shown[:40]!r}")
    return found


@pytest.fixture(scope="module")
def whole_page(tmp_path_factory, data_root):
    import app
    from cnnlab.config import AppConfig
    config = AppConfig(data_dir=str(data_root), checkpoint_dir=str(ROOT / "checkpoints"),
                       runs_dir=str(tmp_path_factory.mktemp("runs")))
    return app.build_demo(config)




def test_no_word_on_the_page_lacks_a_translation(whole_page):
    from cnnlab.ui import tabs
    by_tab: dict[str, list[str]] = {}
    current = "header"
    for block in whole_page.blocks.values():
        if isinstance(block, gr.Tab):
            current = block.id
            assert gradio_compat.is_i18n(block.label), block.id
            assert rendered(block.label, "zh") != rendered(block.label, "en") or block.id == "tsne"
            continue
        if getattr(block, "visible", True) is False and not isinstance(block, gr.Markdown):
            continue
        by_tab.setdefault(current, []).extend(f"{type(block).__name__} {w}" for w in untranslated(block))
    assert {t.id for t in tabs.TABS} <= set(by_tab) | {t.id for t in tabs.TABS}
    problems = {tab: words for tab, words in by_tab.items() if words}       # every tab, and the header
    assert not problems, problems
