"""Digits as a class writes them: pen strokes in many hands, drawn by our own code.

MNIST was written by American census workers and students; a Chinese classroom writes 1s with a
flag and a foot, crosses its 7s, closes its 4s, makes small loops on its 9s, and draws with a
finger or a fat pen. Each digit here has several *styles* (a list of strokes in a unit box, x to
the right, y down, with random proportions), and every drawing gets a random slant, rotation,
width, wobble, size, place on the canvas and pen width from thin to very thick. It is rendered
as the page's canvas draws (a round black pen on a 280x280 white canvas), so the app's own
preprocessing (``preprocess.sketch_to_mnist``) makes what the network sees.

Two uses, kept apart by their seeds: ``test_set()`` is the fixed set the shipped digit model is
scored on (``tests/test_shipped.py``, ``bench/trust.py``); ``training_pool()`` draws other
drawings (seeds from ``TRAIN_SEED`` on) that the digit recipe mixes into its batches. No
drawing in one is in the other (a test checks).
"""
from __future__ import annotations

import math
import random
from collections.abc import Callable

import numpy as np
import torch
from PIL import Image, ImageDraw

CANVAS = 280                  # the Draw tab's canvas (cnnlab.ui.canvas.SIZE)
TEST_SEED = 2026              # the test set's drawings ...
TEST_PER_DIGIT = 60           # ... 600 in all
TRAIN_SEED = 1_000_000        # training drawings come from seeds at and above this one
PEN_RANGE = (5.0, 64.0)       # canvas pixels: a fine mouse line to a finger on a small phone
MAX_PEN_SHARE = 0.28          # ... but never wider than this share of the digit's height

Stroke = list[tuple[float, float]]


def _arc(cx, cy, rx, ry, start, end, n=24) -> Stroke:
    """Points on an ellipse from ``start`` to ``end`` degrees (0 = right, 90 = down)."""
    return [(cx + rx * math.cos(math.radians(a)), cy + ry * math.sin(math.radians(a)))
            for a in (start + (end - start) * i / n for i in range(n + 1))]


def _line(p, q, n=8) -> Stroke:
    return [(p[0] + (q[0] - p[0]) * i / n, p[1] + (q[1] - p[1]) * i / n) for i in range(n + 1)]


def _join(*parts: Stroke) -> Stroke:
    """Parts drawn in one go, the pen kept down."""
    out = list(parts[0])
    for part in parts[1:]:
        out += part[1:]
    return out


# ---------------------------------------------------------------------------- the styles
# Each style takes a random source (for its proportions) and returns strokes in the unit box.

def zero_oval(r):
    lean = r.uniform(-0.1, 0.1)
    return [[(x + lean * (0.5 - y), y) for x, y in
             _arc(0.5, 0.5, r.uniform(0.22, 0.36), 0.45, r.uniform(-100, -60), r.uniform(280, 320), 36)]]


def one_line(r):
    return [_line((r.uniform(0.5, 0.6), 0.05), (r.uniform(0.4, 0.5), 0.95))]


def one_flag(r):
    top = (r.uniform(0.52, 0.6), 0.05)
    return [_join(_line((r.uniform(0.2, 0.35), r.uniform(0.22, 0.35)), top, 4),
                  _line(top, (r.uniform(0.46, 0.56), 0.95)))]


def one_flag_foot(r):
    top, bottom = (r.uniform(0.52, 0.6), 0.05), (r.uniform(0.48, 0.56), 0.93)
    half = r.uniform(0.18, 0.3)
    return [_join(_line((r.uniform(0.22, 0.35), r.uniform(0.2, 0.33)), top, 4), _line(top, bottom)),
            _line((bottom[0] - half, 0.95), (bottom[0] + half, 0.95), 6)]


def two_hook(r):
    base = r.uniform(0.88, 0.95)
    return [_join(_arc(0.5, 0.3, 0.3, 0.25, 190, 370, 16)[:-2], _line((0.76, 0.4), (0.15, base)),
                  _line((0.15, base), (r.uniform(0.8, 0.92), base), 6))]


def two_curl(r):
    """A 2 whose diagonal ends in a small loop before the base."""
    return [_join(_arc(0.5, 0.3, 0.3, 0.25, 190, 370, 16)[:-2], _line((0.76, 0.4), (0.25, 0.85)),
                  _arc(0.25, 0.8, 0.1, 0.08, 90, 450, 12), _line((0.25, 0.88), (r.uniform(0.8, 0.92), 0.9), 6))]


def three_round(r):
    return [_join(_arc(0.45, 0.28, 0.3, 0.23, 200, 450, 18),
                  _arc(0.45, 0.72, r.uniform(0.3, 0.36), 0.23, -90, 150, 18))]


