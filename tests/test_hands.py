"""The digits in many hands (cnnlab.core.hands): every style is drawn, the test set is fixed, and
no drawing the digit recipe trains on is one the shipped model is scored on."""
from __future__ import annotations

import numpy as np
import torch
from scipy import ndimage

from cnnlab.core import hands


def test_every_style_of_every_digit_is_drawn_in_the_test_set():
    _, labels, styles = hands.test_set()
    assert len(labels) == 10 * hands.TEST_PER_DIGIT
    assert torch.bincount(labels).tolist() == [hands.TEST_PER_DIGIT] * 10
    wanted = {style.__name__ for kinds in hands.STYLES.values() for style in kinds}
    assert set(styles) == wanted, f"styles never drawn: {wanted - set(styles)}"


def test_the_test_set_is_the_same_every_time():
    a, la, _ = hands.test_set(3)
    b, lb, _ = hands.test_set(3)
    assert torch.equal(a, b) and torch.equal(la, lb)


def test_training_drawings_are_never_test_drawings():
    test, _, _ = hands.test_set(20)
    train, labels = hands.training_pool(20)
    assert len(labels) == 200
    same = (test.flatten(1)[:, None, :] == train.flatten(1)[None, :, :]).all(-1)
    assert not same.any(), "a training drawing equals a test drawing"


def test_pens_run_from_thin_to_very_thick_and_digits_sit_anywhere():
    widths, centres = [], []
    for seed in range(40):
        image, _ = hands.drawing(8, seed)
        ink = np.asarray(image) < 128
        ys, xs = np.nonzero(ink)
        centres.append((xs.mean(), ys.mean()))
        widths.append(2 * ndimage.distance_transform_edt(ink).max())      # the pen, about
    assert min(widths) <= 12 and max(widths) >= 40
    xs = [c[0] for c in centres]
    assert max(xs) - min(xs) > hands.CANVAS / 3, "digits drawn off-centre too"


def test_drawings_go_through_the_apps_preprocessing():
    seen, _, _ = hands.test_set(1)
    assert seen.dtype == torch.uint8 and seen.shape == (10, 1, 28, 28)
    assert (seen.flatten(1).max(1).values == 255).all(), "every drawing has ink, scaled like MNIST"
