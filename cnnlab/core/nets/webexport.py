"""A checkpoint's network for the browser engine (cnnlab/ui/web/engine): every phone runs its own
forward pass, so the server sends each phone the weights once per checkpoint.

``export_for_browser(loaded)`` turns a loaded checkpoint (cnnlab.checkpoints.Loaded) into a JSON
header and a binary blob: the header lists the layers in the order they run (kind, shapes, kernel,
stride, padding, where each tensor lies in the blob), the input size and channels, the
normalisation, the class names and the calibration temperature; the blob holds the tensors,
little-endian. ``pack`` puts both in one file, the format engine/weights.js reads::

    4 bytes   header length, unsigned little-endian
    header    UTF-8 JSON
    padding   zero bytes up to a multiple of 4
    blob      the tensors, each at a multiple of 4 bytes

``digest`` names a file's content: the server serves it under that name with a cache validator,
so a phone downloads a checkpoint once and again only when it changes.

Batch norm right after a convolution or a dense layer is folded into it (in eval mode it only
scales and shifts each channel), as the Inside tab's walk does (cnnlab.inside.stages): the layer
list is the walk's list, and each layer's output is the output of the last PyTorch module it
stands for (``modules``). Dropout does nothing when the model answers and is left out.

Weights are sent as float16 by default (half the bytes), except small tensors (``SMALL``: biases,
batch-norm scales and shifts, a first convolution), which stay float32. The answers stay within
4e-4 of PyTorch's (tests/test_web_engine.py; float32 weights: within 2e-6). The shipped MNIST CNN
is 60 kB this way (55 kB gzipped), the MLP and the deep Fashion CNN about 0.47 MB.

Runs in the browser: every image model of the registry built from plain layers (mlp, cnn, lenet,
cnn-deep, and ``custom`` networks from cnnlab.builder). Not: the LSTM, the transfer model, or any
layer the engine lacks: those raise ``WebExportError`` and stay on the server's path.

Texts used (add to cnnlab/i18n/*.json under "webexport"):
    not_in_browser:   "The {model} model runs on the server only: {why}"
    why_layer:        "the browser has no {layer} layer"
    why_shape:        "its layers are not one straight line of plain layers"
    bad_dtype:        "Weights travel as float16 or float32, not {dtype}"
"""
from __future__ import annotations

import hashlib
import json
import math
import struct

import numpy as np
import torch
from torch import nn

from ...i18n import Refusal, Text
from .base import Classifier

FORMAT = "cnnlab-web"
FORMAT_VERSION = 1
DTYPES = ("float16", "float32")
FLOAT16_MAX = 65504.0        # the largest float16; a tensor with larger numbers travels as float32
SMALL = 4096                 # tensors of at most this many numbers always travel as float32: at most
                             # 8 kB more each, and they are the sensitive ones (the first convolution
                             # of a 1-channel image has a few hundred weights, and its rounding errors
                             # pass through every later layer: float16 there alone moved the deep
                             # Fashion CNN's probabilities by up to 6e-3)
ACTIVATIONS = {nn.ReLU: "relu", nn.Sigmoid: "sigmoid", nn.Tanh: "tanh", nn.LeakyReLU: "leakyrelu"}
SKIPPED = (nn.Dropout, nn.Identity)         # nothing to do when the model answers
SERVER_ONLY = {"lstm": "LSTM", "transfer": "EfficientNet"}     # registry models the browser lacks


class WebExportError(Refusal, ValueError):
    """A model the browser engine cannot run; its argument is a Text (cnnlab.i18n) saying why."""


def _refuse(model_name: str, why: Text):
    raise WebExportError(Text("webexport.not_in_browser", model=model_name, why=why))


class _Blob:
    """The tensors, appended one after the other at 4-byte boundaries; ``add`` returns the
    header's description of a tensor: {"offset", "shape", "dtype"}."""

    def __init__(self, dtype: str):
        self.dtype = dtype
        self.parts: list[bytes] = []
        self.size = 0

    def add(self, values: torch.Tensor, always_float32: bool = False) -> dict:
        array = values.detach().cpu().double().numpy()
        dtype = "float32" if always_float32 or self.dtype == "float32" or array.size <= SMALL \
            or float(np.abs(array).max(initial=0.0)) > FLOAT16_MAX else "float16"
        data = array.astype("<f2" if dtype == "float16" else "<f4").tobytes()
        entry = {"offset": self.size, "shape": list(array.shape), "dtype": dtype}
        data += b"\0" * (-len(data) % 4)
        self.parts.append(data)
        self.size += len(data)
        return entry

    def bytes(self) -> bytes:
        return b"".join(self.parts)


