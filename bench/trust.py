"""Can the class trust the answers? (issue 19) For every shipped checkpoint (or those named):

1. calibration: the temperature stored in the checkpoint, and the expected calibration error
   (15 bins) before (T = 1) and after, on the images ``cnnlab.calibration.splits_for`` reports
   on (never the ones the temperature was fitted on);
2. digits from any hand: accuracy on digits not from MNIST (bench/trustdata.py: every font on the
   machine, and pen-stroke digits), through the Draw tab's own preprocessing;
3. out-of-distribution honesty: the share of non-digits / non-flowers answered "not sure", and
   the share of real digits / flowers (test split) wrongly answered "not sure", with the rule the
   app uses (``cnnlab.calibration.is_sure``); ``--sweep`` also prints other thresholds.

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

from cnnlab import calibration, checkpoints, datasets  # noqa: E402
from cnnlab.preprocess import prepare_for  # noqa: E402


def logits_of(loaded, sources, batch: int = 64) -> torch.Tensor:
    """Logits for inputs as the app receives them (canvas images or photos), through the app's
    own preprocessing."""
    xs = [prepare_for(loaded, s).tensor for s in sources]
    out = []
    with torch.inference_mode():
        for i in range(0, len(xs), batch):
            out.append(loaded.model(torch.cat(xs[i:i + batch])).float())
    return torch.cat(out)


def share_unsure(logits: torch.Tensor, t: float, kind: str, **rule) -> float:
    probs = calibration.probabilities(logits, t)
    return sum(not calibration.is_sure(p.tolist(), kind, **rule) for p in probs) / max(len(probs), 1)


def report(path: Path, sweep: bool, flip: bool = False) -> None:
    loaded = checkpoints.load(path)
    t = loaded.temperature
    kind = loaded.spec.kind
    print(f"\n== {path.name}: {loaded.model_name} on {loaded.dataset}, temperature {t:.3f}")
    fit_on, report_on, how = calibration.splits_for(loaded)
    logits = calibration.collect_logits(loaded.model, report_on, batch_size=64)
    labels = report_on.labels
    for name, temp in (("before (T = 1)", 1.0), (f"after (T = {t:.3f})", t)):
        r = calibration.reliability(calibration.probabilities(logits, temp), labels)
        nll = torch.nn.functional.cross_entropy(logits / temp, labels).item()
        print(f"  ECE {name:>18s}: {r['ece']:.2%}  NLL {nll:.4f}  mean confidence "
              f"{r['mean_confidence']:.2%}  accuracy {r['accuracy_all']:.2%}  ({len(labels)} images: "
              f"{'the whole test split' if len(labels) == len(datasets.load(loaded.dataset, 'test')) else how})")
    if kind == "clothing":
        return
    if flip and kind == "photo":
        test = datasets.load(loaded.dataset, "test")
        for mirrored in (False, True):
            lg = calibration.collect_logits(loaded.model, test, batch_size=32, flip=mirrored)
            acc = (lg.argmax(1) == test.labels).float().mean().item()
            print(f"  test accuracy {'with flip TTA' if mirrored else 'one view':>14s}: {acc:.2%}")
    test_logits = logits if len(labels) == len(datasets.load(loaded.dataset, "test")) else \
        calibration.collect_logits(loaded.model, datasets.load(loaded.dataset, "test"), batch_size=64)
    rows = {"test split": (test_logits, datasets.load(loaded.dataset, "test").labels)}
    if kind == "digits":
        fonts, strokes = trustdata.font_digits(), trustdata.stroke_digits()
        for name, items in (("font digits", fonts), ("pen-stroke digits", strokes)):
            lg = logits_of(loaded, [im for im, _ in items])
            y = torch.tensor([d for _, d in items])
            acc = (lg.argmax(1) == y).float().mean().item()
            print(f"  {name:>18s}: accuracy {acc:.2%} on {len(y)} drawings "
                  f"(ECE after {calibration.ece(calibration.probabilities(lg, t), y):.2%})")
            rows[name] = (lg, y)
        others = trustdata.non_digits()
    else:
        others = trustdata.non_flowers()
    rows["not a " + ("digit" if kind == "digits" else "flower")] = (logits_of(loaded, [im for im, _ in others]), None)
    print(f"  answered 'not sure' (rule: {calibration.rule_text(kind)}):")
    for name, (lg, y) in rows.items():
        right = ""
        if y is not None:
            probs = calibration.probabilities(lg, t)
            sure = torch.tensor([calibration.is_sure(p.tolist(), kind) for p in probs])
            ok = probs.argmax(1) == y
            right = (f"; right: {ok[sure].float().mean().item():.1%} of the sure answers, "
                     f"{ok[~sure].float().mean().item() if (~sure).any() else float('nan'):.1%} of the unsure")
        print(f"  {name:>18s}: {share_unsure(lg, t, kind):6.1%} of {len(lg)}{right}")
    odd = rows["not a " + ("digit" if kind == "digits" else "flower")][0]
    groups: dict[str, list[int]] = {}
    for i, (_, what) in enumerate(others):
        groups.setdefault(what.split(" ")[0] if what.startswith("letter") else what, []).append(i)
    print("  " + ", ".join(f"{what} {share_unsure(odd[idx], t, kind):.0%} of {len(idx)}"
                           for what, idx in groups.items()))
    if sweep:
        print("  sweep of the top-probability threshold (calibrated): share 'not sure'")
        print("  " + " ".join(f"{name:>18s}" for name in ["threshold", *rows]))
        for p in (0.5, 0.6, 0.7, 0.8, 0.85, 0.9, 0.95, 0.97, 0.99):
            cells = [share_unsure(lg, t, kind, prob=p, margin=0.0, spread=1.0) for lg, _ in rows.values()]
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
