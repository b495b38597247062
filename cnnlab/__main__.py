"""Command line: how the shipped checkpoints are made, reproducibly.

    python -m cnnlab train --dataset mnist --model cnn --epochs 3
    python -m cnnlab evaluate checkpoints/mnist-cnn.pt
    python -m cnnlab calibrate checkpoints/*.pt   # the temperature each checkpoint's confidence needs
    python -m cnnlab novelty checkpoints/flowers5-transfer.pt   # "that is no flower at all"
    python -m cnnlab train --dry-run            # one or two batches, for CI
    python -m cnnlab train --tensorboard runs/tb   # then: tensorboard --logdir runs/tb
"""
from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

from .config import TrainConfig


def _add_config_flags(parser: argparse.ArgumentParser) -> None:
    """One flag per TrainConfig field, its default shown in --help."""
    for f in dataclasses.fields(TrainConfig):
        flag = "--" + f.name.replace("_", "-")
        if f.name == "layers":
            parser.add_argument(flag, type=_layers, default=None,
                                help="with --model custom: the layer stack as JSON, or a .json file "
                                     "holding it (default: None)")
        elif f.type in (bool, "bool"):
            action = parser.add_argument(flag, action=argparse.BooleanOptionalAction, default=f.default)
            action.help = f"(default: {f.default})"     # set here: argparse's own wording varies by version
        else:
            kind = {"int": int, "float": float, "str": str}.get(str(f.type), type(f.default))
            parser.add_argument(flag, type=kind, default=f.default, help=f"(default: {f.default})")


def _layers(text: str) -> list:
    """--layers: a JSON list of layers, or the path of a file holding one."""
    import json
    path = Path(text)
    try:
        return json.loads(path.read_text(encoding="utf-8") if path.suffix == ".json" else text)
    except (OSError, ValueError) as err:
        raise argparse.ArgumentTypeError(f"not a JSON layer stack or a readable .json file: {err}") from None


def cmd_train(args) -> int:
    from tqdm import tqdm

    from .core import checkpoints, datasets
    from .core.finish import evaluate_and_save
    from .core.training import fit

    config = TrainConfig(**{f.name: getattr(args, f.name) for f in dataclasses.fields(TrainConfig)})
    out = Path(args.out or f"checkpoints/{config.dataset}-{config.model}.pt")
    start_model = None
    if args.init:
        init = checkpoints.load(args.init)
        if (init.model_name, init.dataset) != (config.model, config.dataset):
            raise ValueError(f"--init {args.init} holds {init.model_name} on {init.dataset}, "
                             f"not {config.model} on {config.dataset}")
        start_model = init.model
    board = None
    if args.tensorboard:
        from .core.nets.models import build_model
        from .core.tblog import TensorBoardLogger
        from .core.training import seed_everything
        board = TensorBoardLogger(args.tensorboard, args.data_dir)
        if start_model is None:                 # built here (as fit would, same seed) for the graph
            seed_everything(config.seed)
            start_model = build_model(config.model, datasets.get_spec(config.dataset), finetune=config.finetune,
                                      layers=config.layers)
    bar = None
    for ev in fit(config, root=args.data_dir, download=args.download, model=start_model,
                  max_steps=2 if args.dry_run else 0, final_eval=False):
        if board is not None and ev.kind != "done":
            board(ev, start_model, config)
        if ev.kind == "start":
            bar = tqdm(total=ev.total_steps, desc=ev.message, unit="step", file=sys.stderr)
            continue
        bar.update(ev.step - bar.n)
        post = {"loss": f"{ev.train_loss:.4f}" if ev.train_loss is not None else "-"}
        if ev.val_acc is not None:
            post["val_acc"] = f"{ev.val_acc:.4f}"
        bar.set_postfix(post)
        if ev.kind == "done":
            bar.close()
            print(ev.message)
            done = ev
    if args.dry_run:
        if board is not None:
            board(done, done.model, config)
            print(f"wrote TensorBoard logs to {board.last_dir}")
        print("dry run: 2 batches trained, nothing saved")
        return 0
    test = datasets.load(config.dataset, "test", args.data_dir, args.download)
    so_far = {"steps": done.step, "epochs": round(done.epoch, 3), "train_seconds": round(done.elapsed_s, 1),
              **({"init": str(args.init)} if args.init else {})}
    path, metrics, _ = evaluate_and_save(out, done.model, config, test, extra=so_far)
    print(f"saved {path}")
    if board is not None:
        board(dataclasses.replace(done, metrics=metrics), done.model, config)
        print(f"wrote TensorBoard logs to {board.last_dir} (see them: tensorboard --logdir {args.tensorboard})")
    _report(path, metrics)
    return 0