def three_flat(r):
    """A flat top, a diagonal to the middle, then the belly (the 'Z-topped' 3)."""
    return [_join(_line((0.2, 0.08), (0.8, 0.08), 6), _line((0.8, 0.08), (0.45, 0.45), 6),
                  _arc(0.47, 0.7, r.uniform(0.3, 0.36), 0.25, -95, 150, 18))]


def four_open(r):
    bar = r.uniform(0.52, 0.65)
    return [_join(_line((0.22, 0.05), (0.15, bar), 6), _line((0.15, bar), (0.9, bar - 0.03), 6)),
            _line((r.uniform(0.62, 0.72), 0.08), (0.66, 0.95), 8)]


def four_closed(r):
    bar = r.uniform(0.58, 0.7)
    stem = r.uniform(0.62, 0.72)
    return [_join(_line((stem, 0.05), (0.12, bar), 8), _line((0.12, bar), (0.9, bar), 6)),
            _line((stem, 0.05), (stem - 0.02, 0.95), 8)]


def five_flag(r):
    return [_join(_line((0.3, 0.08), (0.25, 0.45), 5), _arc(0.45, 0.67, r.uniform(0.28, 0.36), 0.25, -125, 150, 20)),
            _line((0.3, 0.08), (r.uniform(0.75, 0.9), 0.06), 6)]


def five_one_go(r):
    return [_join(_line((0.85, 0.06), (0.3, 0.08), 6), _line((0.3, 0.08), (0.25, 0.45), 5),
                  _arc(0.45, 0.67, r.uniform(0.28, 0.36), 0.25, -125, 150, 20))]


def six_curve(r):
    return [_join(_arc(0.7, 0.55, 0.5, 0.5, -100, -180, 10), _arc(0.5, 0.7, 0.3, r.uniform(0.2, 0.27), 180, 520, 24))]


def six_stem(r):
    small = r.uniform(0.18, 0.25)
    return [_join(_line((0.65, 0.05), (0.3, 1 - 2 * small - 0.05), 8),
                  _arc(0.5, 1 - small - 0.05, 0.22, small, 200, 560, 24))]


def seven_plain(r):
    return [_join(_line((0.12, 0.1), (0.88, 0.08), 6), _line((0.88, 0.08), (r.uniform(0.3, 0.5), 0.95), 10))]


def seven_crossed(r):
    return seven_plain(r) + [_line((0.35, r.uniform(0.45, 0.55)), (0.82, 0.5), 5)]


def seven_serif(r):
    """A 7 whose bar starts with a small hook down at the left."""
    return [_join(_line((0.12, 0.25), (0.14, 0.08), 3), _line((0.14, 0.08), (0.88, 0.08), 6),
                  _line((0.88, 0.08), (r.uniform(0.35, 0.5), 0.95), 10))]


def eight_one_go(r):
    top = r.uniform(0.7, 1.0)
    pts = []
    for i in range(49):
        t = 2 * math.pi * i / 48
        x = 0.5 + 0.55 * math.sin(t) * math.cos(t) * (top if math.cos(t) > 0 else 1.0)
        pts.append((x, 0.5 - 0.45 * math.cos(t)))
    return [pts]


def eight_two_rings(r):
    top = r.uniform(0.16, 0.22)
    return [_arc(0.5, top + 0.05, top * 1.1, top, -90, 270, 20),
            _arc(0.5, 0.72, 0.27, 0.95 - 0.72, -90, 270, 24)]


def nine_loop(r):
    return [_join(_arc(0.5, 0.3, 0.28, 0.24, 0, -360, 28), _line((0.78, 0.3), (r.uniform(0.6, 0.75), 0.95), 8))]


def nine_small_loop(r):
    """A small loop on a long stem: the 9 MNIST read as 3 or 5."""
    s = r.uniform(0.1, 0.16)
    return [_join(_arc(0.5, 0.05 + s, s * 1.3, s, 0, -360, 24), _line((0.5 + s * 1.3, 0.05 + s), (0.6, 0.95), 10))]


def nine_hooked(r):
    return [_join(_arc(0.5, 0.3, 0.28, 0.24, 0, -360, 28), _line((0.78, 0.3), (0.7, 0.85), 6),
                  _arc(0.55, 0.85, 0.15, 0.1, 0, 150, 8))]


STYLES: dict[int, tuple[Callable, ...]] = {
    0: (zero_oval,), 1: (one_line, one_flag, one_flag_foot), 2: (two_hook, two_curl),
    3: (three_round, three_flat), 4: (four_open, four_closed), 5: (five_flag, five_one_go),
    6: (six_curve, six_stem), 7: (seven_plain, seven_crossed, seven_serif),
    8: (eight_one_go, eight_two_rings), 9: (nine_loop, nine_small_loop, nine_hooked),
}


