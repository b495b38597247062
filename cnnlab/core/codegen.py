"""Take the code home: the standalone PyTorch script of a run's settings.

``script(config)`` writes a short, readable program (in the style of pytorch/examples'
``mnist/main.py``) that trains the same network the same way with torchvision's own MNIST /
Fashion-MNIST loaders: the layers (a registry model's stack from ``builder.TEMPLATES`` or the
student's own), the optimizer, the learning-rate schedule, batch size, epochs, training-set size,
augmentation, weight decay and seed. It runs without cnnlab; ``--dry-run`` trains and tests one
batch (what a test runs), ``--download`` lets torchvision fetch the data the first time.
"""
from __future__ import annotations

from ..config import TrainConfig
from ..i18n import Refusal, Text
from . import datasets, optimizers
from .nets import builder

TORCHVISION = {"mnist": "MNIST", "fashion": "FashionMNIST"}


class CodegenError(Refusal, ValueError):
    """Settings the script cannot reproduce; its argument is a Text (cnnlab.i18n) saying why. (The
    script itself is Python with English comments, whatever the reader's language.)"""


def layers_of(config: TrainConfig) -> list[dict]:
    """The stack the script writes out: the student's own, or the registry model's template."""
    if config.model == builder.BUILT:
        return builder.normalize(config.layers or [])
    if config.model not in builder.TEMPLATES:
        raise CodegenError(Text("codegen.model", models=", ".join(builder.TEMPLATES), model=config.model))
    layers = builder.template(config.model)
    if config.dropout is not None:              # the run's own dropout (the layers stay: the same names)
        layers = [{**x, "p": config.dropout} if x["type"] == "dropout" else x for x in layers]
    return builder.normalize(layers)


def _module_code(layer: dict, shape: tuple[int, ...]) -> str:
    kind = layer["type"]
    if kind == "conv":
        extra = "".join([f", stride={layer['stride']}" if layer["stride"] != 1 else "",
                         f", padding={layer['padding']}" if layer["padding"] else "",
                         ", bias=False" if not layer["bias"] else ""])
        return f"nn.Conv2d({shape[0]}, {layer['channels']}, kernel_size={layer['kernel']}{extra})"
    if kind in ("maxpool", "avgpool"):
        return f"nn.{'Max' if kind == 'maxpool' else 'Avg'}Pool2d({layer['size']})"
    if kind == "batchnorm":
        return f"nn.BatchNorm{2 if len(shape) == 3 else 1}d({shape[0]})"
    if kind == "dropout":
        return f"nn.Dropout({layer['p']:g})"
    if kind == "flatten":
        return "nn.Flatten()"
    if kind == "dense":
        return f"nn.Linear({shape[0]}, {layer['units']})"
    return {"relu": "nn.ReLU()", "tanh": "nn.Tanh()", "sigmoid": "nn.Sigmoid()",
            "leakyrelu": "nn.LeakyReLU()"}[kind]


def network_code(layers: list[dict], spec) -> str:
    """``class Net`` with ``features`` and ``head``, a shape comment on every layer."""
    summary = builder.summarize(layers, spec)
    if not summary.ok:
        raise CodegenError(summary.problem)
    cut = len(layers)
    while cut and layers[cut - 1]["type"] == "dropout":
        cut -= 1
    shapes = [summary.input_shape] + [r.shape for r in summary.rows]

    def lines(indices) -> list[str]:
        out = []
        for i in indices:
            code = _module_code(layers[i], shapes[i]) + ","
            out.append(f"            {code:<52}# -> {builder.shape_text(shapes[i + 1])}")
        return out

    features = lines(range(cut)) or ["            nn.Identity(),"]
    head = lines(range(cut, len(layers)))
    last = f"nn.Linear({shapes[len(layers)][0]}, {spec.num_classes})"
    if head:                                            # dropout, then the output layer
        head = ["        self.head = nn.Sequential(", *head,
                f"            {last + ',':<52}# -> {spec.num_classes} (one score per class)", "        )"]
    else:                                               # the output layer alone (as LeNet has it)
        head = [f"        self.head = {last:<44}# -> {spec.num_classes} (one score per class)"]
    return "\n".join([
        "class Net(nn.Module):",
        f'    """{builder.shape_text(summary.input_shape)} picture -> {spec.num_classes} class scores '
        f'({summary.params:,} parameters)."""',
        "",
        "    def __init__(self):",
        "        super().__init__()",
        "        self.features = nn.Sequential(",
        *features,
        "        )",
        *head,
        "",
        "    def forward(self, x):",
        "        return self.head(self.features(x))",
    ])


def script_name(config: TrainConfig) -> str:
    return f"train_{config.dataset}_{config.model.replace('-', '_')}.py"


