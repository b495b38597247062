"""Build your own network: a layer stack as plain data -> a ``Classifier``, with the shape and
parameter count of every layer, and a sentence for a stack that cannot work.

A stack is a JSON-able list of dicts, one per layer, for example::

    [{"type": "conv", "channels": 16, "kernel": 5, "padding": 2},
     {"type": "relu"}, {"type": "maxpool", "size": 2},
     {"type": "flatten"}, {"type": "dense", "units": 64}, {"type": "relu"}]

The output layer (a dense layer with one unit per class) is always added after the stack, so
``embed`` is exactly what it sees, as in the registry's models: Draw, t-SNE and Inside work on a
built network unchanged. Dropout at the very end of the stack goes in front of the output layer
(``head``), as in the registry's CNN, so the registry's models written as stacks (``TEMPLATES``)
have the same parameter names and load each other's weights.

Layer types and their settings (defaults in brackets):
    conv      channels [16], kernel [3], padding [kernel // 2], stride [1], bias [true]
    maxpool / avgpool   size [2]  (a size x size window, moved by its own size)
    batchnorm (over the channels of an image, or the units of a vector)
    dropout   p [0.25]
    relu / tanh / sigmoid / leakyrelu
    flatten   (an image of C x H x W numbers -> one vector)
    dense     units [128]
"""
from __future__ import annotations

import math
from dataclasses import dataclass

from torch import nn

from ...i18n import Refusal, Text, UnknownName
from .base import Classifier

# ---- limits: what keeps training a built network sensible on a 2-core laptop (the server
# refuses anything beyond them; the editor only shows them)
MAX_LAYERS = 24                 # layers in a stack (the deep CNN has 18)
MAX_CHANNELS = 256              # channels of one convolution
MAX_UNITS = 2048                # units of one dense layer
MAX_KERNEL = 7                  # kernel side (1..7)
MAX_PADDING = 3                 # padding on each side (0..3)
MAX_STRIDE = 3                  # convolution stride (1..3)
MAX_POOL = 4                    # pooling window (2..4)
MAX_DROPOUT = 0.9               # dropout probability (0..0.9)
MAX_PARAMS = 2_000_000          # parameters in all: 8x the deep CNN (~0.24 M)
MAX_MACS = 20_000_000           # multiply-adds per 28x28 image: ~2.6x the deep CNN (7.6 M). Measured
                                # by bench/builder_limits.py on a busy 2-core box: deep CNN 185-246
                                # images/s (4-5 min per MNIST epoch), a 19.6 M network ~116 images/s
                                # (~9 min); the time budget and training-set size shorten a lesson's run

BUILT = "custom"                # the model name a built network has in configs and checkpoints
ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid, "leakyrelu": nn.LeakyReLU}
TYPES = ("conv", "maxpool", "avgpool", "batchnorm", "dropout", *ACTIVATIONS, "flatten", "dense")
# type -> {setting: (default, low, high, kind)}; a default of None is worked out from the others
SETTINGS: dict[str, dict[str, tuple]] = {
    "conv": {"channels": (16, 1, MAX_CHANNELS, int), "kernel": (3, 1, MAX_KERNEL, int),
             "padding": (None, 0, MAX_PADDING, int), "stride": (1, 1, MAX_STRIDE, int),
             "bias": (True, False, True, bool)},
    "maxpool": {"size": (2, 2, MAX_POOL, int)},
    "avgpool": {"size": (2, 2, MAX_POOL, int)},
    "dropout": {"p": (0.25, 0.0, MAX_DROPOUT, float)},
    "dense": {"units": (128, 1, MAX_UNITS, int)},
}


def type_name(kind: str) -> Text:
    """A layer type in words ("convolution", "卷积"): the key ``builder.types.<type>``."""
    return Text(f"builder.types.{kind}")


class BuildError(Refusal, ValueError):
    """A stack that cannot work; its argument is a Text (cnnlab.i18n) naming the layer and why."""