def _modules(model: nn.Module, model_name: str) -> list[tuple[str, nn.Module]]:
    """(name, module) in the order they run: a Classifier whose ``features`` and ``head`` are
    straight lines of plain layers (what every small model of the registry and the builder is)."""
    straight = (isinstance(model, Classifier) and type(model).forward is Classifier.forward
                and type(model).embed is Classifier.embed)
    if not straight:
        _refuse(model_name, Text("webexport.why_shape"))
    out = []
    for part in ("features", "head"):
        module = getattr(model, part)
        children = list(module.named_children()) if isinstance(module, nn.Sequential) else [("", module)]
        out += [(f"{part}.{name}" if name else part, child) for name, child in children]
    return out


def _fold(weight: torch.Tensor, bias: torch.Tensor | None, bn: nn.Module | None):
    """The weight and bias of a layer followed by an eval-mode batch norm, as one layer (float64)."""
    w = weight.detach().double()
    b = bias.detach().double() if bias is not None else None
    if bn is None:
        return w, b
    scale, shift = _bn_scale_shift(bn)
    b = torch.zeros(w.shape[0], dtype=torch.float64) if b is None else b
    return w * scale.view(-1, *([1] * (w.dim() - 1))), b * scale + shift


def _bn_scale_shift(bn: nn.Module) -> tuple[torch.Tensor, torch.Tensor]:
    """An eval-mode batch norm as y = x * scale + shift per channel (float64)."""
    var, mean = bn.running_var.detach().double(), bn.running_mean.detach().double()
    gamma = bn.weight.detach().double() if bn.weight is not None else torch.ones_like(var)
    beta = bn.bias.detach().double() if bn.bias is not None else torch.zeros_like(var)
    scale = gamma / torch.sqrt(var + bn.eps)
    return scale, beta - mean * scale


def _pair(v) -> list[int]:
    return [int(v), int(v)] if isinstance(v, int) else [int(v[0]), int(v[1])]


def _out_side(size: int, kernel: int, stride: int, padding: int) -> int:
    return (size + 2 * padding - kernel) // stride + 1


def _layer_text(module: nn.Module) -> Text:
    return Text("webexport.why_layer", layer=type(module).__name__)


