"""Can the class trust the answers? (issue 19) For every shipped checkpoint (or those named):

1. calibration: the temperature stored in the checkpoint, and the expected calibration error
   (15 bins) before (T = 1) and after, on the images ``cnnlab.core.calibration.splits_for`` reports
   on (never the ones the temperature was fitted on);
2. digits from any hand: accuracy on digits not from MNIST (bench/trustdata.py: every font on the
   machine, pen-stroke digits, and the 600 drawings in many hands of ``cnnlab.core.hands``),
   through the Draw tab's own preprocessing;
3. out-of-distribution honesty: the share of non-digits / non-flowers answered "not sure", and
   the share of real digits / flowers (test split) wrongly answered "not sure", with the rule the
   app uses (``cnnlab.core.calibration.is_sure``); ``--sweep`` also prints other thresholds.

    .venv/bin/python bench/trust.py                       # all shipped checkpoints (~2-4 min)
    .venv/bin/python bench/trust.py checkpoints/mnist-cnn.pt --sweep
"""
from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))
os.environ.setdefault("CNNLAB_DATA", str(ROOT.parent / "shared" / "data"))

import torch  # noqa: E402
import trustdata  # noqa: E402

from cnnlab.core import calibration, checkpoints, datasets, hands, inference  # noqa: E402
from cnnlab.core.preprocess import prepare_for  # noqa: E402


def answers(loaded, xs: list[torch.Tensor], batch: int = 64) -> tuple[torch.Tensor, torch.Tensor]:
    """(logits, unfamiliar) for prepared inputs as the app answers them (``inference.scores``:
    mirror averaging, and which inputs the checkpoint's novelty model calls unfamiliar)."""
    logits, strange = [], []
    with torch.inference_mode():
        for i in range(0, len(xs), batch):
            lg, s = inference.scores(loaded, torch.cat(xs[i:i + batch]))
            logits.append(lg.float())
            strange.append(s > 1 if s is not None else torch.zeros(len(lg), dtype=torch.bool))
    return torch.cat(logits), torch.cat(strange)


def sources_answers(loaded, sources) -> tuple[torch.Tensor, torch.Tensor]:
    """``answers`` for inputs as the app receives them (canvas images or photos), through the
    app's own preprocessing."""
    return answers(loaded, [prepare_for(loaded, s).tensor for s in sources])


def split_answers(loaded, data: datasets.TensorData) -> tuple[torch.Tensor, torch.Tensor]:
    """``answers`` for a data split's images."""
    return answers(loaded, [datasets.normalize(data.images[i:i + 1], data.spec) for i in range(len(data))])


def unsure(logits: torch.Tensor, strange: torch.Tensor | None, t: float, kind: str, **rule) -> torch.Tensor:
    """Which answers are "not sure": the app's rule on the calibrated probabilities, or an input
    the novelty model calls unfamiliar (``strange``; None: the probabilities alone)."""
    probs = calibration.probabilities(logits, t)
    out = torch.tensor([not calibration.is_sure(p.tolist(), kind, **rule) for p in probs], dtype=torch.bool)
    return out | strange if strange is not None else out