# ---------------------------------------------------------------------------- templates
def _conv(channels, kernel, padding=None, bias=True) -> dict:
    layer = {"type": "conv", "channels": channels, "kernel": kernel,
             "padding": kernel // 2 if padding is None else padding}
    if not bias:
        layer["bias"] = False
    return layer


RELU, FLAT, BN = {"type": "relu"}, {"type": "flatten"}, {"type": "batchnorm"}
POOL2 = {"type": "maxpool", "size": 2}

# The registry's models as stacks: the same layers, the same parameter names.
TEMPLATES: dict[str, list[dict]] = {
    "mlp": [FLAT, {"type": "dense", "units": 256}, RELU, {"type": "dropout", "p": 0.2},
            {"type": "dense", "units": 128}, RELU, {"type": "dropout", "p": 0.2}],
    "cnn": [_conv(16, 5), BN, RELU, POOL2, _conv(32, 5), BN, RELU, POOL2, FLAT,
            {"type": "dropout", "p": 0.25}],
    "lenet": [_conv(32, 5), RELU, POOL2, _conv(64, 5, 0), RELU, POOL2, FLAT,
              {"type": "dense", "units": 120}, RELU, {"type": "dense", "units": 84}, RELU],
    "cnn-deep": [_conv(32, 3, bias=False), BN, RELU, POOL2, _conv(64, 3, bias=False), BN, RELU, POOL2,
                 _conv(128, 3, bias=False), BN, RELU, POOL2, FLAT, {"type": "dropout", "p": 0.3},
                 {"type": "dense", "units": 128}, BN, RELU, {"type": "dropout", "p": 0.3}],
}


def template(name: str) -> list[dict]:
    """A fresh copy of a registry model's stack (a clear error on a typo)."""
    if name not in TEMPLATES:
        raise UnknownName(Text("errors.unknown_template", name=repr(name), choices=", ".join(TEMPLATES)))
    return [dict(layer) for layer in TEMPLATES[name]]


# ---------------------------------------------------------------------------- checking
def _where(i: int, layer: dict | None = None) -> Text:
    kind = layer.get("type") if isinstance(layer, dict) else None
    if kind in TYPES:
        return Text("builder.where_type", n=i + 1, type=type_name(kind))
    return Text("builder.where", n=i + 1)


def normalize(layers) -> list[dict]:
    """The stack with every setting present, as plain ints/floats/bools; BuildError naming the
    layer for an unknown type or a setting out of range."""
    if not isinstance(layers, (list, tuple)):
        raise BuildError(Text("builder.not_a_list"))
    if len(layers) > MAX_LAYERS:
        raise BuildError(Text("builder.too_many_layers", n=len(layers), most=MAX_LAYERS))
    out = []
    for i, layer in enumerate(layers):
        if not isinstance(layer, dict) or layer.get("type") not in TYPES:
            got = layer.get("type") if isinstance(layer, dict) else layer
            raise BuildError(Text("builder.not_a_type", n=i + 1, got=repr(str(got)[:40]), types=", ".join(TYPES)))
        kind = layer["type"]
        clean = {"type": kind}
        settings = SETTINGS.get(kind, {})
        unknown = sorted(set(layer) - set(settings) - {"type"})
        if unknown:
            raise BuildError(Text("builder.no_setting_has" if settings else "builder.no_setting_none",
                                  where=_where(i, layer), name=repr(unknown[0][:40]), settings=", ".join(settings)))
        for name, (default, low, high, typ) in settings.items():
            value = layer.get(name, default)
            if value is None and name == "padding":
                value = clean["kernel"] // 2
            clean[name] = _number(value, low, high, typ, Text("builder.setting", where=_where(i, layer),
                                                               name=Text(f"builder.settings.{name}")))
        out.append(clean)
    return out


def _number(value, low, high, typ, what: Text):
    if typ is bool:
        if isinstance(value, bool):
            return value
        raise BuildError(Text("builder.not_a_flag", what=what, got=repr(str(value)[:40])))
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = math.nan
    if isinstance(value, bool) or not math.isfinite(number) or (typ is int and number != int(number)):
        kind = Text("limits.whole_number" if typ is int else "limits.number")
        raise BuildError(Text("builder.not_a_number", what=what, kind=kind, low=low, high=high,
                              got=repr(str(value)[:40])))
    if not low <= number <= high:
        raise BuildError(Text("builder.out_of_range", what=what, low=low, high=high, got=f"{number:g}"))
    return int(number) if typ is int else float(number)


@dataclass(frozen=True)
class LayerInfo:
    """One row of the editor: what a layer does and what comes out of it."""
    index: int                     # 0-based position; len(stack) for the output layer
    type: str
    title: Text                    # "conv 16, 5x5, padding 2"
    shape: tuple[int, ...]         # output shape of one image (C, H, W) or (N,)
    params: int
    macs: int                      # multiply-adds per image


@dataclass(frozen=True)
class Summary:
    rows: tuple[LayerInfo, ...]    # the layers that fit, then the output layer when all do
    input_shape: tuple[int, ...]
    params: int
    macs: int
    problem: Text | None           # None: the stack can be built and trained (else a sentence)

    @property
    def ok(self) -> bool:
        return self.problem is None


def title(layer: dict) -> Text:
    """A layer in a few words: "conv 16, 5x5, padding 2"."""
    kind = layer["type"]
    if kind == "conv":
        return Text("builder.title_conv", channels=layer["channels"], kernel=layer["kernel"],
                    padding=Text("builder.title_padding", n=layer["padding"]) if layer.get("padding") else "",
                    stride=Text("builder.title_stride", n=layer["stride"]) if layer.get("stride", 1) != 1 else "",
                    bias=Text("builder.title_no_bias") if layer.get("bias") is False else "")
    if kind in ("maxpool", "avgpool"):
        return Text(f"builder.title_{kind}", size=layer["size"])
    if kind == "dropout":
        return Text("builder.title_dropout", p=f"{layer['p']:g}")
    if kind == "dense":
        return Text("builder.title_dense", units=layer["units"])
    return type_name(kind)


def shape_text(shape: tuple[int, ...]) -> str:
    return " x ".join(str(s) for s in shape)


def summarize(layers, spec) -> Summary:
    """Every layer's output shape, parameters and multiply-adds for data set ``spec``, up to the
    first one that cannot work (``problem`` says which and why), then the limits on the whole."""
    shape: tuple[int, ...] = (spec.channels, spec.size, spec.size)
    if spec.kind == "photo":
        return Summary((), shape, 0, 0, Text("builder.photos", dataset=Text(f"datasets.{spec.name}")))
    try:
        stack = normalize(layers)
    except BuildError as err:
        return Summary((), shape, 0, 0, err.args[0])
    rows, params, macs = [], 0, 0
    start = shape
    for i, layer in enumerate(stack):
        try:
            out, p, m = _step(layer, shape, i)
        except BuildError as err:
            return Summary(tuple(rows), start, params, macs, err.args[0])
        rows.append(LayerInfo(i, layer["type"], title(layer), out, p, m))
        shape, params, macs = out, params + p, macs + m
    if len(shape) != 1:
        return Summary(tuple(rows), start, params, macs, Text("builder.output_gets_image", shape=shape_text(shape)))
    p = shape[0] * spec.num_classes + spec.num_classes
    rows.append(LayerInfo(len(stack), "output", Text("builder.title_output", n=spec.num_classes),
                          (spec.num_classes,), p, p - spec.num_classes))
    params, macs = params + p, macs + p - spec.num_classes
    problem = None
    if params > MAX_PARAMS:
        big = max(rows, key=lambda r: r.params)
        problem = Text("builder.too_many_params", params=params, most=MAX_PARAMS, row=_row_name(big), n=big.params)
    elif macs > MAX_MACS:
        big = max(rows, key=lambda r: r.macs)
        problem = Text("builder.too_many_macs", macs=macs, most=MAX_MACS, row=_row_name(big), n=big.macs)
    return Summary(tuple(rows), start, params, macs, problem)


def _row_name(row: LayerInfo) -> Text:
    return Text("builder.the_output_layer") if row.type == "output" else Text("builder.row_name", n=row.index + 1,
                                                                               title=row.title)


def _step(layer: dict, shape: tuple[int, ...], i: int) -> tuple[tuple[int, ...], int, int]:
    """(output shape, parameters, multiply-adds) of one layer on one input of ``shape``."""
    kind, where = layer["type"], _where(i, layer)
    image = len(shape) == 3
    if kind in ("conv", "maxpool", "avgpool") and not image:
        return _refuse(Text("builder.needs_image", where=where, n=shape[0]))
    if kind == "conv":
        c, h, w = shape
        k, pad, s = layer["kernel"], layer["padding"], layer["stride"]
        if h + 2 * pad < k:
            return _refuse(Text("builder.smaller_than_kernel", where=where, h=h, w=w, k=k, pad=pad))
        oh, ow = (h + 2 * pad - k) // s + 1, (w + 2 * pad - k) // s + 1
        cout = layer["channels"]
        p = c * cout * k * k + (cout if layer["bias"] else 0)
        return (cout, oh, ow), p, c * cout * k * k * oh * ow
    if kind in ("maxpool", "avgpool"):
        c, h, w = shape
        size = layer["size"]
        if h < size:
            return _refuse(Text("builder.smaller_than_window", where=where, h=h, w=w, size=size))
        return (c, h // size, w // size), 0, 0
    if kind == "dense":
        if image:
            return _refuse(Text("builder.dense_gets_image", where=where, shape=shape_text(shape)))
        units = layer["units"]
        return (units,), shape[0] * units + units, shape[0] * units
    if kind == "batchnorm":
        return shape, 2 * shape[0], 0
    if kind == "flatten":
        return (math.prod(shape),), 0, 0
    return shape, 0, 0                                   # dropout and activations


def _refuse(sentence: Text):
    raise BuildError(sentence)


def check(layers, spec) -> Text | None:
    """A sentence (a Text) naming the layer and why for a stack that cannot work on ``spec``, else None."""
    return summarize(layers, spec).problem


# ---------------------------------------------------------------------------- building
def _module(layer: dict, shape: tuple[int, ...]) -> nn.Module:
    kind = layer["type"]
    if kind == "conv":
        return nn.Conv2d(shape[0], layer["channels"], layer["kernel"], stride=layer["stride"],
                         padding=layer["padding"], bias=layer["bias"])
    if kind == "maxpool":
        return nn.MaxPool2d(layer["size"])
    if kind == "avgpool":
        return nn.AvgPool2d(layer["size"])
    if kind == "batchnorm":
        return nn.BatchNorm2d(shape[0]) if len(shape) == 3 else nn.BatchNorm1d(shape[0])
    if kind == "dropout":
        return nn.Dropout(layer["p"])
    if kind == "flatten":
        return nn.Flatten()
    if kind == "dense":
        return nn.Linear(shape[0], layer["units"])
    return ACTIVATIONS[kind]()


class BuiltNet(Classifier):
    """A network built from a stack: ``features`` is the stack (without trailing dropout),
    ``head`` the trailing dropout and the output layer. ``layers`` is the stack as plain data,
    which the checkpoint stores so the network can be built again."""

    def __init__(self, layers, spec):
        super().__init__()
        summary = summarize(layers, spec)
        if not summary.ok:
            raise BuildError(summary.problem)
        stack = normalize(layers)
        self.layers = stack
        cut = len(stack)
        while cut and stack[cut - 1]["type"] == "dropout":
            cut -= 1
        shapes = [summary.input_shape] + [r.shape for r in summary.rows]
        modules = [_module(layer, shapes[i]) for i, layer in enumerate(stack)]
        self.features = nn.Sequential(*modules[:cut])
        out = nn.Linear(shapes[len(stack)][0], spec.num_classes)
        self.head = nn.Sequential(*modules[cut:], out) if cut < len(stack) else out


def build(layers, spec) -> BuiltNet:
    """The network for ``layers`` on data set ``spec``; BuildError (a sentence) if it cannot work."""
    return BuiltNet(layers, spec)
