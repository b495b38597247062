"""The four optimizers, with the course's settings, in one place.

The course's optimizer lesson races SGD, Momentum (0.8), RMSprop (alpha 0.9) and Adam (betas 0.9,
0.99); every part of cnnlab that makes an optimizer or writes one into code takes it from here:
the Train tab's run and race, the weather lesson, the class board's fine-tune, the recipes, the
scripts students take home, and the Playground (whose browser copy, cnnlab/ui/web/engine/optim.js,
is tested equal to these in tests/test_web_playground.py).

Adam becomes AdamW when a weight decay is asked for: decoupled decay is what the Train tab's
"weight decay" means (with none, the two are the same update).
"""
from __future__ import annotations

import torch

from ..i18n import Text, UnknownName

NAMES = ("sgd", "momentum", "rmsprop", "adam")
MOMENTUM = 0.8               # the course's Momentum
RMSPROP_ALPHA = 0.9          # the course's RMSprop smoothing
ADAM_BETAS = (0.9, 0.99)     # the course's Adam


def make(name: str, params, lr: float, weight_decay: float = 0.0, fused: bool = False) -> torch.optim.Optimizer:
    """The optimizer ``name`` (one of NAMES) over the trainable ``params``. ``fused`` (Adam only):
    one kernel for the whole update, the same numbers, ~1.5x faster steps for tiny networks."""
    params = [p for p in params if p.requires_grad]
    if name == "sgd":
        return torch.optim.SGD(params, lr=lr, weight_decay=weight_decay)
    if name == "momentum":
        return torch.optim.SGD(params, lr=lr, momentum=MOMENTUM, weight_decay=weight_decay)
    if name == "rmsprop":
        return torch.optim.RMSprop(params, lr=lr, alpha=RMSPROP_ALPHA, weight_decay=weight_decay)
    if name == "adam":
        adam = torch.optim.AdamW if weight_decay else torch.optim.Adam
        return adam(params, lr=lr, betas=ADAM_BETAS, weight_decay=weight_decay, **({'fused': True} if fused else {}))
    raise UnknownName(Text("errors.unknown_optimizer", name=repr(name), choices=", ".join(NAMES)))


def code(name: str, params: str = "model.parameters()", lr: str = "lr", weight_decay: str | None = None,
         module: str = "torch.optim") -> str:
    """The same optimizer as Python source, for the code students take home:
    ``code("momentum", "net.parameters()", "LR")`` -> ``torch.optim.SGD(net.parameters(), lr=LR, momentum=0.8)``."""
    decay = f", weight_decay={weight_decay}" if weight_decay else ""
    if name == "sgd":
        return f"{module}.SGD({params}, lr={lr}{decay})"
    if name == "momentum":
        return f"{module}.SGD({params}, lr={lr}, momentum={MOMENTUM}{decay})"
    if name == "rmsprop":
        return f"{module}.RMSprop({params}, lr={lr}, alpha={RMSPROP_ALPHA}{decay})"
    if name == "adam":
        return f"{module}.{'AdamW' if weight_decay else 'Adam'}({params}, lr={lr}, betas={ADAM_BETAS}{decay})"
    raise UnknownName(Text("errors.unknown_optimizer", name=repr(name), choices=", ".join(NAMES)))
