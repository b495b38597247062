"""A drawing becomes a digit the way MNIST's digits were made: whatever the student draws (off in a
corner, tiny, with a 1-px mouse line or a fat finger), the model gets a digit like MNIST's own."""
from __future__ import annotations

import io

import numpy as np
import pytest
from handwriting import DIGITS, render
from PIL import Image
from scipy import ndimage

from cnnlab.core import datasets
from cnnlab.core.preprocess import sketch_to_mnist


def ink_array(image: Image.Image) -> np.ndarray:
    return np.asarray(image)


def stroke_width_28(seen: np.ndarray) -> float:
    """Pen width of a 28x28 digit in pixels, measured the same way for MNIST and for ours:
    enlarge 10x (bilinear), take the half-bright outline, and read the depth of the strokes'
    centre lines (twice the distance from the centre line to the edge)."""
    big = np.asarray(Image.fromarray(seen).resize((280, 280), Image.BILINEAR)) > 127
    big = np.pad(big, 1)
    depth = ndimage.distance_transform_edt(big)
    ridge = big & (depth >= ndimage.maximum_filter(depth, size=3))
    return (2 * float(np.median(depth[ridge])) - 1) / 10


@pytest.fixture(scope="module")
def mnist_widths(data_root) -> tuple[float, float]:
    """The 10th and 90th percentile of MNIST's own stroke widths (500 test digits)."""
    images = datasets.load("mnist", "test", root=data_root).images[:500, 0].numpy()
    widths = [stroke_width_28(im) for im in images]
    return float(np.percentile(widths, 10)), float(np.percentile(widths, 90))


def ink_extent(seen: np.ndarray) -> tuple[int, int]:
    ys, xs = np.nonzero(seen > 30)
    return ys.max() - ys.min() + 1, xs.max() - xs.min() + 1


CASES = {
    "off-centre": dict(box=(0.02, 0.03, 0.36, 0.42)),                 # squeezed into the top left
    "small": dict(box=(0.62, 0.6, 0.74, 0.74), width=4),               # tiny, bottom right
    "thin": dict(width=1),                                             # a 1-px mouse line
    "wide and flat": dict(box=(0.05, 0.42, 0.95, 0.62)),               # longest side horizontal
}


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("digit", [1, 4, 7, 8])
def test_any_drawing_comes_out_centred_and_sized_like_mnist(case, digit):
    prepared = sketch_to_mnist(ink_array(render(DIGITS[digit], **CASES[case])))
    seen = prepared.seen
    assert seen.shape == (28, 28) and seen.dtype == np.uint8
    assert prepared.tensor.shape == (1, 1, 28, 28)
    cy, cx = ndimage.center_of_mass(seen.astype(np.float64))
    # Within a pixel of the frame's centre; in fact where MNIST puts it: whole-pixel shifts that
    # bring the centre of mass nearest to (14, 14) (MNIST's test set: 14.0 +- 0.3 px).
    assert abs(cy - 13.5) <= 1.0 and abs(cx - 13.5) <= 1.0, (cy, cx)
    assert abs(cy - 14.0) <= 0.5 + 1e-6 and abs(cx - 14.0) <= 0.5 + 1e-6, (cy, cx)
    assert max(ink_extent(seen)) in (19, 20, 21)                 # longest side fitted to 20 px
    assert seen.max() == 255 and seen[0].max() == seen[-1].max() == 0   # a border of black, as MNIST


@pytest.mark.parametrize("case", ["off-centre", "small", "thin"])
def test_where_and_how_big_it_is_drawn_does_not_matter(case):
    """The same 4 drawn in the middle, in a corner, tiny, or with a thin pen gives the model
    nearly the same picture."""
    reference = sketch_to_mnist(ink_array(render(DIGITS[4]))).seen.astype(np.float64)
    other = sketch_to_mnist(ink_array(render(DIGITS[4], **CASES[case]))).seen.astype(np.float64)
    assert np.corrcoef(reference.ravel(), other.ravel())[0, 1] > 0.85


@pytest.mark.parametrize("digit", [0, 2, 5, 7])
@pytest.mark.parametrize("pen", [1, 60])
def test_stroke_width_is_normalised_to_mnists(digit, pen, mnist_widths):
    """A 1-px line and a 60-px finger-paint both come out with MNIST's pen width; without the
    normalisation they would be far outside it (so the check can fail)."""
    low, high = mnist_widths
    drawing = ink_array(render(DIGITS[digit], width=pen))
    width = stroke_width_28(sketch_to_mnist(drawing).seen)
    assert low <= width <= high, f"pen {pen}px -> {width:.2f}px, MNIST's 10-90%: {low:.2f}-{high:.2f}"
    as_drawn = stroke_width_28(sketch_to_mnist(drawing, stroke_width=None).seen)
    assert not low <= as_drawn <= high


