"""The own classes on real photos, as a teacher would use them: 3 flower classes x 30 training
photos from ``flower_photos/train`` added to the store, Train clicked (the shared run, timed to its
end), then 20 unseen photos of each class from ``flower_photos/test`` answered as the Own classes
tab answers them.

    .venv/bin/python bench/own_flowers.py [--classes rose,tulip,daisy] [--train 30] [--test 20]
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
CLASSES = "rose,tulip,daisy"        # the figure: the weak pair and one more


def measure(names: list[str], per_class: int = 30, tests: int = 20, data_root=None) -> tuple[int, int, float]:
    """(right, answered, seconds from Train to the run's end): ``per_class`` training photos of
    each class added to a fresh store, Train, then ``tests`` unseen test photos a class answered."""
    from cnnlab.config import data_root as find_data_root
    from cnnlab.core import checkpoints, datasets
    from cnnlab.core.inference import answer
    from cnnlab.lessons.own.data import PictureStore, open_picture
    from cnnlab.lessons.own.model import FeatureCache, OwnRun
    from cnnlab.server.jobs import TrainJob
    from cnnlab.server.zoo import ModelZoo

    photos = find_data_root(data_root or os.environ.get("CNNLAB_DATA")) / datasets.get_spec("flowers5").folder
    with tempfile.TemporaryDirectory(prefix="cnnlab-own-") as folder:
        tmp = Path(folder)
        store = PictureStore(tmp / "runs" / "own")
        for name in names:
            store.add(store.create(name).id, sorted((photos / "train" / name).glob("*.jpg"))[:per_class])
        cache = FeatureCache(tmp / "runs" / "own" / "features")
        job = TrainJob(ModelZoo(tmp / "no-shipped"), tmp / "runs", request_threads=None)
        start = time.perf_counter()
        job.start_own(OwnRun(store, cache))
        assert job.wait(600), "the run did not finish in 10 minutes"
        seconds = time.perf_counter() - start
        loaded = checkpoints.load(job.latest_path)
        right = total = 0
        for label, name in enumerate(names):
            for path in sorted((photos / "test" / name).glob("*.jpg"))[:tests]:
                right += answer(loaded, open_picture(path)).top_index == label
                total += 1
    return right, total, seconds


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--classes", default=CLASSES, help="flower classes (default: the weak pair and one more)")
    p.add_argument("--train", type=int, default=30, help="training photos a class (default 30)")
    p.add_argument("--test", type=int, default=20, help="unseen test photos a class (default 20)")
    a = p.parse_args(argv)
    names = a.classes.split(",")
    right, total, seconds = measure(names, a.train, a.test)
    print(f"{len(names)} classes x {a.train} photos: Train -> finished in {seconds:.1f} s (features read "
          f"then, nothing cached before); {right}/{total} = {right / total:.1%} of unseen test photos right; "
          f"load average {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