def _evaluate(path: Path, data_dir, download: bool) -> int:
    from .core import finish
    _report(path, finish.rescore(path, data_dir, download))
    return 0


def _report(path: Path, metrics: dict) -> None:
    print(f"{path}: test accuracy {metrics['test_accuracy']:.2%} on {metrics['test_images']} images")
    for name, acc in metrics["per_class_accuracy"].items():
        print(f"  {name:>14s}  {acc:.2%}")
    print("confusion matrix (rows: true, columns: predicted)")
    for row in metrics["confusion_matrix"]:
        print("  " + " ".join(f"{v:5d}" for v in row))
    from .core.checkpoints import metrics_path
    print(f"wrote {metrics_path(path)}")


def cmd_evaluate(args) -> int:
    return _evaluate(Path(args.checkpoint), args.data_dir, args.download)


def cmd_calibrate(args) -> int:
    from .core.finish import calibrate_checkpoint
    for path in args.checkpoints:
        out = calibrate_checkpoint(Path(path), args.data_dir, mirror=args.mirror)
        print(f"{path}: temperature {out['temperature']:.3f} fitted on {out['fitted_on']} images "
              f"({out['fitted_on_split']}); expected calibration error (15 bins) on {out['reported_on']} "
              f"other images: {out['ece_before']:.2%} before, {out['ece_after']:.2%} after")
    return 0


def cmd_novelty(args) -> int:
    from .core.finish import fit_checkpoint
    for path in args.checkpoints:
        out = fit_checkpoint(Path(path), args.data_dir)
        print(f"{path}: novelty fitted on {out['fitted_on']} training images, limit set on "
              f"{out['limit_set_on']} ({out['limit_set_on_split']}); {out['unfamiliar_share']:.1%} of "
              f"{out['reported_on']} other images of its classes count as unfamiliar")
    return 0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cnnlab", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--data-dir", default=None, help="data root (default: $CNNLAB_DATA or ./data)")
    common.add_argument("--download", action="store_true", help="let torchvision download missing data")

    train = sub.add_parser("train", parents=[common], help="train a model and save a checkpoint")
    _add_config_flags(train)
    train.add_argument("--out", default=None, help="checkpoint path (default: checkpoints/DATASET-MODEL.pt)")
    train.add_argument("--init", default=None,
                       help="start from this checkpoint's weights instead of random ones (a second stage)")
    train.add_argument("--dry-run", action="store_true", help="train two batches and save nothing (CI)")
    train.add_argument("--tensorboard", default=None, metavar="DIR",
                       help="also write TensorBoard logs (scalars, test pictures, the model graph, the last "
                            "layer's embedding) to DIR/run-N-DATASET-MODEL (default: none)")
    train.set_defaults(func=cmd_train)

    ev = sub.add_parser("evaluate", parents=[common], help="test accuracy, per class, confusion matrix")
    ev.add_argument("checkpoint")
    ev.set_defaults(func=cmd_evaluate)

    cal = sub.add_parser("calibrate", parents=[common],
                         help="fit and store the temperature that makes a checkpoint's confidence honest")
    cal.add_argument("checkpoints", nargs="+")
    cal.add_argument("--mirror", action=argparse.BooleanOptionalAction, default=None,
                     help="answer photos with their mirror image averaged in (then run `evaluate` again)")
    cal.set_defaults(func=cmd_calibrate)

    nov = sub.add_parser("novelty", parents=[common],
                         help="fit and store how far from its training images an input may lie")
    nov.add_argument("checkpoints", nargs="+")
    nov.set_defaults(func=cmd_novelty)

    args = parser.parse_args(argv)
    from .core.checkpoints import CheckpointError
    from .core.datasets import DataMissingError
    try:
        return args.func(args)
    except (CheckpointError, DataMissingError, KeyError, ValueError) as err:
        print(f"error: {err.args[0] if err.args else err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
