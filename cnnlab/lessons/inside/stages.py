"""The walk through a network: what every stage computes for one input, read with forward hooks.

``walk(model, x)`` runs the model once with a forward hook on every layer and returns its stages
in the order they ran: input -> convolution (with its batch norm folded in) -> activation ->
pooling -> flatten -> dense -> softmax, each with its output, its shape and its number of
parameters. Nothing here knows one architecture: any model built from ``nn`` layers works
(``cnnlab.core.nets.models``' CNN, LeNet, deep CNN, MLP, LSTM, the EfficientNet of the transfer model).

Batch norm is folded into the convolution (or dense layer) before it. After training it only
rescales and shifts each channel, so "conv + batch norm" is one convolution with a changed kernel
and bias: the kernel the student sees is the one that makes the map, and the multiply-and-add
at a pixel (``multiply_add``) gives exactly the map's value there.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ...core.training import eval_mode
from ...i18n import BadValue, Text

ACTIVATIONS = (nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.ELU, nn.GELU, nn.SiLU, nn.Sigmoid, nn.Tanh, nn.Hardswish)
POOLS = (nn.MaxPool2d, nn.AvgPool2d, nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d)
NORMS = (nn.BatchNorm1d, nn.BatchNorm2d)
SKIPPED = (nn.Dropout, nn.Dropout2d, nn.Identity)       # do nothing when the model answers
PHOTO_CHANNELS = 8          # early and late channels shown for a photo


@dataclass
class Stage:
    """One step of the forward pass, for one input."""
    index: int
    kind: str                  # input | conv | dense | act | pool | flatten | lstm | norm | other | softmax
    title: Text | str          # "Convolution 1" (a Text: said in the reader's language), "ReLU", ...
    detail: Text | str         # how the shape came about, in words
    value: torch.Tensor        # this stage's output for the input: (C, H, W) or (N,) or (T, N), float32
    params: int = 0
    module: nn.Module | None = field(default=None, repr=False)
    # convolutions (and dense layers) only: the kernel and bias that make ``value`` (batch norm
    # folded in), the input they read (C, H, W), and how they slide over it
    weight: torch.Tensor | None = field(default=None, repr=False)
    bias: torch.Tensor | None = field(default=None, repr=False)
    input: torch.Tensor | None = field(default=None, repr=False)
    stride: tuple[int, int] = (1, 1)
    padding: tuple[int, int, int, int] = (0, 0, 0, 0)     # left, right, top, bottom
    dilation: tuple[int, int] = (1, 1)
    groups: int = 1
    then: nn.Module | None = field(default=None, repr=False)   # the activation that follows, if any
    source: nn.Module | None = field(default=None, repr=False)  # the layer whose output is ``value``

    @property
    def shape(self) -> tuple[int, ...]:
        return tuple(self.value.shape)

    @property
    def is_map(self) -> bool:
        """Channels of 2-D maps (C, H, W) with more than one pixel each."""
        return self.value.dim() == 3 and self.value.shape[1] * self.value.shape[2] > 1

    @property
    def kernel_size(self) -> tuple[int, int]:
        return tuple(self.weight.shape[-2:]) if self.weight is not None and self.weight.dim() == 4 else (1, 1)


@dataclass
class Walk:
    stages: list[Stage]
    probs: torch.Tensor        # (classes,)

    @property
    def maps(self) -> list[Stage]:
        """Stages of feature maps (not the input picture)."""
        return [s for s in self.stages if s.is_map and s.kind != "input"]

    @property
    def convs(self) -> list[Stage]:
        return [s for s in self.stages if s.kind == "conv"]

    @property
    def has_maps(self) -> bool:
        return any(s.kind == "conv" for s in self.stages)


def shape_text(shape) -> str:
    return " x ".join(str(int(n)) for n in shape)


def _watched(model: nn.Module) -> list[nn.Module]:
    """The layers whose calls make the stages: leaves, plus convolutions, dense layers and LSTMs
    as a whole (EfficientNet's convolutions hold a padding module of their own)."""
    out = []

    def visit(m: nn.Module) -> None:
        if isinstance(m, (nn.Conv2d, nn.Linear, nn.LSTM, nn.GRU, nn.RNN)) or not any(True for _ in m.children()):
            out.append(m)
            return
        for child in m.children():
            visit(child)

    visit(model)
    return out


def run_hooked(model: nn.Module, x: torch.Tensor) -> tuple[list[tuple], torch.Tensor]:
    """Every watched layer's calls in the order they ran: (module, input, output), and the
    logits. Eval mode for the call only (the model's own modes come back after)."""
    calls: list[tuple] = []

    def hook(module, inputs, output):
        calls.append((module, inputs[0] if inputs else None, output))

    handles = [m.register_forward_hook(hook) for m in _watched(model)]
    try:
        with torch.no_grad(), eval_mode(model):
            logits = model(x)
    finally:
        for h in handles:
            h.remove()
    return calls, logits


def first_tensor(value):
    if isinstance(value, torch.Tensor):
        return value
    if isinstance(value, (tuple, list)):
        for v in value:
            t = first_tensor(v)
            if t is not None:
                return t
    return None


def pair(v) -> tuple[int, int]:
    return (int(v), int(v)) if isinstance(v, int) else (int(v[0]), int(v[1]))


def _conv_padding(conv: nn.Conv2d) -> tuple[int, int, int, int]:
    """(left, right, top, bottom) zeros around the input, including a static padding module."""
    pad = getattr(conv, "static_padding", None)
    if isinstance(pad, nn.ZeroPad2d):
        extra = tuple(int(p) for p in pad.padding)
    else:
        extra = (0, 0, 0, 0)
    if isinstance(conv.padding, str):
        if conv.padding == "valid":
            ph = pw = (0, 0)
        else:                                   # "same": PyTorch puts the odd pixel on the right
            th = conv.dilation[0] * (conv.kernel_size[0] - 1)
            tw = conv.dilation[1] * (conv.kernel_size[1] - 1)
            ph, pw = (th // 2, th - th // 2), (tw // 2, tw - tw // 2)
    else:
        ph = (conv.padding[0], conv.padding[0])
        pw = (conv.padding[1], conv.padding[1])
    return pw[0] + extra[0], pw[1] + extra[1], ph[0] + extra[2], ph[1] + extra[3]


def _fold(weight: torch.Tensor, bias: torch.Tensor | None, bn) -> tuple[torch.Tensor, torch.Tensor]:
    """weight and bias of a layer followed by an eval-mode batch norm, as one layer."""
    w = weight.detach().float()
    b = bias.detach().float() if bias is not None else torch.zeros(w.shape[0])
    if bn is None:
        return w, b
    scale = (bn.weight.detach().float() if bn.weight is not None else torch.ones_like(bn.running_var)) \
        / torch.sqrt(bn.running_var.float() + bn.eps)
    shift = bn.bias.detach().float() if bn.bias is not None else torch.zeros_like(scale)
    w = w * scale.view(-1, *([1] * (w.dim() - 1)))
    return w, (b - bn.running_mean.float()) * scale + shift


def _count(module: nn.Module | None) -> int:
    return sum(p.numel() for p in module.parameters()) if module is not None else 0


def _act_title(m: nn.Module) -> str:
    return {"ReLU6": "ReLU6", "SiLU": "Swish (SiLU)", "GELU": "GELU"}.get(type(m).__name__, type(m).__name__)


def walk(model: nn.Module, x: torch.Tensor, temperature: float = 1.0) -> Walk:
    """The stages of ``model`` for one input ``x`` (1, C, H, W); see the module docstring.
    ``temperature``: the checkpoint's calibration (cnnlab.core.calibration), applied before the softmax."""
    if x.dim() != 4 or x.shape[0] != 1:
        raise BadValue(Text("errors.walk_one_picture", shape=str(tuple(x.shape))))
    calls, logits = run_hooked(model, x)
    device_free = lambda t: t.detach().float().cpu()[0] if t.dim() > 0 and t.shape[0] == 1 else t.detach().float().cpu()  # noqa: E731
    stages = [Stage(0, "input", Text("inside.stage_input"), Text("inside.how_input", shape=shape_text(x.shape[1:])),
                    device_free(x))]
    counters: dict[str, int] = {}
    i = 0
    while i < len(calls):
        module, inp, out = calls[i]
        out = first_tensor(out)
        inp = first_tensor(inp)
        i += 1
        if out is None or isinstance(module, SKIPPED):
            continue
        bn = None
        if isinstance(module, (nn.Conv2d, nn.Linear)) and i < len(calls) and isinstance(calls[i][0], NORMS) \
                and first_tensor(calls[i][1]) is out:
            bn = calls[i][0]
            out = first_tensor(calls[i][2])
            i += 1
        value = device_free(out)
        before = stages[-1].value
        folded = Text("inside.how_folded") if bn is not None else ""
        if isinstance(module, nn.Conv2d):
            counters["conv"] = counters.get("conv", 0) + 1
            w, b = _fold(module.weight, module.bias, bn)
            kh, kw = module.kernel_size
            pad = _conv_padding(module)
            cin = module.in_channels // module.groups
            h_in = inp.shape[-2]
            arith = (f"({h_in} + {pad[2] + pad[3]} - {module.dilation[0] * (kh - 1) + 1}) / {module.stride[0]} + 1 "
                     f"= {value.shape[-2]}")
            how = Text("inside.how_conv", filters=module.out_channels, kh=kh, kw=kw, cin=cin, pad=pad[2],
                       stride=module.stride[0], arith=arith, folded=folded,
                       groups="" if module.groups == 1 else Text("inside.how_groups", groups=module.groups))
            stages.append(Stage(len(stages), "conv", Text("inside.stage_conv", n=counters["conv"]), how, value,
                                _count(module) + _count(bn), module, w, b, device_free(inp),
                                pair(module.stride), pad, pair(module.dilation), module.groups,
                                source=bn or module))
        elif isinstance(module, nn.Linear):
            counters["dense"] = counters.get("dense", 0) + 1
            w, b = _fold(module.weight, module.bias, bn)
            how = Text("inside.how_dense", units=module.out_features, inputs=module.in_features, folded=folded)
            stages.append(Stage(len(stages), "dense", Text("inside.stage_dense", n=counters["dense"]), how, value,
                                _count(module) + _count(bn), module, w, b, device_free(inp),
                                source=bn or module))
        elif isinstance(module, ACTIVATIONS):
            stages.append(Stage(len(stages), "act", _act_title(module),
                                Text("inside.how_relu") if isinstance(module, nn.ReLU)
                                else Text("inside.how_act", act=_act_title(module)), value, 0, module))
            if stages[-2].kind in ("conv", "dense") and stages[-2].then is None:
                stages[-2].then = module
        elif isinstance(module, POOLS):
            k = getattr(module, "kernel_size", None)
            biggest = "Max" in type(module).__name__
            name = Text("inside.stage_max_pool" if biggest else "inside.stage_avg_pool")
            how_much = Text("inside.largest" if biggest else "inside.mean")
            if k is not None:
                how = Text("inside.how_pool", how=how_much, kh=pair(k)[0], kw=pair(k)[1],
                           stride=pair(module.stride)[0], before=shape_text(before.shape[-2:]),
                           after=shape_text(value.shape[-2:]))
            else:
                how = Text("inside.how_pool_whole", how=how_much)
            stages.append(Stage(len(stages), "pool", name, how, value, 0, module))
        elif isinstance(module, nn.Flatten):
            stages.append(Stage(len(stages), "flatten", Text("inside.stage_flatten"),
                                Text("inside.how_flatten", shape=shape_text(before.shape), n=value.numel()),
                                value, 0, module))
        elif isinstance(module, (nn.LSTM, nn.GRU, nn.RNN)):
            steps = value.shape[0] if value.dim() == 2 else 1
            stages.append(Stage(len(stages), "lstm", type(module).__name__,
                                Text("inside.how_rnn", steps=steps, memory=module.hidden_size),
                                value, _count(module), module))
        elif isinstance(module, NORMS):
            stages.append(Stage(len(stages), "norm", Text("inside.stage_norm"), Text("inside.how_norm"),
                                value, _count(module), module))
        else:
            stages.append(Stage(len(stages), "other", type(module).__name__, "", value, _count(module), module))
    logits = logits.detach().float().cpu()[0]
    probs = torch.softmax(logits / temperature, 0)
    how = Text("inside.how_softmax") if temperature == 1.0 else Text("inside.how_softmax_t", t=temperature)
    stages.append(Stage(len(stages), "softmax", "Softmax", how, probs))
    return Walk(stages, probs)


# --------------------------------------------------------------------------- the maths at a pixel
@dataclass
class MultiplyAdd:
    """The convolution at one output pixel, written out."""
    channel: int
    row: int
    col: int
    inputs: np.ndarray         # (input channels, kh, kw): what the kernel lies on (zeros = padding)
    weights: np.ndarray        # (input channels, kh, kw)
    in_channels: list[int]     # which input channels those are
    partial: np.ndarray        # (input channels,): sum of inputs x weights per input channel
    bias: float
    total: float               # sum(partial) + bias
    after: float | None        # the activation of total (None when no activation follows)
    after_name: str
    map_value: float           # the stage's value at that pixel (equals total)


def multiply_add(stage: Stage, channel: int, row: int, col: int) -> MultiplyAdd:
    """Inputs x weights + bias = value at (channel, row, col) of a convolution stage, computed
    from the real weights and the stage's real input (float64, so the sum is exact to print)."""
    if stage.kind != "conv" or stage.weight is None or stage.input is None:
        raise BadValue(Text("errors.not_a_convolution", stage=stage.title))
    c_out, _, height, width = (stage.value.shape[0], None, *stage.value.shape[-2:])
    if not (0 <= channel < c_out and 0 <= row < height and 0 <= col < width):
        raise BadValue(Text("errors.pixel_outside", channel=channel, row=row, col=col, shape=shape_text(stage.shape)))
    left, right, top, bottom = stage.padding
    x = F.pad(stage.input.double(), (left, right, top, bottom))
    cin_g = stage.weight.shape[1]
    group = channel // (c_out // stage.groups)
    chans = list(range(group * cin_g, (group + 1) * cin_g))
    (kh, kw), (sh, sw), (dh, dw) = stage.kernel_size, stage.stride, stage.dilation
    y0, x0 = row * sh, col * sw
    patch = x[chans, y0:y0 + dh * (kh - 1) + 1:dh, x0:x0 + dw * (kw - 1) + 1:dw]
    w = stage.weight[channel].double()
    partial = (patch * w).sum(dim=(1, 2))
    bias = float(stage.bias[channel])
    total = float(partial.sum()) + bias
    after = None
    if stage.then is not None:
        with torch.no_grad():
            after = float(stage.then(torch.tensor([total], dtype=torch.float32))[0])
    return MultiplyAdd(channel, row, col, patch.numpy(), w.numpy(), chans, partial.numpy(), bias, total,
                       after, _act_title(stage.then) if stage.then is not None else "",
                       float(stage.value[channel, row, col]))


# --------------------------------------------------------------------------- photos
@dataclass
class Channels:
    title: Text
    shape: tuple[int, ...]
    channels: list[int]
    maps: np.ndarray           # (n, H, W)


def photo_channels(model: nn.Module, x: torch.Tensor, n: int = PHOTO_CHANNELS) -> tuple[Channels, Channels] | None:
    """For a photo model: the ``n`` channels of its first and of its last maps (after their
    activation) that change most across the photo. (The most active ones on average are mostly
    flat: a channel near its ceiling everywhere shows as one blue square, not as edges.)
    None for a model without maps."""
    w = walk(model, x)
    maps = [s for s in w.stages if s.is_map and s.kind in ("act", "conv")]
    if not maps:
        return None

    def pick(stage: Stage, title: Text) -> Channels:
        variation = stage.value.flatten(1).std(dim=1)
        chans = variation.argsort(descending=True)[:n].sort().values.tolist()
        return Channels(title, stage.shape, chans, stage.value[chans].numpy())

    return pick(maps[0], Text("inside.photo_early")), pick(maps[-1], Text("inside.photo_late"))
