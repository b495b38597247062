"""Inside a network: what every stage computes for one input, read with forward hooks.

``walk(model, x)`` runs the model once with a forward hook on every layer and returns its stages
in the order they ran: input -> convolution (with its batch norm folded in) -> activation ->
pooling -> flatten -> dense -> softmax, each with its output, its shape and its number of
parameters. Nothing here knows one architecture: any model built from ``nn`` layers works
(``cnnlab.models``' CNN, LeNet, deep CNN, MLP, LSTM, the EfficientNet of the transfer model).

Batch norm is folded into the convolution (or dense layer) before it. After training it only
rescales and shifts each channel, so "conv + batch norm" is one convolution with a changed kernel
and bias: the kernel the student sees is the one that makes the map, and the multiply-and-add
at a pixel (``multiply_add``) gives exactly the map's value there.

Also here: the first layer's filters and the test patches that excite each most
(``FilterPatches``, cached per checkpoint file), the MLP's first-layer weights as 28x28 templates
(``templates``), a few early and late channels of a photo model (``photo_channels``), pictures of
maps as small palette PNGs (``strip_png``), and ``LiveInside``, the shared job's listener that
keeps the first layer and the maps of a fixed test picture while the class's run trains.
"""
from __future__ import annotations

import hashlib
import io
import math
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from . import datasets
from .training import eval_mode

ACTIVATIONS = (nn.ReLU, nn.ReLU6, nn.LeakyReLU, nn.ELU, nn.GELU, nn.SiLU, nn.Sigmoid, nn.Tanh, nn.Hardswish)
POOLS = (nn.MaxPool2d, nn.AvgPool2d, nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d)
NORMS = (nn.BatchNorm1d, nn.BatchNorm2d)
SKIPPED = (nn.Dropout, nn.Dropout2d, nn.Identity)       # do nothing when the model answers
PATCH_IMAGES = 2000         # test pictures searched for each filter's most exciting patches
PATCHES_PER_FILTER = 6
PATCH_CACHE_SIZE = 8        # checkpoints whose filter patches are kept
TEMPLATES = 24              # MLP units shown as 28x28 templates
PHOTO_CHANNELS = 8          # early and late channels shown for a photo
LIVE_EVERY_S = 1.0          # the live view's pictures are taken at most this often

# A diverging palette safe for colour-blind eyes: blue (negative) - white (0) - orange (positive).
_NEG, _MID, _POS = np.array([33, 102, 172]), np.array([247, 247, 247]), np.array([179, 88, 6])


STEPS = 16                  # colour steps on each side of zero: 33 colours, small PNGs, plenty for a heatmap


def _palette() -> np.ndarray:
    t = np.linspace(-1.0, 1.0, 2 * STEPS + 1)[:, None]
    lut = np.where(t < 0, _MID + (_NEG - _MID) * -t, _MID + (_POS - _MID) * t)
    return np.clip(np.round(lut), 0, 255).astype(np.uint8)


PALETTE = _palette()


# --------------------------------------------------------------------------- the walk
@dataclass
class Stage:
    """One step of the forward pass, for one input."""
    index: int
    kind: str                  # input | conv | dense | act | pool | flatten | lstm | norm | other | softmax
    title: str                 # "Convolution 1", "ReLU", ...
    detail: str                # how the shape came about, in words
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


def _first_tensor(value):
    if isinstance(value, torch.Tensor):
        return value
    if isinstance(value, (tuple, list)):
        for v in value:
            t = _first_tensor(v)
            if t is not None:
                return t
    return None


def _pair(v) -> tuple[int, int]:
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


