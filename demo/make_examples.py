"""Make the Photo tab's clothing examples from Fashion-MNIST test images.

Each example is the first test image of its class, turned into something that looks like a
product photo: enlarged 10x, inverted (a dark item on white, as the shop photos were before
Zalando made the data set), given a colour and a white margin, and saved as JPEG. The Photo
tab's preprocessing has to undo all of that to get back to the 28x28 the model knows.

    CNNLAB_DATA=../shared/data python demo/make_examples.py      # writes demo/fashion-*.jpg

Fashion-MNIST is by Zalando Research (MIT licence); see demo/SOURCES.md.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from cnnlab.core import datasets  # noqa: E402

# class index -> (file name, colour of the item). The first test image of each class is used.
EXAMPLES = {
    7: ("sneaker", (200, 40, 40)),       # red
    1: ("trouser", (30, 45, 100)),       # navy
    8: ("bag", (120, 70, 30)),           # brown leather
    9: ("ankle-boot", (20, 20, 20)),     # black
}
SCALE = 10          # 28 px -> 280 px
MARGIN = 40         # white space around the item, in pixels of the photo


def product_photo(item: np.ndarray, colour: tuple[int, int, int], scale: int = SCALE,
                  margin: int = MARGIN) -> Image.Image:
    """A 28x28 Fashion-MNIST item (light on black, uint8) -> an RGB 'shop photo' on white."""
    big = Image.fromarray(item).resize((item.shape[1] * scale, item.shape[0] * scale), Image.LANCZOS)
    amount = np.asarray(big, np.float32)[..., None] / 255.0          # 0 = paper, 1 = full colour
    paper = np.full(amount.shape[:2] + (3,), 255.0, np.float32)
    rgb = paper * (1 - amount) + np.array(colour, np.float32) * amount
    photo = np.pad(rgb, ((margin, margin), (margin, margin), (0, 0)), constant_values=255.0)
    return Image.fromarray(np.clip(photo, 0, 255).astype(np.uint8))


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data-dir", default=None, help="data root (default: $CNNLAB_DATA or ./data)")
    p.add_argument("--out", default=str(Path(__file__).resolve().parent), help="output folder")
    args = p.parse_args(argv)
    test = datasets.load("fashion", "test", root=args.data_dir)
    for label, (name, colour) in EXAMPLES.items():
        index = int((test.labels == label).nonzero()[0, 0])
        path = Path(args.out) / f"fashion-{name}.jpg"
        product_photo(test.images[index, 0].numpy(), colour).save(path, quality=90)
        print(f"{path}  (Fashion-MNIST test image {index}, {datasets.FASHION_CLASSES[label]})")


if __name__ == "__main__":
    main()
