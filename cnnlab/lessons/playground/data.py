"""The Playground's toy data sets, as the PyTorch code the page shows makes them.

Every maker is (n, noise, classes, generator) -> (x, y): x (n, 1 or 2) floats; y (n,) class
indices or (n, 1) targets. They are short on purpose: the code the page shows includes their
source (``inspect.getsource``), and the browser makes the same points from the same seed
(cnnlab/ui/web/playground/data.js, tested equal in tests/test_web_playground.py).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from ...core import optimizers


def curve(n, noise, classes, g):
    """Course lesson 1: y = x^2 plus uniform noise (0.2 in the course), x evenly spaced in [-1, 1]."""
    x = torch.unsqueeze(torch.linspace(-1, 1, n), dim=1)              # (n, 1)
    y = x.pow(2) + noise * torch.rand(x.size(), generator=g)           # (n, 1)
    return x, y


def two_clouds(n, noise, classes, g):
    """Course lesson 2: two Gaussian clouds centred at (2, 2) and (-2, -2), std = noise (1 in the course)."""
    n_data = torch.ones(n // 2, 2)
    x0 = torch.normal(2 * n_data, noise, generator=g)                  # class 0, (n/2, 2)
    x1 = torch.normal(-2 * n_data, noise, generator=g)                 # class 1, (n/2, 2)
    x = torch.cat((x0, x1), 0).float()                                 # (n, 2)
    y = torch.cat((torch.zeros(n // 2), torch.ones(n // 2))).long()    # (n,)
    return x, y


def circle(n, noise, classes, g):
    """A disc of class 0 inside a ring of class 1."""
    r = torch.cat((2 * torch.rand(n // 2, generator=g), 3 + 2 * torch.rand(n - n // 2, generator=g)))
    angle = 2 * math.pi * torch.rand(n, generator=g)
    x = torch.stack((r * torch.cos(angle), r * torch.sin(angle)), 1)
    y = (torch.arange(n) >= n // 2).long()
    return x + noise * torch.randn(n, 2, generator=g), y


def xor(n, noise, classes, g):
    """Class 1 where x1 and x2 have the same sign."""
    x = 10 * torch.rand(n, 2, generator=g) - 5
    x = x + 0.3 * torch.sign(x)                                        # a gap along the axes
    y = (x[:, 0] * x[:, 1] > 0).long()
    return x + noise * torch.randn(n, 2, generator=g), y


def spiral(n, noise, classes, g):
    """One spiral arm per class, wound around the centre."""
    y = torch.arange(n) % classes
    t = torch.rand(n, generator=g)                                     # 0 at the centre, 1 at the tip
    angle = 3.5 * math.pi * t + 2 * math.pi * y / classes
    x = torch.stack((5 * t * torch.cos(angle), 5 * t * torch.sin(angle)), 1)
    return x + noise * torch.randn(n, 2, generator=g), y


def gaussian(n, noise, classes, g):
    """One Gaussian cloud per class, the centres on a circle, std = noise."""
    y = torch.arange(n) % classes
    angle = 2 * math.pi * y / classes + math.pi / 4
    centres = 3.5 * torch.stack((torch.cos(angle), torch.sin(angle)), 1)
    return centres + noise * torch.randn(n, 2, generator=g), y


def plane(n, noise, classes, g):
    """Regression: a tilted plane, y = (x1 + x2) / 10, plus noise."""
    x = 12 * torch.rand(n, 2, generator=g) - 6
    y = (x[:, :1] + x[:, 1:]) / 10
    return x, y + noise * torch.randn(n, 1, generator=g)


def bumps(n, noise, classes, g):
    """Regression: two hills and two valleys, y = a sum of Gaussian bumps, plus noise."""
    x = 12 * torch.rand(n, 2, generator=g) - 6
    centres = torch.tensor([[-3.0, 3.0], [3.0, 3.0], [-3.0, -3.0], [3.0, -3.0]])
    heights = torch.tensor([1.0, -1.0, -1.0, 1.0])
    d2 = ((x[:, None, :] - centres) ** 2).sum(-1)                      # (n, 4)
    y = (heights * torch.exp(-d2 / 4)).sum(1, keepdim=True)            # (n, 1)
    return x, y + noise * torch.randn(n, 1, generator=g)


@dataclass(frozen=True)
class ToyData:
    name: str
    make: object                   # one of the makers above (None: the student's own points)
    task: str                      # "classification" | "regression"
    dims: int                      # 1 (a curve over x) or 2 (the plane)
    noise: float                   # default noise
    points: int                    # default number of points
    many_classes: bool = False     # the Classes setting applies (2-4)

    @property
    def own(self) -> bool:
        return self.make is None


DATASETS = {
    "curve": ToyData("curve", curve, "regression", 1, 0.2, 100),
    "two-clouds": ToyData("two-clouds", two_clouds, "classification", 2, 1.0, 200),
    "circle": ToyData("circle", circle, "classification", 2, 0.2, 300),
    "xor": ToyData("xor", xor, "classification", 2, 0.2, 300),
    "spiral": ToyData("spiral", spiral, "classification", 2, 0.1, 400, many_classes=True),
    "gaussian": ToyData("gaussian", gaussian, "classification", 2, 1.0, 300, many_classes=True),
    "plane": ToyData("plane", plane, "regression", 2, 0.05, 300),
    "bumps": ToyData("bumps", bumps, "regression", 2, 0.05, 400),
    # The student's own points (tapped onto the plot or pasted as CSV), carried in Settings.own:
    # (x1, x2, class) rows on the plane, or (x, y) rows of a curve.
    "own-class": ToyData("own-class", None, "classification", 2, 0.0, 0, many_classes=True),
    "own-curve": ToyData("own-curve", None, "regression", 1, 0.0, 0),
}

# Input features: what the first layer sees, computed from the point (x1, x2), as source code
# (the browser computes the same: data.js FEATURES).
FEATURE_CODE = {"x1": "x[:, 0:1]", "x2": "x[:, 1:2]", "x1^2": "x[:, 0:1] ** 2", "x2^2": "x[:, 1:2] ** 2",
                "x1*x2": "x[:, 0:1] * x[:, 1:2]", "sin(x1)": "torch.sin(x[:, 0:1])",
                "sin(x2)": "torch.sin(x[:, 1:2])"}
FEATURES = tuple(FEATURE_CODE)
FEATURES_1D = ("x1", "x1^2", "sin(x1)")          # a curve has no x2

ACTIVATION_CODE = {"relu": "F.relu({})", "tanh": "torch.tanh({})", "sigmoid": "torch.sigmoid({})",
                   "linear": "{}"}
ACTIVATIONS = tuple(ACTIVATION_CODE)
REGULARIZATIONS = ("none", "L1", "L2")

# The course's four optimizers (cnnlab.core.optimizers): (label, code).
OPTIMIZERS = {name: (label, optimizers.code(name, "net.parameters()", "LR"))
              for name, label in zip(optimizers.NAMES, ("SGD", "Momentum", "RMSprop", "Adam"))}