def script(config: TrainConfig) -> str:
    """The whole program for ``config``; CodegenError for settings it cannot reproduce."""
    spec = datasets.get_spec(config.dataset)
    if config.dataset not in TORCHVISION:
        raise CodegenError(Text("codegen.dataset", dataset=Text(f"datasets.{spec.name}")))
    if config.optimizer not in optimizers.NAMES:
        raise CodegenError(Text("codegen.optimizer", name=repr(config.optimizer)))
    layers = layers_of(config)
    net = network_code(layers, spec)
    tv = TORCHVISION[config.dataset]
    mean, std = spec.mean[0], spec.std[0]
    augment = ("transforms.RandomAffine(degrees=10, translate=(2 / 28, 2 / 28), scale=(0.9, 1.1)),\n"
               "                       ") if config.augment else ""
    schedule = config.schedule == "onecycle"
    budget = (f"\n# The app stopped this run after {config.time_budget_s:g} s; this script trains every epoch."
              if config.time_budget_s else "")
    name = script_name(config)
    decay = "args.weight_decay" if config.weight_decay else None
    optimizer = optimizers.code(config.optimizer, "model.parameters()", "args.lr", decay, module="optim")
    return f'''"""Train {'your own network' if config.model == builder.BUILT else config.model} on {spec.title} with \
{config.optimizer}, as cnnlab's Train tab did.

    python {name} --download    # the first time: torchvision saves {tv} into --data
    python {name}               # train (add --dry-run to check it runs on one batch)

Written by cnnlab from the settings of the run; needs only torch and torchvision.
"""{budget}
import argparse
import os

import torch
import torch.nn as nn
import torch.nn.functional as F
import torch.optim as optim
from torchvision import datasets, transforms


{net}


def train(model, device, loader, optimizer, scheduler, epoch, dry_run):
    model.train()
    for batch, (x, y) in enumerate(loader):
        x, y = x.to(device), y.to(device)
        loss = F.cross_entropy(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if scheduler is not None:
            scheduler.step()
        if batch % 100 == 0 or dry_run:
            print(f"epoch {{epoch}} [{{batch * len(x)}}/{{len(loader.dataset)}}] loss {{loss.item():.4f}}")
        if dry_run:
            break


@torch.no_grad()
def test(model, device, loader, dry_run):
    model.eval()
    loss, correct, seen = 0.0, 0, 0
    for x, y in loader:
        x, y = x.to(device), y.to(device)
        logits = model(x)
        loss += F.cross_entropy(logits, y, reduction="sum").item()
        correct += (logits.argmax(1) == y).sum().item()
        seen += len(y)
        if dry_run:
            break
    print(f"test loss {{loss / seen:.4f}}, accuracy {{correct}}/{{seen}} ({{correct / seen:.2%}})")
    return correct / seen


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0],
                                     formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    parser.add_argument("--batch-size", type=int, default={config.batch_size})
    parser.add_argument("--epochs", type=int, default={config.epochs})
    parser.add_argument("--lr", type=float, default={config.lr!r}, help="peak learning rate")
    parser.add_argument("--weight-decay", type=float, default={config.weight_decay!r})
    parser.add_argument("--train-size", type=int, default={config.train_size}, help="0 = all training images")
    parser.add_argument("--seed", type=int, default={config.seed})
    parser.add_argument("--data", default=os.environ.get("CNNLAB_DATA", "./data"), help="data folder")
    parser.add_argument("--download", action="store_true", help="let torchvision download the data")
    parser.add_argument("--dry-run", action="store_true", help="one batch of training and of testing")
    parser.add_argument("--save", default="", help="save the trained weights to this file")
    args = parser.parse_args()
    torch.manual_seed(args.seed)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")

    normalize = transforms.Normalize(({mean!r},), ({std!r},))
    train_tf = transforms.Compose([{augment}transforms.ToTensor(), normalize])
    test_tf = transforms.Compose([transforms.ToTensor(), normalize])
    train_set = datasets.{tv}(args.data, train=True, download=args.download, transform=train_tf)
    test_set = datasets.{tv}(args.data, train=False, download=args.download, transform=test_tf)
    if 0 < args.train_size < len(train_set):       # the same images cnnlab used
        pick = torch.randperm(len(train_set), generator=torch.Generator().manual_seed(0))[:args.train_size]
        train_set = torch.utils.data.Subset(train_set, pick.sort().values.tolist())
    train_loader = torch.utils.data.DataLoader(train_set, batch_size=args.batch_size, shuffle=True)
    test_loader = torch.utils.data.DataLoader(test_set, batch_size=1000, shuffle=False)

    model = Net().to(device)
    print(f"{{sum(p.numel() for p in model.parameters()):,}} parameters")
    optimizer = {optimizer}
    steps = args.epochs * len(train_loader)
    {"# one-cycle: the learning rate warms up for a quarter of the steps, then anneals to ~0" if schedule else
     "# a constant learning rate"}
    scheduler = {"optim.lr_scheduler.OneCycleLR(optimizer, max_lr=args.lr, total_steps=steps, pct_start=0.25)"
                 if schedule else "None"}{" if steps >= 8 else None" if schedule else ""}
    for epoch in range(1, args.epochs + 1):
        train(model, device, train_loader, optimizer, scheduler, epoch, args.dry_run)
        test(model, device, test_loader, args.dry_run)
        if args.dry_run:
            break
    if args.save:
        torch.save(model.state_dict(), args.save)


if __name__ == "__main__":
    main()
'''