def walk(model: nn.Module, x: torch.Tensor) -> Walk:
    """The stages of ``model`` for one input ``x`` (1, C, H, W); see the module docstring."""
    if x.dim() != 4 or x.shape[0] != 1:
        raise ValueError(f"walk takes one picture (1, C, H, W), not {tuple(x.shape)}")
    calls, logits = run_hooked(model, x)
    device_free = lambda t: t.detach().float().cpu()[0] if t.dim() > 0 and t.shape[0] == 1 else t.detach().float().cpu()  # noqa: E731
    stages = [Stage(0, "input", "Input", f"the picture the network reads, {shape_text(x.shape[1:])}",
                    device_free(x))]
    counters: dict[str, int] = {}
    i = 0
    while i < len(calls):
        module, inp, out = calls[i]
        out = _first_tensor(out)
        inp = _first_tensor(inp)
        i += 1
        if out is None or isinstance(module, SKIPPED):
            continue
        bn = None
        if isinstance(module, (nn.Conv2d, nn.Linear)) and i < len(calls) and isinstance(calls[i][0], NORMS) \
                and _first_tensor(calls[i][1]) is out:
            bn = calls[i][0]
            out = _first_tensor(calls[i][2])
            i += 1
        value = device_free(out)
        before = stages[-1].value
        if isinstance(module, nn.Conv2d):
            counters["conv"] = counters.get("conv", 0) + 1
            w, b = _fold(module.weight, module.bias, bn)
            kh, kw = module.kernel_size
            pad = _conv_padding(module)
            cin = module.in_channels // module.groups
            h_in = inp.shape[-2]
            arith = (f"({h_in} + {pad[2] + pad[3]} - {module.dilation[0] * (kh - 1) + 1}) / {module.stride[0]} + 1 "
                     f"= {value.shape[-2]}")
            how = (f"{module.out_channels} filters of {kh} x {kw} x {cin}, padding {pad[2]}, stride "
                   f"{module.stride[0]}: {arith}" + (" (batch norm folded in)" if bn is not None else "")
                   + ("" if module.groups == 1 else f", in {module.groups} groups"))
            stages.append(Stage(len(stages), "conv", f"Convolution {counters['conv']}", how, value,
                                _count(module) + _count(bn), module, w, b, device_free(inp),
                                _pair(module.stride), pad, _pair(module.dilation), module.groups,
                                source=bn or module))
        elif isinstance(module, nn.Linear):
            counters["dense"] = counters.get("dense", 0) + 1
            w, b = _fold(module.weight, module.bias, bn)
            how = (f"{module.out_features} units, each adds up {module.in_features} inputs x weights + a bias"
                   + (" (batch norm folded in)" if bn is not None else ""))
            stages.append(Stage(len(stages), "dense", f"Dense {counters['dense']}", how, value,
                                _count(module) + _count(bn), module, w, b, device_free(inp),
                                source=bn or module))
        elif isinstance(module, ACTIVATIONS):
            stages.append(Stage(len(stages), "act", _act_title(module),
                                "negative numbers become 0, the rest pass unchanged" if isinstance(module, nn.ReLU)
                                else f"{_act_title(module)} applied to every number", value, 0, module))
            if stages[-2].kind in ("conv", "dense") and stages[-2].then is None:
                stages[-2].then = module
        elif isinstance(module, POOLS):
            k = getattr(module, "kernel_size", None)
            name = "Max pooling" if "Max" in type(module).__name__ else "Average pooling"
            if k is not None:
                how = (f"the {'largest' if 'Max' in name else 'mean'} of each {_pair(k)[0]} x {_pair(k)[1]} "
                       f"square, stride {_pair(module.stride)[0]}: {shape_text(before.shape[-2:])} -> "
                       f"{shape_text(value.shape[-2:])}")
            else:
                how = f"the {'largest' if 'Max' in name else 'mean'} of each whole map"
            stages.append(Stage(len(stages), "pool", name, how, value, 0, module))
        elif isinstance(module, nn.Flatten):
            stages.append(Stage(len(stages), "flatten", "Flatten",
                                f"{shape_text(before.shape)} = {value.numel()} numbers in one row", value, 0, module))
        elif isinstance(module, (nn.LSTM, nn.GRU, nn.RNN)):
            steps = value.shape[0] if value.dim() == 2 else 1
            stages.append(Stage(len(stages), "lstm", type(module).__name__,
                                f"reads {steps} rows one after another, keeping {module.hidden_size} numbers "
                                "of memory", value, _count(module), module))
        elif isinstance(module, NORMS):
            stages.append(Stage(len(stages), "norm", "Batch norm", "rescales and shifts each channel",
                                value, _count(module), module))
        else:
            stages.append(Stage(len(stages), "other", type(module).__name__, "", value, _count(module), module))
    logits = logits.detach().float().cpu()[0]
    probs = torch.softmax(logits, 0)
    stages.append(Stage(len(stages), "softmax", "Softmax",
                        "turns the scores into probabilities that add up to 1", probs))
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
        raise ValueError(f"{stage.title} is not a convolution")
    c_out, _, height, width = (stage.value.shape[0], None, *stage.value.shape[-2:])
    if not (0 <= channel < c_out and 0 <= row < height and 0 <= col < width):
        raise ValueError(f"pixel ({channel}, {row}, {col}) is outside {shape_text(stage.shape)}")
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