def report(path: Path, sweep: bool, flip: bool = False) -> None:
    loaded = checkpoints.load(path)
    t = loaded.temperature
    kind = loaded.spec.kind
    print(f"\n== {path.name}: {loaded.model_name} on {loaded.dataset}, temperature {t:.3f}"
          f"{', mirror averaging' if loaded.mirror else ''}{', novelty model' if loaded.novelty else ''}")
    test = datasets.load(loaded.dataset, "test")
    fit_on, report_on, how = calibration.splits_for(loaded)
    logits = calibration.collect_logits(loaded.model, report_on, batch_size=64, flip=loaded.mirror)
    labels = report_on.labels
    whole = len(labels) == len(test)
    for name, temp in (("before (T = 1)", 1.0), (f"after (T = {t:.3f})", t)):
        r = calibration.reliability(calibration.probabilities(logits, temp), labels)
        nll = torch.nn.functional.cross_entropy(logits / temp, labels).item()
        print(f"  ECE {name:>18s}: {r['ece']:.2%}  NLL {nll:.4f}  mean confidence "
              f"{r['mean_confidence']:.2%}  accuracy {r['accuracy_all']:.2%}  ({len(labels)} images: "
              f"{'the whole test split' if whole else how})")
    if kind == "clothing":
        return
    if flip and kind == "photo":
        for mirrored in (False, True):
            lg = calibration.collect_logits(loaded.model, test, batch_size=32, flip=mirrored)
            acc = (lg.argmax(1) == test.labels).float().mean().item()
            print(f"  test accuracy {'with flip TTA' if mirrored else 'one view':>14s}: {acc:.2%}")
    rows = {"test split": (*split_answers(loaded, test), test.labels)}
    if kind == "digits":
        fonts, strokes = trustdata.font_digits(), trustdata.stroke_digits()
        many = [(im, d) for im, d, _ in hands.drawings(hands.TEST_PER_DIGIT, hands.TEST_SEED)]
        for name, items in (("font digits", fonts), ("pen-stroke digits", strokes), ("many hands", many)):
            lg, strange = sources_answers(loaded, [im for im, _ in items])
            y = torch.tensor([d for _, d in items])
            acc = (lg.argmax(1) == y).float().mean().item()
            print(f"  {name:>18s}: accuracy {acc:.2%} on {len(y)} drawings "
                  f"(ECE after {calibration.ece(calibration.probabilities(lg, t), y):.2%})")
            rows[name] = (lg, strange, y)
        others = trustdata.non_digits()
    else:
        others = trustdata.non_flowers()
    odd_name = "not a " + ("digit" if kind == "digits" else "flower")
    rows[odd_name] = (*sources_answers(loaded, [im for im, _ in others]), None)
    novelty = " or the input is unlike the training images" if loaded.novelty is not None else ""
    print(f"  answered 'not sure' (rule: {calibration.rule_text(kind)}{novelty}):")
    for name, (lg, strange, y) in rows.items():
        right = ""
        no = unsure(lg, strange, t, kind)
        if y is not None:
            ok = lg.argmax(1) == y
            right = (f"; right: {ok[~no].float().mean().item():.1%} of the sure answers, "
                     f"{ok[no].float().mean().item() if no.any() else float('nan'):.1%} of the unsure")
        alone = "" if loaded.novelty is None else \
            (f" (probabilities alone {unsure(lg, None, t, kind).float().mean().item():.1%}, "
             f"unlike the training images alone {strange.float().mean().item():.1%})")
        print(f"  {name:>18s}: {no.float().mean().item():6.1%} of {len(lg)}{alone}{right}")
    lg, strange, _ = rows[odd_name]
    no = unsure(lg, strange, t, kind)
    groups: dict[str, list[int]] = {}
    for i, (_, what) in enumerate(others):
        groups.setdefault(what.split(" ")[0] if what.startswith("letter") else what, []).append(i)
    print("  " + ", ".join(f"{what} {no[idx].float().mean().item():.0%} of {len(idx)}"
                           for what, idx in groups.items()))
    if sweep:
        print("  sweep of the top-probability threshold (calibrated, probabilities alone): share 'not sure'")
        print("  " + " ".join(f"{name:>18s}" for name in ["threshold", *rows]))
        for p in (0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95, 0.97, 0.99):
            cells = [unsure(lg, None, t, kind, prob=p, margin=0.0, spread=1.0).float().mean().item()
                     for lg, _, _ in rows.values()]
            print("  " + " ".join(f"{c:>18.1%}" for c in [p, *cells]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoints", nargs="*", help="default: every checkpoint in checkpoints/")
    parser.add_argument("--sweep", action="store_true", help="also print other thresholds")
    parser.add_argument("--flip", action="store_true",
                        help="photo models: also the test accuracy with the mirror image averaged in (TTA)")
    parser.add_argument("--threads", type=int, default=2, help="torch threads (1 on a busy machine)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    paths = [Path(p) for p in args.checkpoints] or sorted((ROOT / "checkpoints").glob("*.pt"))
    start = time.perf_counter()
    for path in paths:
        report(path, args.sweep, args.flip)
    print(f"\n({time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    main()
