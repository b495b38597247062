"""Held-out inputs for issue 19's measurements, made reproducibly from a seed (nothing downloaded,
nothing here is ever used for training):

- ``font_digits``: digits NOT from MNIST: every font on the machine (``fc-list``), each digit at
  many sizes, slants, rotations, pen widths (PIL's stroke_width, thin and bold faces) and offsets
  on a 280x280 canvas, black on white, exactly what the Draw tab's canvas sends. The digits
  recipe (cnnlab.core.handaug) trains on MNIST only, never on fonts, so this set stays held out.
- ``stroke_digits``: the pen-stroke digits of tests/handwriting.py, each point jittered, the
  whole digit slanted, squeezed, shrunk and moved, drawn with pens from 4 to 40 px.
- ``non_digits``: what a student draws that is no digit: scribbles, letters from the fonts (the
  ones that look like no digit), stars, crosses, grids, zigzags, faces, hatching.
- ``non_flowers``: photos that show no flower: the temple photo the Photo tab offers (whole and
  cropped), the Fashion examples, MNIST/Fashion images upscaled as photos, noise, gradients,
  shapes, stripes, checkerboards and text drawn by PIL.
"""
from __future__ import annotations

import math
import random
import subprocess
import sys
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter, ImageFont

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
CANVAS = 280
# Letters that look like no digit (O, I, l, Z, S, B, G, b, g, q, ... are left out)
LETTERS = "ACEFHKMNPRTUVWXYacefhkmnprtuvwxy"


def fonts() -> list[str]:
    """Every TrueType font file on the machine (sorted, so the sets are the same everywhere)."""
    try:
        out = subprocess.run(["fc-list", ":", "file"], capture_output=True, text=True, timeout=20).stdout
    except (OSError, subprocess.SubprocessError):
        out = ""
    files = sorted({line.split(":")[0].strip() for line in out.splitlines()
                    if line.strip().endswith((".ttf:", ".ttc:", ".otf:")) or ".tt" in line or ".otf" in line})
    return [f for f in files if Path(f).is_file()]


def _glyph(text: str, font_file: str, px: int, stroke: int) -> Image.Image:
    """``text`` in black on white, cropped to its ink (plus a margin)."""
    font = ImageFont.truetype(font_file, px)
    box = font.getbbox(text, stroke_width=stroke)
    w, h = box[2] - box[0] + 4 * stroke + 20, box[3] - box[1] + 4 * stroke + 20
    image = Image.new("L", (w, h), 255)
    ImageDraw.Draw(image).text((10 - box[0] + stroke, 10 - box[1] + stroke), text, font=font, fill=0,
                               stroke_width=stroke, stroke_fill=0)
    return image


def _place(glyph: Image.Image, rng: random.Random, size_range=(0.25, 0.9)) -> Image.Image:
    """Slant (shear), rotate, scale the glyph to a height of ``size_range`` of the canvas and put
    it anywhere on a 280x280 white canvas (off-centre and small digits included)."""
    shear = math.tan(math.radians(rng.uniform(-20, 20)))
    w, h = glyph.size
    sheared = glyph.transform((w + int(abs(shear) * h), h), Image.AFFINE,
                              (1, shear, -abs(shear) * h if shear > 0 else 0, 0, 1, 0),
                              resample=Image.BILINEAR, fillcolor=255)
    rotated = sheared.rotate(rng.uniform(-15, 15), resample=Image.BILINEAR, expand=True, fillcolor=255)
    ink = np.asarray(rotated) < 128
    ys, xs = np.nonzero(ink)
    if len(xs):
        rotated = rotated.crop((xs.min(), ys.min(), xs.max() + 1, ys.max() + 1))
    target = rng.uniform(*size_range) * CANVAS
    scale = min(target / rotated.height, (CANVAS - 4) / rotated.width)
    small = rotated.resize((max(1, round(rotated.width * scale)), max(1, round(rotated.height * scale))),
                           Image.LANCZOS)
    canvas = Image.new("L", (CANVAS, CANVAS), 255)
    x = rng.randint(0, max(0, CANVAS - small.width))
    y = rng.randint(0, max(0, CANVAS - small.height))
    canvas.paste(small, (x, y))
    return canvas


def font_digits(per_font: int = 6, seed: int = 19) -> list[tuple[Image.Image, int]]:
    """(canvas, digit): every font x every digit x ``per_font`` random styles."""
    rng = random.Random(seed)
    out = []
    for font_file in fonts():
        for d in range(10):
            for _ in range(per_font):
                stroke = rng.choice([0, 0, 1, 2, 4, 6])
                glyph = _glyph(str(d), font_file, 120, stroke)
                out.append((_place(glyph, rng), d))
    return out