# --------------------------------------------------------------------------- pictures
def layer_scale(stages: list[Stage]) -> float:
    """The colour scale of stages shown together: the largest |value| among them (>0)."""
    top = max((float(s.value.abs().max()) for s in stages if s.value.numel()), default=0.0)
    return top if top > 0 else 1.0


ZERO = STEPS                # the palette index of 0 (white)


def to_index(values, scale: float) -> np.ndarray:
    """Values -> palette indices: -scale -> 0, 0 -> ZERO (white), +scale -> 2 * STEPS."""
    v = np.asarray(values, dtype=np.float32)
    return np.clip(np.rint(ZERO + STEPS * v / scale), 0, 2 * STEPS).astype(np.uint8)


_PALETTE_BYTES = PALETTE.reshape(-1).tobytes()


def _png(image: Image.Image, level: int = 6) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", compress_level=level)
    return buffer.getvalue()


def indexed_png(index: np.ndarray) -> bytes:
    """Palette indices (H, W) -> a PNG with PALETTE (33 colours: 6 bits a pixel, zlib does the rest)."""
    image = Image.frombuffer("P", (index.shape[1], index.shape[0]), np.ascontiguousarray(index, np.uint8),
                             "raw", "P", 0, 1)
    image.putpalette(_PALETTE_BYTES)
    return _png(image)


def strip(values: torch.Tensor | np.ndarray, scale: float, gap: int = 0) -> np.ndarray:
    """(C, H, W) maps side by side in one row -> palette indices (H, C * W + gaps)."""
    v = np.asarray(values, dtype=np.float32)
    c, h, w = v.shape
    idx = to_index(v, scale)
    if gap:
        out = np.full((h, c * (w + gap) - gap), ZERO, np.uint8)
        for k in range(c):
            out[:, k * (w + gap):k * (w + gap) + w] = idx[k]
        return out
    return idx.transpose(1, 0, 2).reshape(h, c * w)


def strip_png(values, scale: float) -> bytes:
    """A sprite: every channel of a stage in one row, one palette PNG (a few kB)."""
    return indexed_png(strip(values, scale))


def vector_grid(values, width: int = 64) -> np.ndarray:
    """A long vector wrapped into rows of ``width`` (padded with NaN)."""
    v = np.asarray(values, dtype=np.float32).reshape(-1)
    width = max(1, min(width, v.size))
    rows = math.ceil(v.size / width)
    out = np.full(rows * width, np.nan, np.float32)
    out[:v.size] = v
    return out.reshape(rows, width)


def vector_png(values, scale: float, width: int = 64) -> bytes:
    grid = vector_grid(values, width)
    idx = to_index(np.nan_to_num(grid), scale)
    idx[np.isnan(grid)] = ZERO
    return indexed_png(idx)


def grey_png(pixels: np.ndarray) -> bytes:
    return _png(Image.fromarray(np.asarray(pixels, dtype=np.uint8)))


