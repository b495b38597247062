"""Digits written as pen strokes, the way a person draws them, for the Draw tab's tests.

Each digit is a list of strokes; a stroke is a list of (x, y) points in a unit box (x to the
right, y down). ``render`` draws them like the canvas does (round pen, black on white); the
browser test moves the mouse through the same points.
"""
from __future__ import annotations

import math

from PIL import Image

from cnnlab.core import hands


def _arc(cx, cy, rx, ry, start_deg, end_deg, n=24):
    """Points on an ellipse from start to end angle (degrees; 0 = right, 90 = down)."""
    return [(cx + rx * math.cos(math.radians(a)), cy + ry * math.sin(math.radians(a)))
            for a in (start_deg + (end_deg - start_deg) * i / n for i in range(n + 1))]


def _line(p, q, n=8):
    return [(p[0] + (q[0] - p[0]) * i / n, p[1] + (q[1] - p[1]) * i / n) for i in range(n + 1)]


def _figure_eight(n=48):
    pts = []
    for i in range(n + 1):
        t = 2 * math.pi * i / n
        # A vertical figure of eight with a slightly smaller top loop, written from the top right.
        x = 0.5 + 0.55 * math.sin(t) * math.cos(t) * (0.8 if math.cos(t) > 0 else 1.0)
        y = 0.5 - 0.45 * math.cos(t)
        pts.append((x, y))
    return [pts]


DIGITS: dict[int, list[list[tuple[float, float]]]] = {
    # an oval, started at the top and closed with a little overlap, slightly leaning
    0: [[(x + 0.06 * (0.5 - y), y) for x, y in _arc(0.5, 0.5, 0.3, 0.45, -80, 300, 36)]],
    # one slanted line
    1: [_line((0.58, 0.05), (0.44, 0.95))],
    # a hook over the top, a diagonal down to the left, a base line
    2: [_arc(0.5, 0.3, 0.3, 0.25, 190, 380, 16)[:-3] + _line((0.75, 0.42), (0.15, 0.92), 8)[1:]
        + _line((0.15, 0.92), (0.88, 0.9), 6)[1:]],
    # two bumps, written in one go
    3: [_arc(0.45, 0.28, 0.3, 0.23, 200, 450, 18) + _arc(0.45, 0.72, 0.33, 0.23, -90, 150, 18)],
    # an open 4: down and across, then the long stroke on the right
    4: [_line((0.2, 0.05), (0.15, 0.58), 6) + _line((0.15, 0.58), (0.88, 0.55), 6)[1:],
        _line((0.68, 0.08), (0.66, 0.95), 8)],
    # the body first (down, then the belly), the flag on top last
    5: [_line((0.3, 0.08), (0.25, 0.45), 5) + _arc(0.45, 0.67, 0.32, 0.25, -125, 150, 20),
        _line((0.3, 0.08), (0.85, 0.06), 6)],
    # a curve down from the top into a loop at the bottom
    6: [_arc(0.7, 0.55, 0.5, 0.5, -100, -180, 10) + _arc(0.5, 0.7, 0.3, 0.25, 180, 520, 24)],
    # a top bar and a long diagonal in one stroke, then a short crossbar
    7: [_line((0.12, 0.1), (0.88, 0.08), 6) + _line((0.88, 0.08), (0.4, 0.95), 10)[1:],
        _line((0.42, 0.52), (0.8, 0.5), 5)],
    8: _figure_eight(),
    # the loop, then straight down
    9: [_arc(0.5, 0.3, 0.28, 0.24, 0, -360, 28) + _line((0.78, 0.3), (0.68, 0.95), 8)[1:]],
}


def render(strokes, size: int = 280, width: float = 22, box=(0.2, 0.15, 0.8, 0.85)) -> Image.Image:
    """Draw strokes (unit-box points) into ``box`` (fractions of the canvas) with a round pen, as
    the canvas draws them (cnnlab.core.hands.render)."""
    return hands.render(strokes, width, box, size)
