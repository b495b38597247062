"""The end of a run and the workflows on a saved checkpoint: score it, fit the temperature that
makes its confidence honest, fit its novelty model, save it with its metrics, and let a t-SNE map
made for its weights follow it.

The class's runs (``server.jobs``), the CLI (``python -m cnnlab train / evaluate / calibrate /
novelty``) and the recipes all end here. It sits above training, checkpoints, calibration, novelty
and maps, which know nothing of each other's workflows (so none of them imports another in a
circle): ``checkpoints.update`` only rewrites the file; ``update`` here also moves the map.
"""
from __future__ import annotations

from pathlib import Path

from torch import nn

from ..config import TrainConfig
from . import calibration, checkpoints, datasets, novelty, training
from .cache import file_digest
from .inference import as_answered
from .maps import follow_checkpoint
from .metrics import summarize
from .nets.models import stock_backbone
from .novelty import features_of


def evaluate_and_save(path, model: nn.Module, config: TrainConfig, test: datasets.TensorData | None,
                      n: int = 0, extra: dict | None = None, root=None,
                      calibration_data: datasets.TensorData | None = None) -> tuple[Path, dict, dict | None]:
    """The end of every run (the CLI's and the class's): score the model on ``test`` (``n`` > 0:
    on that many of its images; None: not scored), fit the temperature that makes its confidence
    honest on training images the run kept out (``calibration_data``, else the seeded held-out
    part ``datasets.holdout`` picks by ``config.calib_size``), save the checkpoint with its
    metrics and write ``<name>.metrics.json`` beside it. Returns (checkpoint path, metrics, the
    evaluation or None)."""
    metrics = dict(extra or {})
    r = None
    temperature = 1.0
    if test is not None:
        r = training.test_model(model, test, n)
        scored = test.subset(n)
        metrics.update(summarize(scored.labels, r["predictions"], scored.spec.classes, r["loss"]))
        if calibration_data is None:
            calibration_data = training.held_out(config, root)
        if calibration_data is not None:
            logits = calibration.collect_logits(model, scored)
            calib = calibration.calibrate(model, calibration_data, scored, report_logits=logits)
            temperature = calib["temperature"]
            metrics["calibration"] = calib
            r["confidences"] = calibration.probabilities(logits, temperature).max(1).values
    model.eval()
    saved = checkpoints.save(path, model, config.model, config.dataset, config.to_dict(), metrics,
                             temperature=temperature)
    write_metrics(saved, metrics)
    return saved, metrics, r


def update(checkpoint: str | Path, metrics: dict | None = None, **fields) -> Path:
    """``checkpoints.update`` (store ``fields``, add ``metrics``, rewrite the metrics JSON), and a
    t-SNE map made for these weights (keyed by the file's digest) follows the new digest."""
    before = file_digest(checkpoint)
    out = checkpoints.update(checkpoint, metrics, **fields)
    follow_checkpoint(checkpoint, before)
    return out


def write_metrics(checkpoint: str | Path, metrics: dict) -> Path:
    """Add ``metrics`` to a checkpoint and write the whole set to the metrics JSON beside it."""
    return update(checkpoint, metrics)


def rescore(path, root=None, download: bool = False) -> dict:
    """Score a saved checkpoint on its test split as the app answers (mirror averaging included),
    store the figures in it and its metrics JSON, and return them."""
    loaded = checkpoints.load(path)
    test = datasets.load(loaded.dataset, "test", root, download)
    r = training.test_model(as_answered(loaded).to(training.pick_device()), test)
    metrics = summarize(test.labels, r["predictions"], loaded.classes, r["loss"])
    write_metrics(path, metrics)
    return metrics


def calibrate_checkpoint(path, root=None, flip: bool = False, mirror: bool | None = None) -> dict:
    """Fit and store a checkpoint's temperature (see ``calibration.splits_for``); returns what was measured."""
    if mirror is not None:                     # from now on it answers with the mirror image averaged in
        update(path, mirror=bool(mirror))
    loaded = checkpoints.load(path)
    model = loaded.model.to(training.pick_device())
    fit_on, report_on, how = calibration.splits_for(loaded, root)
    out = calibration.calibrate(model, fit_on, report_on, flip=flip or loaded.mirror)
    out["fitted_on_split"] = how
    update(path, {"calibration": out}, temperature=float(out["temperature"]))
    return out


def fit_checkpoint(path, root=None) -> dict:
    """Fit and store a checkpoint's novelty model: on the training images it learned from, with
    the limit set on images it never trained on (``calibration.splits_for``: those the run kept
    out, or half the test split; on stock features, a tenth of the training split kept out of the
    fit); reports the share of the other images called unfamiliar."""
    loaded = checkpoints.load(path)
    stock = novelty.measures_stock(loaded.model)
    if stock:
        model = stock_backbone()
    else:
        model = loaded.model.to(training.pick_device())
    train, kept_out = calibration.training_split(loaded, root)
    if stock and kept_out is None:
        # The stock backbone never learned from any of these photos, so a seeded tenth of the
        # training split, kept out of the fit, is as unseen as test photos: it sets the limit, and
        # the whole test split is left to report on (not half of it, which is noisier).
        train, limit_on = datasets.holdout(train, len(train) // 10)
        report_on, how = datasets.load(loaded.dataset, "test", root), "training images kept out of the fit"
    else:
        limit_on, report_on, how = calibration.splits_for(loaded, root)
    fitted = novelty.fit(features_of(model, train), train.labels, features_of(model, limit_on), stock=stock)
    flagged = float((fitted.strangeness(features_of(model, report_on)) > 1).float().mean())
    out = {"k": fitted.basis.shape[1], "stock_features": stock, "quantile": novelty.QUANTILE,
           "residual": fitted.residual_limit is not None, "fitted_on": len(train),
           "limit_set_on": len(limit_on), "limit_set_on_split": how, "reported_on": len(report_on),
           "unfamiliar_share": round(flagged, 4)}
    update(path, {"novelty": out}, novelty=fitted.to_payload())
    return out
