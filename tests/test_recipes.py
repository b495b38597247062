"""The shipped checkpoints' recipes (cnnlab.core.recipes): the parts that run in seconds. The
recipes themselves take minutes to an hour; the README gives their commands and figures."""
from __future__ import annotations

import torch
from torch import nn

from cnnlab.core import recipes


def test_averaged_copies_hold_the_mean_of_weights_and_batch_norm_statistics():
    torch.manual_seed(0)
    copies = [nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4)) for _ in range(3)]
    for k, m in enumerate(copies):
        m[1].running_mean.fill_(float(k))                # 0, 1, 2: the mean is 1
        m[1].num_batches_tracked.fill_(10 + k)           # a count is not averaged: the first's stays
    weights = torch.stack([m[0].weight.detach().clone() for m in copies])
    soup = recipes.average_weights(copies)
    assert soup is copies[0]
    torch.testing.assert_close(soup[0].weight, weights.mean(0))
    assert torch.equal(soup[1].running_mean, torch.ones(4))
    assert soup[1].num_batches_tracked.item() == 10
    assert soup[1].num_batches_tracked.dtype == torch.long