# ---------------------------------------------------------------------------- one drawing
def _hand(strokes: list[Stroke], r: random.Random) -> list[Stroke]:
    """The writer's hand: slant, rotation, width, and a slow wobble of the pen."""
    slant, turn = r.uniform(-0.3, 0.3), math.radians(r.uniform(-12, 12))
    squeeze, wobble = r.uniform(0.6, 1.15), r.uniform(0.0, 0.025)
    phase, freq = r.uniform(0, 2 * math.pi), r.uniform(3, 7)
    out = []
    for stroke in strokes:
        moved = []
        for x, y in stroke:
            x = 0.5 + (x - 0.5) * squeeze + slant * (0.5 - y)
            x, y = x + wobble * math.sin(freq * y + phase), y + wobble * math.cos(freq * x + phase)
            dx, dy = x - 0.5, y - 0.5
            moved.append((0.5 + dx * math.cos(turn) - dy * math.sin(turn),
                          0.5 + dx * math.sin(turn) + dy * math.cos(turn)))
        out.append(moved)
    return out


def render(strokes: list[Stroke], pen: float, box: tuple[float, float, float, float],
           size: int = CANVAS) -> Image.Image:
    """Strokes (unit-box points) drawn into ``box`` (canvas fractions) as the canvas draws them:
    a round black pen of ``pen`` pixels on white paper."""
    image = Image.new("L", (size, size), 255)
    draw = ImageDraw.Draw(image)
    x0, y0, x1, y1 = (v * size for v in box)
    radius = pen / 2
    for stroke in strokes:
        pts = [(x0 + x * (x1 - x0), y0 + y * (y1 - y0)) for x, y in stroke]
        if len(pts) > 1:
            draw.line(pts, fill=0, width=max(1, round(pen)), joint="curve")
        if pen > 2:                                     # the round ends and joints (a hairline has none)
            for px, py in pts:
                draw.ellipse((px - radius, py - radius, px + radius, py + radius), fill=0)
    return image


def drawing(digit: int, seed: int) -> tuple[Image.Image, str]:
    """One drawing of ``digit`` (a 280x280 canvas, black on white) and its style's name."""
    r = random.Random(seed * 10 + digit)
    style = r.choice(STYLES[digit])
    strokes = _hand(style(r), r)
    side = r.uniform(0.35, 0.9)                              # the digit's height on the canvas
    # as many thin pens as thick ones; at most a fifth of the digit's height (a fatter pen fills
    # the loops, and a person could not read the digit either)
    widest = min(PEN_RANGE[1], MAX_PEN_SHARE * side * CANVAS)
    pen = math.exp(r.uniform(math.log(PEN_RANGE[0]), math.log(widest)))
    width = side * r.uniform(0.55, 0.8)
    margin = pen / 2 / CANVAS + 0.02
    x0 = r.uniform(margin, max(margin, 1 - margin - width))
    y0 = r.uniform(margin, max(margin, 1 - margin - side))
    return render(strokes, pen, (x0, y0, x0 + width, y0 + side)), style.__name__


def drawings(per_digit: int, seed: int) -> list[tuple[Image.Image, int, str]]:
    """``per_digit`` drawings of every digit: (canvas, digit, style), from seed ``seed`` on."""
    out = []
    for i in range(per_digit):
        for digit in range(10):
            image, style = drawing(digit, seed + i)
            out.append((image, digit, style))
    return out


def as_mnist(images) -> torch.Tensor:
    """Canvases -> what the network sees: uint8 (N, 1, 28, 28) through the app's own
    preprocessing (the path every stroke takes)."""
    from .preprocess import sketch_to_mnist
    seen = [sketch_to_mnist(np.asarray(im)).seen for im in images]
    return torch.from_numpy(np.stack(seen)).unsqueeze(1)


def test_set(per_digit: int = TEST_PER_DIGIT) -> tuple[torch.Tensor, torch.Tensor, list[str]]:
    """The fixed test set: (uint8 images (N, 1, 28, 28), labels, style names). Never trained on."""
    made = drawings(per_digit, TEST_SEED)
    return (as_mnist(im for im, _, _ in made), torch.tensor([d for _, d, _ in made]),
            [s for _, _, s in made])


def training_pool(per_digit: int, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Other drawings for training (seeds from TRAIN_SEED on, apart from the test set's)."""
    made = drawings(per_digit, TRAIN_SEED + seed * per_digit)
    return as_mnist(im for im, _, _ in made), torch.tensor([d for _, d, _ in made])
