"""The glossary decides the words: ``cnnlab/i18n/glossary.md`` names, for each idea a student
meets, the one Chinese word the app uses (the course's word where it has one) and the words that
are ruled out in each language. These tests read that table, the single source, and hold every
string of ``zh.json`` and ``en.json`` to it (issue 32)."""
from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from cnnlab.i18n import catalog

ROOT = Path(__file__).resolve().parents[1]
GLOSSARY = ROOT / "cnnlab" / "i18n" / "glossary.md"
HEADER = "| English | 中文 (the app) | the course | never in zh.json | never in en.json | why / note |"

# The terms issue 32 lists (a student meets each), and the ones it names as said two ways.
REQUIRED = (
    "tensor", "convolution", "stride", "padding", "kernel", "feature map", "pooling", "dense layer", "unit",
    "activation", "softmax", "loss", "gradient descent", "optimizer", "learning rate", "learning-rate schedule",
    "batch size", "epoch", "hyperparameter", "sample", "training set", "validation set", "test set", "accuracy",
    "overfitting", "confusion matrix", "transfer learning", "pretrained model", "head", "normalisation", "picture",
    "neuron", "validation accuracy", "teacher", "tab", "flower model", "mean absolute error",
    "root mean squared error", "Huber loss", "Embedding Projector", "Coat", "Dress", "Pullover", "Ankle boot",
)
# Where English names one of these, the Chinese of the same key names it with the glossary's word.
PAIRED = ("stride", "epoch", "validation accuracy", "confusion matrix", "pretrained model", "neuron",
          "feature map", "learning-rate schedule", "output layer", "batch size", "learning rate")

TICKED = re.compile(r"`([^`]+)`")
FIELD = re.compile(r"\{[^{}]*\}")
BRACKETED = re.compile(r"^(?P<name>.+?)（(?P<latin>[A-Za-z][^）]*)）$")
KEY = re.compile(r"^[a-z_]+(\.[\w\-]+)+$")


@dataclass(frozen=True)
class Ruled:
    """A ruled-out word, and the longer words containing it that stay allowed."""
    word: str
    allowed: tuple[str, ...] = ()


@dataclass(frozen=True)
class Term:
    english: tuple[str, ...]        # the names in the English cell, without their (explanations)
    chinese: tuple[str, ...]        # the app's words, as the 中文 cell writes them
    course: str
    never_zh: tuple[Ruled, ...]
    never_en: tuple[Ruled, ...]
    note: str


def ruled(cell: str) -> tuple[Ruled, ...]:
    """'`轮` except `轮廓` `轮到`; `遍数`' -> (Ruled('轮', ('轮廓', '轮到')), Ruled('遍数'))."""
    found = []
    for part in cell.split(";"):
        words = TICKED.findall(part)
        if words:
            assert len(words) == 1 or "except" in part, f"glossary: write 'except' before allowed words: {part!r}"
            found.append(Ruled(words[0], tuple(words[1:])))
    return tuple(found)


def names(cell: str) -> tuple[str, ...]:
    plain = re.sub(r"\([^)]*\)", "", cell)
    return tuple(n.strip().strip('"') for n in plain.split(",") if n.strip())


def read_glossary(text: str) -> list[Term]:
    lines = text.splitlines()
    assert HEADER in lines, f"{GLOSSARY.name} has no table starting with {HEADER!r}"
    terms = []
    for line in lines[lines.index(HEADER) + 2:]:
        if not line.startswith("|"):
            break
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        assert len(cells) == 6, f"glossary row without 6 cells: {line!r}"
        english, chinese, course, never_zh, never_en, note = cells
        terms.append(Term(names(english), tuple(w.strip() for w in chinese.split(",") if w.strip()), course,
                          ruled(never_zh), ruled(never_en), note))
    return terms


@pytest.fixture(scope="module")
def terms() -> list[Term]:
    return read_glossary(GLOSSARY.read_text(encoding="utf-8"))


def plain(template: str) -> str:
    """A template with each {field} as {}: a field's name is no word of the page."""
    return FIELD.sub("{}", template)


def chinese_name(word: str) -> str:
    match = BRACKETED.match(word)
    return match["name"] if match else word


def zh_hits(text: str, rule: Ruled) -> bool:
    for allowed in rule.allowed:
        text = text.replace(allowed, "")
    return rule.word in text


def english_pattern(word: str) -> re.Pattern:
    return re.compile(r"(?<![\w'-])" + re.escape(word) + r"(?:s|es)?(?![\w-])", re.IGNORECASE)


def en_hits(text: str, rule: Ruled) -> bool:
    for allowed in rule.allowed:
        text = re.sub(re.escape(allowed), " ", text, flags=re.IGNORECASE)
    return bool(english_pattern(rule.word).search(text))