# --------------------------------------------------------------------------- MLP and photos
@dataclass
class Templates:
    weights: np.ndarray        # (n, H, W): the first dense layer's weights of n units
    units: list[int]
    activations: list[float] | None
    layer_units: int
    inputs: int


def templates(model: nn.Module, x: torch.Tensor | None = None, size: int = 28, n: int = TEMPLATES) -> Templates | None:
    """The first dense layer's weights as pictures (one per unit), for a network without
    convolutions. With an input: the ``n`` units it excites most, else the first ``n``."""
    first = next((m for m in model.modules() if isinstance(m, nn.Linear)), None)
    if first is None or first.in_features % (size * size):
        return None
    channels = first.in_features // (size * size)
    w = first.weight.detach().float().cpu().reshape(first.out_features, channels, size, size).mean(1)
    acts = None
    if x is not None:
        with torch.no_grad():
            acts = F.linear(x.detach().float().cpu().reshape(1, -1), first.weight.detach().float().cpu(),
                            first.bias.detach().float().cpu() if first.bias is not None else None)[0]
        units = acts.argsort(descending=True)[:n].tolist()
    else:
        units = list(range(min(n, first.out_features)))
    return Templates(w[units].numpy(), units, [float(acts[u]) for u in units] if acts is not None else None,
                     first.out_features, first.in_features)


@dataclass
class Channels:
    title: str
    shape: tuple[int, ...]
    channels: list[int]
    maps: np.ndarray           # (n, H, W)


def photo_channels(model: nn.Module, x: torch.Tensor, n: int = PHOTO_CHANNELS) -> tuple[Channels, Channels] | None:
    """For a photo model: the ``n`` most active channels of its first and of its last maps
    (after their activation). None for a model without maps."""
    w = walk(model, x)
    maps = [s for s in w.stages if s.is_map and s.kind in ("act", "conv")]
    if not maps:
        return None

    def pick(stage: Stage, title: str) -> Channels:
        strength = stage.value.clamp(min=0).mean(dim=(1, 2))
        chans = strength.argsort(descending=True)[:n].sort().values.tolist()
        return Channels(title, stage.shape, chans, stage.value[chans].numpy())

    return (pick(maps[0], "Early: the first layer's maps"), pick(maps[-1], "Late: the last layer's maps"))


# --------------------------------------------------------------------------- filters and patches
def receptive_field(stages: list[Stage], index: int) -> tuple[int, int, float]:
    """(size, jump, start) of stage ``index``'s pixels in the input: a pixel (r, c) sees the
    input square of side ``size`` centred on (start + r * jump, start + c * jump)."""
    size, jump, start = 1, 1, 0.0
    for s in stages[1:index + 1]:
        if s.kind == "conv":
            k, stride, pad, dil = s.kernel_size[0], s.stride[0], s.padding[2], s.dilation[0]
            k = dil * (k - 1) + 1
        elif s.kind == "pool" and hasattr(s.module, "kernel_size"):
            k, stride = _pair(s.module.kernel_size)[0], _pair(s.module.stride)[0]
            pad = _pair(s.module.padding)[0]
        else:
            continue
        start += ((k - 1) / 2 - pad) * jump
        size += (k - 1) * jump
        jump *= stride
    return size, jump, start


@dataclass
class FilterPatches:
    """A convolution's filters and, for each, the test patches that excite it most."""
    stage_title: str
    kernels: np.ndarray        # (C, kh, kw): mean over input channels (the first layer has one)
    patches: np.ndarray        # (C, k, side, side) uint8: context around each receptive field
    strengths: np.ndarray      # (C, k): the filter's value there
    labels: np.ndarray         # (C, k): the class of the picture each patch comes from
    field: int                 # receptive field side in input pixels
    side: int                  # patch side (field plus context)
    images: int                # how many test pictures were searched