def export_for_browser(loaded, dtype: str = "float16") -> tuple[dict, bytes]:
    """(header, blob) for ``loaded`` (cnnlab.checkpoints.Loaded): see the module docstring.
    WebExportError for a model or a layer the browser engine does not run."""
    if dtype not in DTYPES:
        raise WebExportError(Text("webexport.bad_dtype", dtype=str(dtype)[:20]))
    if loaded.model_name in SERVER_ONLY:
        _refuse(loaded.model_name, Text("webexport.why_layer", layer=SERVER_ONLY[loaded.model_name]))
    modules = _modules(loaded.model, loaded.model_name)
    blob = _Blob(dtype)
    shape = [loaded.channels, loaded.input_size, loaded.input_size]
    layers: list[dict] = []
    counts: dict[str, int] = {}
    embed = -1                       # the last layer of ``features``: its output is model.embed(x)

    def add(kind: str, names: list[str], **fields) -> None:
        counts[kind] = counts.get(kind, 0) + 1
        layers.append({"name": f"{kind}{counts[kind]}", "kind": kind, "modules": names,
                       "in_shape": list(in_shape), "shape": list(shape), **fields})

    i = 0
    while i < len(modules):
        name, m = modules[i]
        i += 1
        in_shape = list(shape)
        if isinstance(m, SKIPPED):
            pass
        elif isinstance(m, (nn.Conv2d, nn.Linear)):
            bn, names = None, [name]
            follows = modules[i][1] if i < len(modules) else None
            if isinstance(follows, (nn.BatchNorm2d, nn.BatchNorm1d)):
                bn, names = follows, [name, modules[i][0]]
                i += 1
            w, b = _fold(m.weight, m.bias, bn)
            if isinstance(m, nn.Conv2d):
                if m.groups != 1 or tuple(m.dilation) != (1, 1) or isinstance(m.padding, str) \
                        or m.padding_mode != "zeros" or len(shape) != 3:
                    _refuse(loaded.model_name, _layer_text(m))
                kernel, stride, padding = _pair(m.kernel_size), _pair(m.stride), _pair(m.padding)
                shape = [m.out_channels, *(_out_side(shape[d + 1], kernel[d], stride[d], padding[d])
                                           for d in range(2))]
                add("conv", names, kernel=kernel, stride=stride, padding=padding,
                    weight=blob.add(w), bias=blob.add(b, True) if b is not None else None,
                    batchnorm=bn is not None)
            else:
                if len(shape) != 1:
                    _refuse(loaded.model_name, _layer_text(m))
                shape = [m.out_features]
                add("dense", names, weight=blob.add(w), bias=blob.add(b, True) if b is not None else None,
                    batchnorm=bn is not None)
        elif isinstance(m, (nn.BatchNorm2d, nn.BatchNorm1d)):
            scale, shift = _bn_scale_shift(m)
            add("batchnorm", [name], scale=blob.add(scale, True), shift=blob.add(shift, True))
        elif type(m) in ACTIVATIONS:
            extra = {"slope": float(m.negative_slope)} if isinstance(m, nn.LeakyReLU) else {}
            add(ACTIVATIONS[type(m)], [name], **extra)
        elif isinstance(m, (nn.MaxPool2d, nn.AvgPool2d)):
            if m.ceil_mode or _pair(getattr(m, "dilation", 1)) != [1, 1] or len(shape) != 3 \
                    or getattr(m, "divisor_override", None):
                _refuse(loaded.model_name, _layer_text(m))
            kernel, stride, padding = _pair(m.kernel_size), _pair(m.stride or m.kernel_size), _pair(m.padding)
            shape = [shape[0], *(_out_side(shape[d + 1], kernel[d], stride[d], padding[d]) for d in range(2))]
            if isinstance(m, nn.MaxPool2d):
                add("maxpool", [name], kernel=kernel, stride=stride, padding=padding)
            else:
                add("avgpool", [name], kernel=kernel, stride=stride, padding=padding,
                    count_padding=bool(m.count_include_pad))
        elif isinstance(m, nn.Flatten):
            if m.start_dim != 1 or m.end_dim != -1:
                _refuse(loaded.model_name, _layer_text(m))
            shape = [math.prod(shape)]
            add("flatten", [name])
        else:
            _refuse(loaded.model_name, _layer_text(m))
        if name.startswith("features") and layers:
            embed = len(layers) - 1
    if shape != [len(loaded.classes)]:
        _refuse(loaded.model_name, Text("webexport.why_shape"))
    spec = loaded.spec
    header = {
        "format": FORMAT, "format_version": FORMAT_VERSION,
        "model": loaded.model_name, "dataset": loaded.dataset,
        "preprocess": spec.kind,             # "digits": a drawing (cnnlab.preprocess.sketch_to_mnist)
        "classes": list(loaded.classes),
        "channels": loaded.channels, "input_size": loaded.input_size,
        "mean": [float(v) for v in loaded.mean], "std": [float(v) for v in loaded.std],
        "temperature": float(loaded.temperature),    # probabilities = softmax(logits / temperature)
        "mirror": bool(loaded.mirror),               # average the logits with the mirrored input's
        "dtype": dtype,
        "layers": layers,
        "embed": layers[embed]["name"] if embed >= 0 else None,
        "blob_bytes": blob.size,
    }
    return header, blob.bytes()


def pack(header: dict, blob: bytes) -> bytes:
    """Header and blob as one file (see the module docstring)."""
    text = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    return struct.pack("<I", len(text)) + text + b"\0" * (-(4 + len(text)) % 4) + blob


def unpack(data: bytes) -> tuple[dict, bytes]:
    """The inverse of ``pack``: (header, blob)."""
    (length,) = struct.unpack_from("<I", data, 0)
    header = json.loads(data[4:4 + length].decode("utf-8"))
    start = 4 + length + (-(4 + length) % 4)
    return header, data[start:]


def digest(data: bytes) -> str:
    """A short name for a file's content (16 hex digits of its SHA-256): the cache validator
    (ETag) and the part of the URL that changes when the model does."""
    return hashlib.sha256(data).hexdigest()[:16]


def browser_file(loaded, dtype: str = "float16") -> tuple[bytes, str]:
    """The file a phone downloads for ``loaded``, and its digest."""
    data = pack(*export_for_browser(loaded, dtype))
    return data, digest(data)


def runs_in_browser(loaded) -> bool:
    """Whether the browser engine can run ``loaded`` (otherwise its answers stay on the server)."""
    try:
        export_for_browser(loaded, "float32")
    except WebExportError:
        return False
    return True