def stroke_digits(per_digit: int = 80, seed: int = 19) -> list[tuple[Image.Image, int]]:
    """(canvas, digit) from tests/handwriting.py's pen strokes, jittered and drawn many ways."""
    sys.path.insert(0, str(ROOT / "tests"))
    from handwriting import DIGITS, render
    rng = random.Random(seed)
    out = []
    for d, strokes in DIGITS.items():
        for _ in range(per_digit):
            slant, squeeze = rng.uniform(-0.25, 0.25), rng.uniform(0.7, 1.2)
            wobble = rng.uniform(0.0, 0.03)
            moved = [[(0.5 + (x - 0.5) * squeeze + slant * (0.5 - y) + rng.gauss(0, wobble),
                       y + rng.gauss(0, wobble)) for x, y in s] for s in strokes]
            side = rng.uniform(0.3, 0.85)
            x0, y0 = rng.uniform(0, 1 - side * 0.8), rng.uniform(0, 1 - side)
            box = (x0, y0, x0 + side * rng.uniform(0.6, 0.8), y0 + side)
            out.append((render(moved, CANVAS, rng.uniform(4, 40), box), d))
    return out


def _scribble(rng: random.Random, pen: float) -> Image.Image:
    image = Image.new("L", (CANVAS, CANVAS), 255)
    draw = ImageDraw.Draw(image)
    x, y = rng.uniform(60, 220), rng.uniform(60, 220)
    pts = [(x, y)]
    heading = rng.uniform(0, 2 * math.pi)
    for _ in range(rng.randint(30, 120)):
        heading += rng.gauss(0, 0.6)
        x = min(270, max(10, x + 8 * math.cos(heading)))
        y = min(270, max(10, y + 8 * math.sin(heading)))
        pts.append((x, y))
    draw.line(pts, fill=0, width=int(pen), joint="curve")
    return image


def _shape(kind: str, rng: random.Random, pen: float) -> Image.Image:
    image = Image.new("L", (CANVAS, CANVAS), 255)
    draw = ImageDraw.Draw(image)
    w = int(pen)
    c, r = rng.uniform(100, 180), rng.uniform(50, 110)
    if kind == "star":
        pts = [(c + (r if k % 2 == 0 else r * 0.4) * math.cos(math.pi * k / 5 - math.pi / 2),
                c + (r if k % 2 == 0 else r * 0.4) * math.sin(math.pi * k / 5 - math.pi / 2)) for k in range(11)]
        draw.line(pts, fill=0, width=w, joint="curve")
    elif kind == "cross":
        draw.line([(c - r, c - r), (c + r, c + r)], fill=0, width=w)
        draw.line([(c - r, c + r), (c + r, c - r)], fill=0, width=w)
    elif kind == "grid":
        for k in range(-1, 2):
            draw.line([(c + k * r / 2, c - r), (c + k * r / 2, c + r)], fill=0, width=w)
            draw.line([(c - r, c + k * r / 2), (c + r, c + k * r / 2)], fill=0, width=w)
    elif kind == "zigzag":
        n = rng.randint(4, 8)
        draw.line([(c - r + 2 * r * k / n, c + (r / 2 if k % 2 else -r / 2)) for k in range(n + 1)],
                  fill=0, width=w, joint="curve")
    elif kind == "face":
        draw.ellipse((c - r, c - r, c + r, c + r), outline=0, width=w)
        draw.ellipse((c - r / 2.5 - 6, c - r / 3 - 6, c - r / 2.5 + 6, c - r / 3 + 6), fill=0)
        draw.ellipse((c + r / 2.5 - 6, c - r / 3 - 6, c + r / 2.5 + 6, c - r / 3 + 6), fill=0)
        draw.arc((c - r / 2, c - r / 4, c + r / 2, c + r / 2), 20, 160, fill=0, width=w)
    elif kind == "hatch":
        for k in range(rng.randint(4, 9)):
            off = -r + 2 * r * k / 8
            draw.line([(c - r + off, c + r), (c + off, c - r)], fill=0, width=w)
    elif kind == "square":
        draw.rectangle((c - r, c - r * 0.8, c + r, c + r * 0.8), outline=0, width=w)
    elif kind == "triangle":
        draw.line([(c, c - r), (c + r, c + r * 0.8), (c - r, c + r * 0.8), (c, c - r)], fill=0, width=w,
                  joint="curve")
    return image


SHAPES = ("star", "cross", "grid", "zigzag", "face", "hatch", "square", "triangle")


def non_digits(seed: int = 19) -> list[tuple[Image.Image, str]]:
    """(canvas, what it is): 100 scribbles, letters from every font, 80 shapes."""
    rng = random.Random(seed)
    out = [(_scribble(rng, rng.uniform(6, 30)), "scribble") for _ in range(100)]
    for font_file in fonts():
        for letter in rng.sample(LETTERS, 4):
            glyph = _glyph(letter, font_file, 120, rng.choice([0, 1, 3]))
            out.append((_place(glyph, rng, (0.3, 0.9)), f"letter {letter}"))
    for k in range(80):
        kind = SHAPES[k % len(SHAPES)]
        out.append((_shape(kind, rng, rng.uniform(6, 26)), kind))
    return out