@torch.no_grad()
def filter_patches(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, stats,
                   per_filter: int = PATCHES_PER_FILTER, conv_number: int = 1,
                   batch: int = 500) -> FilterPatches:
    """The ``per_filter`` positions in ``images`` (uint8 (N, C, H, W)) where filter c of the
    ``conv_number``-th convolution gives its largest values, each from a different picture,
    with the receptive field's surroundings (one field of context on every side)."""
    probe = walk(model, datasets.normalize(images[:1], stats))
    convs = probe.convs
    if len(convs) < conv_number:
        raise ValueError("this model has no convolution")
    stage = convs[conv_number - 1]
    field, jump, start = receptive_field(probe.stages, stage.index)
    grabbed: list[torch.Tensor] = []

    def hook(m, inp, out):
        grabbed.append(_first_tensor(out).float().cpu())

    # one pass over the pictures, keeping each picture's best value and place per filter
    best_val, best_pos = [], []
    handle = stage.source.register_forward_hook(hook)
    try:
        with eval_mode(model):
            for i in range(0, len(images), batch):
                grabbed.clear()
                model(datasets.normalize(images[i:i + batch], stats))
                fmap = grabbed[0]                                  # (n, C, H, W)
                flat = fmap.flatten(2)
                v, p = flat.max(dim=2)                             # (n, C)
                best_val.append(v)
                best_pos.append(p)
    finally:
        handle.remove()
    best_val, best_pos = torch.cat(best_val), torch.cat(best_pos)   # (N, C)
    h_out, w_out = stage.value.shape[-2:]
    ctx = field
    side = field + 2 * ctx
    n_filters = best_val.shape[1]
    k = min(per_filter, len(images))
    patches = np.zeros((n_filters, k, side, side), np.uint8)
    strengths = np.zeros((n_filters, k), np.float32)
    picked_labels = np.zeros((n_filters, k), np.int64)
    grey = images.float().mean(1).to(torch.uint8).numpy()          # (N, H, W)
    pad = side
    padded = np.pad(grey, ((0, 0), (pad, pad), (pad, pad)))
    for c in range(n_filters):
        top = best_val[:, c].argsort(descending=True)[:k]
        for j, n in enumerate(top.tolist()):
            r, col = divmod(int(best_pos[n, c]), w_out)
            cy, cx = start + r * jump, start + col * jump
            y0 = int(round(cy - (field - 1) / 2)) - ctx + pad
            x0 = int(round(cx - (field - 1) / 2)) - ctx + pad
            patches[c, j] = padded[n, y0:y0 + side, x0:x0 + side]
            strengths[c, j] = float(best_val[n, c])
            picked_labels[c, j] = int(labels[n])
    kernels = stage.weight.mean(1).numpy()
    return FilterPatches(stage.title, kernels, patches, strengths, picked_labels, field, side, len(images))