def term_named(terms: list[Term], name: str) -> Term:
    found = [t for t in terms if name in t.english]
    assert found, f"glossary.md has no row for {name!r}"
    return found[0]


def word_for(terms: list[Term], name: str) -> str:
    """The Chinese word of one English name: "overfitting, underfitting" = "过拟合, 欠拟合" pair up
    in order; a row with one Chinese word ("neuron, unit" = 神经元) gives it to every name."""
    term = term_named(terms, name)
    if len(term.chinese) == len(term.english):
        return term.chinese[term.english.index(name)]
    assert len(term.chinese) == 1, f"glossary: say which Chinese word is {name!r}'s: {term.chinese}"
    return term.chinese[0]


def test_the_glossary_has_every_term_a_student_meets(terms):
    zh = "\n".join(plain(v) for v in catalog()["zh"].values())
    words = {name: word_for(terms, name) for name in REQUIRED}
    unused = {name: word for name, word in words.items() if chinese_name(word) not in zh}
    assert not unused, f"the glossary's word for these terms is nowhere in zh.json: {unused}"


def test_the_glossary_names_only_keys_that_exist(terms):
    keys = set(catalog()["en"])
    named = {k for t in terms for k in TICKED.findall(t.note) if KEY.match(k) and "*" not in k}
    assert named and named <= keys, sorted(named - keys)


def test_the_glossary_never_rules_out_its_own_words(terms):
    clashes = [(word, rule.word) for t in terms for word in t.chinese for other in terms for rule in other.never_zh
               if zh_hits(word, rule)]
    assert not clashes, clashes


def test_no_chinese_string_uses_a_word_the_glossary_rules_out(terms):
    problems = [(key, rule.word) for key, text in catalog()["zh"].items() for t in terms for rule in t.never_zh
                if zh_hits(plain(text), rule)]
    assert not problems, "zh.json uses words glossary.md rules out (key, word): " + repr(problems)


def test_the_english_says_each_idea_with_one_word(terms):
    problems = [(key, rule.word) for key, text in catalog()["en"].items() for t in terms for rule in t.never_en
                if en_hits(plain(text), rule)]
    assert not problems, "en.json uses words glossary.md rules out (key, word): " + repr(problems)


def test_an_english_term_in_chinese_comes_after_its_chinese_name(terms):
    """平均绝对误差（MAE）, never a bare MAE: where zh.json writes the English of such a term, its
    Chinese name stands right before it (a label may add a measure word: 周期数（epoch）)."""
    bracketed = [BRACKETED.match(w) for t in terms for w in t.chinese]
    rules = [(m["name"], m["latin"]) for m in bracketed if m]
    assert len(rules) >= 8
    problems = []
    for key, text in catalog()["zh"].items():
        text = plain(text)
        for name, latin in rules:
            if re.search(rf"(?<![\w-]){re.escape(latin)}(?![\w-])", text) and \
                    not re.search(rf"{re.escape(name)}[\u4e00-\u9fff]{{0,2}}（{re.escape(latin)}", text):
                problems.append((key, latin, f"{name}（{latin}）"))
    assert not problems, "English without its Chinese name before it (key, English, say): " + repr(problems)


def test_where_english_names_a_term_the_chinese_uses_the_glossarys_word(terms):
    en, zh = catalog()["en"], catalog()["zh"]
    problems = []
    for name in PAIRED:
        word = chinese_name(word_for(terms, name))
        pattern = english_pattern(name)
        problems += [(key, name, word) for key, text in en.items()
                     if pattern.search(plain(text)) and word not in zh[key]]
    assert not problems, "(key, English term, missing Chinese word): " + repr(problems)


def test_each_model_has_one_name_in_every_list():
    for lang, strings in catalog().items():
        models = {k.removeprefix("models."): v for k, v in strings.items() if k.startswith("models.")}
        runs = {k.removeprefix("runs.models."): v for k, v in strings.items() if k.startswith("runs.models.")}
        assert models == runs, (lang, {k: (models.get(k), runs.get(k)) for k in models.keys() | runs.keys()
                                       if models.get(k) != runs.get(k)})


def test_a_ruled_out_word_is_caught():
    """The checks catch what they should (so a silent parser cannot pass them)."""
    step = Ruled("步幅")
    assert zh_hits("填充 1，步幅 2", step) and not zh_hits("填充 1，步长 2", step)
    unit = Ruled("单元", ("单元格",))
    assert not zh_hits("删除有空单元格的行", unit) and zh_hits("64 个单元", unit)
    image = Ruled("image", ("an image of",))
    assert en_hits(plain("on {images} test images"), image) and not en_hits("gets an image of 1 x 28 x 28", image)
    assert not en_hits("EfficientNet-Lite0 (ImageNet)", image)
    assert ruled("`轮` except `轮廓` `轮到`; `遍数`") == (Ruled("轮", ("轮廓", "轮到")), Ruled("遍数"))
