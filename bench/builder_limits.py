"""How long an epoch of MNIST takes for built networks near the builder's limits (cnnlab.core.nets.builder
MAX_PARAMS, MAX_MACS), next to the registry's deep CNN, on this machine's CPU.

    python bench/builder_limits.py            # prints one line per network

Times ``STEPS`` training steps of batch 128 (after 3 warm-up steps) in the training thread's
setting (channels-last, as ``training.fit`` runs convolutions on a CPU) and projects a 60,000-image
epoch. The builder refuses anything above the limits, so the last rows bound the slowest epoch a
student can start.
"""
from __future__ import annotations

import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from cnnlab.core import datasets, optimizers, training  # noqa: E402
from cnnlab.core.nets import builder

STEPS = 10
BATCH = 128
NETWORKS = {
    "cnn-deep (registry)": builder.template("cnn-deep"),
    "at the multiply-add limit": [
        {"type": "conv", "channels": 32, "kernel": 3}, {"type": "batchnorm"}, {"type": "relu"},
        {"type": "conv", "channels": 56, "kernel": 3}, {"type": "batchnorm"}, {"type": "relu"},
        {"type": "maxpool", "size": 2}, {"type": "conv", "channels": 64, "kernel": 3}, {"type": "relu"},
        {"type": "maxpool", "size": 2}, {"type": "flatten"}, {"type": "dense", "units": 128}, {"type": "relu"}],
    "at the parameter limit (MLP)": [{"type": "flatten"}, {"type": "dense", "units": 2048}, {"type": "relu"},
                                     {"type": "dense", "units": 190}, {"type": "relu"}],
}


def main() -> None:
    spec = datasets.get_spec("mnist")
    print(f"torch threads: {torch.get_num_threads()}; limits: {builder.MAX_PARAMS:,} parameters, "
          f"{builder.MAX_MACS:,} multiply-adds per picture")
    for name, layers in NETWORKS.items():
        summary = builder.summarize(layers, spec)
        assert summary.ok, summary.problem
        torch.manual_seed(0)
        model = builder.build(layers, spec).train().to(memory_format=torch.channels_last)
        opt = optimizers.make("adam", model.parameters(), 1e-3)
        learner = training.Learner(model, opt)
        x = torch.randn(BATCH, 1, 28, 28).contiguous(memory_format=torch.channels_last)
        y = torch.randint(0, 10, (BATCH,))
        for _ in range(3):
            learner.step(x, y)
        start = time.perf_counter()
        for _ in range(STEPS):
            learner.step(x, y)
        per_image = (time.perf_counter() - start) / (STEPS * BATCH)
        print(f"{name:32s} {summary.params:>10,} params {summary.macs:>12,} mult-adds  "
              f"{1 / per_image:>7,.0f} images/s  epoch of 60,000: {60_000 * per_image / 60:5.1f} min")


if __name__ == "__main__":
    main()
