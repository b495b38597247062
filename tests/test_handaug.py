"""The digits recipe's data (issue 19.3): MNIST redrawn the ways students draw stays a digit in
MNIST's frame, and the non-digit drawings come through the page's own preprocessing."""
from __future__ import annotations

import pytest
import torch
from scipy import ndimage

from cnnlab.core import handaug
from cnnlab.core.preprocess import FRAME, MASS_CENTRE

pytestmark = pytest.mark.usefixtures("one_thread")


def strokes(n: int = 8) -> torch.Tensor:
    """Simple digit-like pictures: a bar somewhere, of some size, off-centre."""
    ink = torch.zeros(n, 1, 28, 28)
    for k in range(n):
        top, left = 2 + k, 3 + 2 * k
        ink[k, 0, top:top + 6 + k, left:left + 2] = 1.0
        ink[k, 0, top, left:left + 5] = 1.0
    return ink


def test_refit_puts_the_ink_where_the_page_puts_a_drawing():
    out = handaug.refit(strokes())
    for picture in out[:, 0].numpy():
        ys, xs = (picture > 0.3).nonzero()
        assert max(ys.max() - ys.min(), xs.max() - xs.min()) + 1 in (19, 20, 21)   # longest side 20 px
        cy, cx = ndimage.center_of_mass(picture)
        assert abs(cy + 0.5 - MASS_CENTRE) < 1.0 and abs(cx + 0.5 - MASS_CENTRE) < 1.0


def test_augment_changes_the_drawing_but_keeps_it_a_drawing():
    ink = handaug.refit(strokes())
    g = torch.Generator().manual_seed(0)
    out = handaug.augment(ink, g)
    assert out.shape == ink.shape and 0 <= out.min() and out.max() <= 1
    assert (out - ink).abs().mean() > 0.01                    # it did redraw them
    assert (out.flatten(1).amax(1) > 0.9).all()               # and no digit vanished
    again = handaug.augment(ink, torch.Generator().manual_seed(0))
    assert torch.equal(out, again)                            # seeded: the same run twice


def test_outlier_pool_is_made_like_the_page_sees_drawings():
    mnist = torch.zeros(4, 1, 28, 28, dtype=torch.uint8)
    mnist[:, :, 6:22, 12:16] = 255
    pool = handaug.outlier_pool(8, seed=1, mnist=mnist)
    assert pool.shape == (8, 1, FRAME, FRAME) and pool.dtype == torch.uint8
    assert (pool.flatten(1).amax(1) == 255).all()             # stretched to full ink, as the page does