def lecun_oracle(drawing: Image.Image) -> np.ndarray:
    """MNIST's recipe written out plainly with PIL and numpy (LeCun, Cortes & Burges): the ink's
    bounding box, scaled with anti-aliasing so that its longest side is 20 px (aspect kept), then
    translated by whole pixels so that its centre of mass lands on MNIST's centre (14, 14) of a
    28x28 field; finally brightest ink = 255."""
    ink = 255 - np.asarray(drawing.convert("L"), dtype=np.int32)
    rows = np.flatnonzero((ink > 30).any(axis=1))
    cols = np.flatnonzero((ink > 30).any(axis=0))
    box = Image.fromarray(ink.astype(np.uint8)).crop((cols[0], rows[0], cols[-1] + 1, rows[-1] + 1))
    f = 20 / max(box.size)
    digit = np.asarray(box.resize((round(box.width * f), round(box.height * f)), Image.LANCZOS),
                       dtype=np.float64)
    yy, xx = np.indices(digit.shape)
    cy, cx = (yy * digit).sum() / digit.sum(), (xx * digit).sum() / digit.sum()
    top, left = int(np.floor(14 - cy + 0.5)), int(np.floor(14 - cx + 0.5))
    field = np.zeros((28, 28))
    field[top:top + digit.shape[0], left:left + digit.shape[1]] = digit
    return np.clip(field * 255 / field.max(), 0, 255).astype(np.uint8)


@pytest.mark.parametrize("digit", range(10))
def test_matches_an_explicit_mnist_pipeline(digit):
    """With the student's own pen (normalisation off) our pipeline is exactly MNIST's recipe; with
    it on, a drawing already at MNIST's pen width is hardly touched."""
    drawing = render(DIGITS[digit], width=22, box=(0.18, 0.1, 0.82, 0.9))
    expected = lecun_oracle(drawing).astype(np.int32)
    exact = sketch_to_mnist(ink_array(drawing), stroke_width=None).seen.astype(np.int32)
    assert np.abs(exact - expected).max() <= 1
    normalised = sketch_to_mnist(ink_array(drawing)).seen.astype(np.float64)
    assert np.corrcoef(normalised.ravel(), expected.ravel())[0, 1] > 0.95


def test_the_model_input_uses_the_checkpoints_normalisation():
    drawing = ink_array(render(DIGITS[3]))
    prepared = sketch_to_mnist(drawing, mean=(0.5,), std=(0.25,))
    expected = (prepared.seen.astype(np.float32) / 255 - 0.5) / 0.25
    assert np.allclose(prepared.tensor[0, 0].numpy(), expected, atol=1e-5)


@pytest.mark.parametrize("empty", [
    None,
    {"background": None, "layers": [], "composite": None},
    np.full((280, 280), 255, np.uint8),                                   # a blank white canvas
    np.full((280, 280), 240, np.uint8),                                   # grey paper, no ink
    {"background": None, "layers": [], "composite": np.full((280, 280), 255, np.uint8)},
    Image.new("RGBA", (280, 280), (0, 0, 0, 0)),                          # a fully transparent layer
])
def test_an_empty_canvas_gives_nothing_to_classify(empty):
    assert sketch_to_mnist(empty) is None


def test_a_transparent_layer_png_is_flattened_on_white_paper():
    """A drawing layer as browsers save it: black ink, everything else transparent black
    (0, 0, 0, 0). Read naively it would be all ink."""
    ink = render(DIGITS[5])
    alpha = Image.eval(ink, lambda v: 255 - v)                            # opaque where the ink is
    layer = Image.merge("RGBA", (Image.new("L", ink.size, 0),) * 3 + (alpha,))
    buffer = io.BytesIO()
    layer.save(buffer, format="PNG")
    png = Image.open(io.BytesIO(buffer.getvalue()))
    assert png.mode == "RGBA" and png.getpixel((0, 0)) == (0, 0, 0, 0)
    on_white = sketch_to_mnist(ink_array(ink)).seen.astype(np.int32)
    for value in (png, np.asarray(png), {"composite": np.asarray(png)}):
        flattened = sketch_to_mnist(value).seen.astype(np.int32)
        assert np.abs(flattened - on_white).max() <= 2


def test_the_seen_image_maps_back_onto_the_drawing():
    """Prepared.offset/scale/shift place the seen digit over the student's strokes (used to draw
    the saliency on the drawing): the ink's centre of mass lands on the seen one's."""
    drawing = ink_array(render(DIGITS[2], box=(0.1, 0.5, 0.45, 0.95), width=9))
    prepared = sketch_to_mnist(drawing)
    oy, ox = ndimage.center_of_mass(255.0 - drawing)
    sx = (ox + 0.5 - prepared.offset[0]) * prepared.scale + prepared.shift[0] - 0.5
    sy = (oy + 0.5 - prepared.offset[1]) * prepared.scale + prepared.shift[1] - 0.5
    cy, cx = ndimage.center_of_mass(prepared.seen.astype(np.float64))
    assert abs(sx - cx) < 1.0 and abs(sy - cy) < 1.0