def file_digest(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


class PatchCache:
    """Filter patches per checkpoint file, computed once. Keyed by the file's path and the
    digest of its bytes (a retrained "latest" run is a new entry), at most ``size`` entries,
    least recently used out first. Shared by every viewer: the values are read-only."""

    def __init__(self, size: int = PATCH_CACHE_SIZE):
        self.size = size
        self._lock = threading.Lock()
        self._items: OrderedDict[tuple, object] = OrderedDict()
        self._digests: dict[tuple, str] = {}
        self._computing: dict[tuple, threading.Lock] = {}

    def key(self, path: str | Path) -> tuple[str, str]:
        st = Path(path).stat()
        stamp = (str(Path(path).resolve()), st.st_mtime_ns, st.st_size)
        with self._lock:
            digest = self._digests.get(stamp)
        if digest is None:
            digest = file_digest(path)
            with self._lock:
                self._digests[stamp] = digest
        return stamp[0], digest

    def get(self, path: str | Path, compute):
        """The cached value for ``path``'s current bytes, or ``compute()`` once (others wait)."""
        key = self.key(path)
        with self._lock:
            if key in self._items:
                self._items.move_to_end(key)
                return self._items[key]
            gate = self._computing.setdefault(key, threading.Lock())
        with gate:
            with self._lock:
                if key in self._items:
                    return self._items[key]
            value = compute()
            with self._lock:
                self._items[key] = value
                self._items.move_to_end(key)
                while len(self._items) > self.size:
                    self._items.popitem(last=False)
                self._computing.pop(key, None)
            return value

    def __len__(self) -> int:
        with self._lock:
            return len(self._items)


# --------------------------------------------------------------------------- live during training
@dataclass(frozen=True)
class LiveView:
    """What the class sees of the running model at one moment (numpy copies, read-only)."""
    version: int
    run: int
    model: str
    dataset: str
    step: int
    epoch: float
    kind: str                  # the event that took it
    picture: np.ndarray        # the fixed test picture (H, W) uint8
    label: str
    filters: np.ndarray | None           # (C, kh, kw) first convolution, raw weights
    filter_title: str
    maps: tuple                # ((title, shape, values (C, H, W) float32), ...)
    probs: np.ndarray
    classes: tuple[str, ...]
    note: str = ""


class LiveInside:
    """Listener for the shared job (``TrainJob.listeners``): about once a second (and at start and
    end), in the training thread, copies the first layer's weights and the maps of one fixed test
    picture (the first of the test set) into a locked slot that every viewer polls.

    Cost to the run: one forward pass of one picture per second (about a millisecond) plus the
    copies; ``bench/inside_latency.py`` measures it.
    """

    def __init__(self, data_root=None, every_s: float = LIVE_EVERY_S):
        self.data_root = data_root
        self.every_s = every_s
        self._lock = threading.Lock()
        self._view: LiveView | None = None
        self._version = 0
        self._run = 0
        self._last = 0.0
        self._x = None
        self._picture = None
        self._label = ""
        self._note = ""
        self.taken = 0                      # pictures taken (tests, bench)
        self.seconds = 0.0                  # time spent taking them, in the training thread

    def snapshot(self) -> tuple[int, LiveView | None, str]:
        with self._lock:
            return self._version, self._view, self._note

    def __call__(self, event, model: nn.Module, config) -> None:
        kind = getattr(event, "kind", "")
        if kind == "start":
            self._start(model, config)
        if self._x is None:
            return
        now = time.perf_counter()
        if kind in ("start", "done") or now - self._last >= self.every_s:
            self._last = now
            self._take(event, model, config)

    def _start(self, model: nn.Module, config) -> None:
        self._x = None
        spec = datasets.get_spec(config.dataset)
        with self._lock:
            self._run += 1
            self._view = None
            self._version += 1
            if spec.kind == "photo":
                self._note = "photo"
                return
            self._note = ""
        test = datasets.load(config.dataset, "test", self.data_root)
        self._picture = test.images[0, 0].numpy().copy()
        self._label = spec.classes[int(test.labels[0])]
        self._x = datasets.normalize(test.images[:1], spec)
        self._classes = tuple(spec.classes)

    def _take(self, event, model: nn.Module, config) -> None:
        t0 = time.perf_counter()
        device = next(model.parameters()).device
        w = walk(model, self._x.to(device))
        convs = w.convs
        if convs:
            first = next(m for m in model.modules() if isinstance(m, nn.Conv2d))
            filters = first.weight.detach().float().cpu().mean(1).numpy().copy()
            title = f"{first.out_channels} filters of {shape_text(first.kernel_size)}"
        else:
            t = templates(model, None, size=self._picture.shape[-1], n=16)
            filters = t.weights.copy() if t is not None else None
            title = f"the first 16 of {t.layer_units} units' weights (28 x 28)" if t is not None else ""
        maps = tuple((s.title, s.shape, s.value.numpy().copy()) for s in w.stages
                     if s.is_map and s.kind != "input")
        with self._lock:
            self._version += 1
            self._view = LiveView(self._version, self._run, config.model, config.dataset,
                                  int(getattr(event, "step", 0)), float(getattr(event, "epoch", 0.0)),
                                  getattr(event, "kind", ""), self._picture, self._label, filters, title,
                                  maps, w.probs.numpy().copy(), self._classes)
        self.taken += 1
        self.seconds += time.perf_counter() - t0
