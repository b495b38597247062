"""The first layer's weights as pictures: a CNN's filters with the test patches that excite each
most (``filter_patches``, computed once per checkpoint file in a ``PatchCache``), and an MLP's
first dense layer as 28x28 templates (``templates``), since an MLP has no filters.
"""
from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ...core import datasets
from ...core.cache import LRU, file_digest
from ...core.training import eval_mode
from ...i18n import BadValue, Text
from .stages import Stage, first_tensor, pair, walk

PATCH_IMAGES = 2000         # test pictures searched for each filter's most exciting patches
PATCHES_PER_FILTER = 6
PATCH_CACHE_SIZE = 8        # checkpoints whose filter patches are kept
TEMPLATES = 24              # MLP units shown as 28x28 templates


def receptive_field(stages: list[Stage], index: int) -> tuple[int, int, float]:
    """(size, jump, start) of stage ``index``'s pixels in the input: a pixel (r, c) sees the
    input square of side ``size`` centred on (start + r * jump, start + c * jump)."""
    size, jump, start = 1, 1, 0.0
    for s in stages[1:index + 1]:
        if s.kind == "conv":
            k, stride, pad, dil = s.kernel_size[0], s.stride[0], s.padding[2], s.dilation[0]
            k = dil * (k - 1) + 1
        elif s.kind == "pool" and hasattr(s.module, "kernel_size"):
            k, stride = pair(s.module.kernel_size)[0], pair(s.module.stride)[0]
            pad = pair(s.module.padding)[0]
        else:
            continue
        start += ((k - 1) / 2 - pad) * jump
        size += (k - 1) * jump
        jump *= stride
    return size, jump, start


@dataclass
class FilterPatches:
    """A convolution's filters and, for each, the test patches that excite it most."""
    stage_title: Text | str     # said in the reader's language (cnnlab.i18n)
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
        raise BadValue(Text("errors.no_convolution"))
    stage = convs[conv_number - 1]
    field, jump, start = receptive_field(probe.stages, stage.index)
    grabbed: list[torch.Tensor] = []

    def hook(m, inp, out):
        grabbed.append(first_tensor(out).float().cpu())

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


class PatchCache:
    """Filter patches (or anything made from them) per checkpoint file, computed once: keyed by
    the digest of the file's bytes (a retrained "latest" run is a new entry), at most ``size``
    entries. One search at a time (it reads 2,000 test pictures; the laptop has 2 cores), and
    whoever asks meanwhile waits for it rather than searching again. Shared by every viewer: the
    values are read-only."""

    def __init__(self, size: int = PATCH_CACHE_SIZE):
        self._items: LRU[object] = LRU(size)
        self._compute = threading.Lock()

    def get(self, path: str | Path, compute: Callable[[], object]):
        """The cached value for ``path``'s current bytes, or ``compute()``'s."""
        key = file_digest(path)
        value = self._items.get(key)
        if value is None:
            with self._compute:
                value = self._items.get(key)
                if value is None:
                    value = self._items.put(key, compute())
        return value

    def __len__(self) -> int:
        return len(self._items)


@dataclass
class Templates:
    weights: np.ndarray        # (n, H, W): the first dense layer's weights of n units
    units: list[int]
    activations: list[float] | None
    layer_units: int
    inputs: int


def templates(model: nn.Module, x: torch.Tensor | None = None, size: int = 28,
              n: int = TEMPLATES) -> Templates | None:
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
