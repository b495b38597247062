"""Confidence that means what it says: temperature scaling, expected calibration error, and the
reliability diagram's numbers.

A network trained with cross-entropy is usually over-confident: when it says 95% it may be right
only 85% of the time. Temperature scaling (Guo et al., 2017) divides the logits by one number T,
fitted on images the network never trained on so that the probabilities' log-likelihood is best.
It never changes which class wins, only how sure the answer sounds. T is a plain float stored in
the checkpoint (``temperature``), and every place that shows a probability divides by it.

ECE: sort the answers into 15 equal-width confidence bins; ECE is the average gap between a
bin's mean confidence and its accuracy, weighted by how many answers fall in it.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from . import datasets
from .nets.models import trunk_frozen
from .training import batches, calib_count, eval_mode, extract_features

BINS = 15                          # the usual number of ECE bins (Guo et al. 2017)
T_RANGE = (0.05, 20.0)             # a fitted temperature is kept inside this range


def halves(data: datasets.TensorData, seed: int = 0) -> tuple[datasets.TensorData, datasets.TensorData]:
    """A test split cut in two seeded halves: (the half a temperature is fitted on, the half its
    effect is reported on). For checkpoints trained on the whole training split."""
    rest, held = datasets.holdout(data, len(data) // 2, seed)
    return held, rest


@torch.no_grad()
def collect_logits(model: nn.Module, data: datasets.TensorData, batch_size: int = 256,
                   flip: bool = False) -> torch.Tensor:
    """Logits for every image (``flip``: averaged with the mirror image's), in eval mode."""
    device = next(model.parameters()).device
    if trunk_frozen(model) and not flip:
        *_, (_, features) = extract_features(model, data, device)
        model, data = model.learner(), features
    out = []
    with eval_mode(model):
        for x, _ in batches(data, batch_size, device):
            logits = model(x)
            if flip:
                logits = (logits + model(x.flip(-1))) / 2
            out.append(logits.float().cpu())
    return torch.cat(out)


def fit_temperature(logits: torch.Tensor, labels: torch.Tensor) -> float:
    """The T > 0 that minimises the negative log-likelihood of softmax(logits / T).

    The NLL is convex in 1/T, so a golden-section search over log T finds it without gradients."""
    logits, labels = logits.double(), labels.long()

    def nll(log_t: float) -> float:
        return F.cross_entropy(logits / math.exp(log_t), labels).item()

    lo, hi = math.log(T_RANGE[0]), math.log(T_RANGE[1])
    ratio = (math.sqrt(5) - 1) / 2
    a, b = hi - ratio * (hi - lo), lo + ratio * (hi - lo)
    fa, fb = nll(a), nll(b)
    for _ in range(80):
        if fa < fb:
            hi, b, fb = b, a, fa
            a = hi - ratio * (hi - lo)
            fa = nll(a)
        else:
            lo, a, fa = a, b, fb
            b = lo + ratio * (hi - lo)
            fb = nll(b)
    return round(math.exp((lo + hi) / 2), 4)


def probabilities(logits: torch.Tensor, temperature: float = 1.0) -> torch.Tensor:
    return torch.softmax(logits.float() / float(temperature), dim=-1)


def reliability(probs: torch.Tensor, labels: torch.Tensor, bins: int = BINS) -> dict:
    """Per confidence bin: how many answers, their mean confidence, their accuracy; and the ECE."""
    conf, pred = probs.max(dim=1)
    right = (pred == labels).float()
    edges = torch.linspace(0, 1, bins + 1)
    which = torch.clamp(torch.bucketize(conf, edges, right=False) - 1, 0, bins - 1)
    counts, confs, accs = [], [], []
    ece = 0.0
    for b in range(bins):
        mask = which == b
        k = int(mask.sum())
        counts.append(k)
        confs.append(float(conf[mask].mean()) if k else None)
        accs.append(float(right[mask].mean()) if k else None)
        if k:
            ece += k / len(labels) * abs(confs[-1] - accs[-1])
    return {"edges": [round(float(e), 4) for e in edges], "counts": counts, "confidence": confs,
            "accuracy": accs, "ece": ece, "n": int(len(labels)), "mean_confidence": float(conf.mean()),
            "accuracy_all": float(right.mean())}


def ece(probs: torch.Tensor, labels: torch.Tensor, bins: int = BINS) -> float:
    return reliability(probs, labels, bins)["ece"]


def calibrate(model: nn.Module, fit_on: datasets.TensorData, report_on: datasets.TensorData | None,
              flip: bool = False, report_logits: torch.Tensor | None = None) -> dict:
    """Fit T on ``fit_on``; report ECE (and the reliability bins) before and after on ``report_on``
    (whose logits may be given)."""
    t = fit_temperature(collect_logits(model, fit_on, flip=flip), fit_on.labels)
    out = {"temperature": t, "fitted_on": len(fit_on)}
    if report_on is not None:
        logits = report_logits if report_logits is not None else collect_logits(model, report_on, flip=flip)
        before = reliability(probabilities(logits), report_on.labels)
        after = reliability(probabilities(logits, t), report_on.labels)
        out.update(ece_before=round(before["ece"], 5), ece_after=round(after["ece"], 5),
                   reported_on=len(report_on), reliability=_compact(after),
                   reliability_before=_compact(before))
    return out


def _compact(r: dict) -> dict:
    """The reliability bins, rounded, small enough for a checkpoint's metrics."""
    rnd = [None if v is None else round(v, 4) for v in r["confidence"]]
    acc = [None if v is None else round(v, 4) for v in r["accuracy"]]
    return {"counts": r["counts"], "confidence": rnd, "accuracy": acc, "ece": round(r["ece"], 5)}


def splits_for(loaded, root=None) -> tuple[datasets.TensorData, datasets.TensorData, str]:
    """(images to fit the temperature on, images to report it on, how they were chosen) for a
    checkpoint: the training images its run kept out (``calib_size`` in its config) and the whole
    test split; or, for a checkpoint trained on every training image, two seeded halves of the
    test split (fitted on one, reported on the other, never both)."""
    test = datasets.load(loaded.dataset, "test", root)
    if _kept_out(loaded.config):
        return training_split(loaded, root)[1], test, "training images kept out of training"
    fit_on, report_on = halves(test)
    return fit_on, report_on, "half of the test split (reported on the other half)"


def _kept_out(config: dict) -> int:
    n = config.get("calib_size", 0)
    return n if isinstance(n, int) else 0


def training_split(loaded, root=None) -> tuple[datasets.TensorData, datasets.TensorData | None]:
    """(the training images a checkpoint's run learned from, those it kept out or None): the
    seeded split ``calib_size`` in its config names."""
    full = datasets.load(loaded.dataset, "train", root)
    n = _kept_out(loaded.config)
    if not n:
        return full, None
    return datasets.holdout(full, calib_count(n, len(full)), int(loaded.config.get("seed", 0)))


# "Not sure": the calibrated top probability is below ``prob``, or the runner-up is within
# ``margin`` of it, or the answer is spread over many classes (entropy / log K above ``spread``).
# Chosen from bench/trust.py's figures (see the README): with calibrated probabilities, an answer
# below ``prob`` is right less often than ``prob`` of the time. Digits at 80%: 1.1% of MNIST's
# test digits and 5.9% of font digits are "not sure", and 47% of drawings that are no digit
# (at 60%: 0.4%, 2.2% and 25%).
SURE = {
    "digits": {"prob": 0.8, "margin": 0.0, "spread": 1.0},
    "clothing": {"prob": 0.6, "margin": 0.2, "spread": 0.6},
    "photo": {"prob": 0.6, "margin": 0.2, "spread": 0.6},
}


def is_sure(probs, kind: str = "photo", **override) -> bool:
    """Whether an answer (calibrated probabilities, any order) is confident enough to state."""
    rule = {**SURE.get(kind, SURE["photo"]), **override}
    p = sorted((float(v) for v in probs), reverse=True)
    if len(p) < 2:
        return True
    spread = -sum(v * math.log(max(v, 1e-12)) for v in p) / math.log(len(p))
    return p[0] >= rule["prob"] and p[0] - p[1] >= rule["margin"] and spread <= rule["spread"]


def rule_text(kind: str) -> str:
    r = SURE.get(kind, SURE["photo"])
    parts = [f"top probability < {r['prob']:.0%}"]
    if r["margin"] > 0:
        parts.append(f"runner-up within {r['margin']:.0%}")
    if r["spread"] < 1:
        parts.append(f"spread > {r['spread']:.0%}")
    return " or ".join(parts)
