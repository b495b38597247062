"""One colour language (issue 32): a positive number is blue and a negative one orange in every
tab, in both colour-blind-safe palettes the app uses, and the page's legend says so once."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from cnnlab.core.preprocess import Prepared
from cnnlab.core.saliency import overlay
from cnnlab.lessons.inside import pictures

I18N = Path(__file__).resolve().parents[1] / "cnnlab" / "i18n"


def is_blue(rgb) -> bool:
    r, _, b = (float(v) for v in rgb[:3])
    return b > r + 60


def is_orange(rgb) -> bool:
    r, _, b = (float(v) for v in rgb[:3])
    return r > b + 60


def test_inside_draws_positive_numbers_blue_and_negative_ones_orange():
    assert is_blue(pictures.PALETTE[-1]) and is_orange(pictures.PALETTE[0])
    assert min(pictures.PALETTE[pictures.ZERO]) > 230                     # zero is white


def test_saliency_marks_what_pushed_toward_the_answer_blue():
    paper = np.full((28, 28), 255, np.uint8)
    sal = np.zeros((28, 28), np.float32)
    sal[10:18, 10:18] = 1.0                                                 # a positive push
    shown = overlay(paper, sal, Prepared(tensor=None, seen=paper))
    assert is_blue(shown[14, 14]) and min(shown[0, 0]) == 255


def test_the_legend_says_it_in_both_languages():
    for lang, blue, orange in (("en", "blue", "orange"), ("zh", "蓝色", "橙色")):
        signs = json.loads((I18N / f"{lang}.json").read_text(encoding="utf-8"))["legend"]["signs"]
        assert signs.index(blue) < signs.index(orange), signs