def _sklearn_photo(name: str) -> Image.Image | None:
    try:
        import sklearn
    except ImportError:
        return None
    path = Path(sklearn.__file__).parent / "datasets" / "images" / name
    return Image.open(path).convert("RGB") if path.is_file() else None


def non_flowers(seed: int = 19, data_root=None) -> list[tuple[Image.Image, str]]:
    """(photo, what it is): about 200 photos with no flower in them."""
    rng = np.random.default_rng(seed)
    out: list[tuple[Image.Image, str]] = []
    temple = _sklearn_photo("china.jpg")
    if temple is not None:
        out.append((temple, "temple photo"))
        w, h = temple.size
        for _ in range(15):
            side = int(rng.uniform(0.3, 0.8) * min(w, h))
            x, y = int(rng.integers(0, w - side)), int(rng.integers(0, h - side))
            out.append((temple.crop((x, y, x + side, y + side)), "temple crop"))
    for path in sorted((ROOT / "demo").glob("fashion-*.jpg")):
        out.append((Image.open(path).convert("RGB"), "fashion example"))
    try:
        from cnnlab.core import datasets
        for name in ("mnist", "fashion"):
            test = datasets.load(name, "test", data_root)
            for i in rng.choice(len(test), 20, replace=False):
                grey = test.images[int(i), 0].numpy()
                if rng.random() < 0.5:
                    grey = 255 - grey
                tint = rng.uniform(0.5, 1.0, 3)
                rgb = (grey[..., None] * tint).astype(np.uint8)
                out.append((Image.fromarray(rgb).resize((224, 224), Image.BILINEAR), f"{name} image"))
    except Exception:                    # noqa: BLE001 - the data sets are optional here
        pass
    for _ in range(20):
        out.append((Image.fromarray(rng.integers(0, 256, (128, 128, 3), dtype=np.uint8)), "noise"))
    for _ in range(10):
        base = rng.uniform(0, 255, 3)
        noise = rng.normal(0, rng.uniform(5, 40), (128, 128, 3))
        out.append((Image.fromarray(np.clip(base + noise, 0, 255).astype(np.uint8)), "noisy colour"))
    for _ in range(20):
        a, b = rng.uniform(0, 255, 3), rng.uniform(0, 255, 3)
        t = np.linspace(0, 1, 128)
        angle = rng.uniform(0, math.pi)
        ramp = np.clip(np.cos(angle) * t[None, :] + np.sin(angle) * t[:, None], 0, 1)[..., None]
        out.append((Image.fromarray((a * (1 - ramp) + b * ramp).astype(np.uint8)), "gradient"))
    for _ in range(20):
        image = Image.new("RGB", (128, 128), tuple(int(v) for v in rng.integers(0, 256, 3)))
        draw = ImageDraw.Draw(image)
        for _ in range(int(rng.integers(1, 6))):
            x0, y0 = rng.integers(0, 100, 2)
            x1, y1 = x0 + rng.integers(10, 60), y0 + rng.integers(10, 60)
            fill = tuple(int(v) for v in rng.integers(0, 256, 3))
            [draw.rectangle, draw.ellipse][int(rng.integers(0, 2))]((int(x0), int(y0), int(x1), int(y1)), fill=fill)
        out.append((image, "shapes"))
    for _ in range(10):
        period = int(rng.integers(4, 24))
        yy, xx = np.mgrid[0:128, 0:128]
        stripes = ((xx // period) % 2 if rng.random() < 0.5 else ((xx // period + yy // period) % 2))
        a, b = rng.integers(0, 256, 3), rng.integers(0, 256, 3)
        out.append((Image.fromarray(np.where(stripes[..., None] == 1, a, b).astype(np.uint8)), "stripes"))
    font_files = fonts()
    words = ["cnnlab", "Hello class", "2 + 2 = 4", "PyTorch", "Flowers?", "Monday", "EXIT", "quiz 3"]
    for k in range(20):
        image = Image.new("RGB", (160, 160), tuple(int(v) for v in rng.integers(150, 256, 3)))
        if font_files:
            font = ImageFont.truetype(font_files[k % len(font_files)], int(rng.integers(18, 40)))
            ImageDraw.Draw(image).text((8, int(rng.integers(10, 110))), words[k % len(words)], font=font,
                                       fill=tuple(int(v) for v in rng.integers(0, 100, 3)))
        out.append((image.filter(ImageFilter.GaussianBlur(0.5)), "text"))
    return out
