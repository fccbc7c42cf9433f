"""What the preflight checks share: fresh model copies and fixed training batches."""

import copy
import math

import torch
import torch.nn as nn

from babysit.data import InMemoryDataModule


def fresh_copy(net: nn.Module) -> nn.Module:
    """A copy of the untrained network: the checks never touch the one that will train."""
    clone = copy.deepcopy(net)
    clone.train()
    return clone


def train_batches(dm: InMemoryDataModule, count: int, batch_size: int | None = None):
    """`count` normalised, unaugmented training batches from a seeded permutation, cycling."""
    x, y = dm.splits["train"]
    size = min(batch_size or dm.batch_size, len(y))
    order = torch.randperm(len(y), generator=torch.Generator().manual_seed(0))
    per_pass = max(1, len(y) // size)
    for i in range(count):
        idx = order[(i % per_pass) * size : (i % per_pass + 1) * size]
        yield dm.prepare_batch(x[idx], train=False), y[idx]


def is_bad(value: float) -> bool:
    return not math.isfinite(value)
