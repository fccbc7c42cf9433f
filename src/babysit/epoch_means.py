"""The training epoch's mean cost, data loss and accuracy, summed as plain tensors step by step.

A torchmetrics update costs more on the CPU than a small network's training step, three of them
per step more so; these sums do the same arithmetic as `MeanMetric(nan_strategy="warn")`
(weighted by the batch size, NaN values left out) and micro-averaged `MulticlassAccuracy`, so the
numbers are the same, bit for bit. Under DDP `compute(reduce)` adds the ranks' sums before dividing,
as torchmetrics' synchronisation does.
"""

from collections.abc import Callable

import torch


class EpochMeans:
    def __init__(self):
        self._sums: torch.Tensor | None = None  # cost·n, n (cost not NaN), data loss·n, n (loss not NaN), correct, n

    def update(self, cost: torch.Tensor, data_loss: torch.Tensor, logits: torch.Tensor, y: torch.Tensor) -> None:
        n = float(len(y))
        cost, data_loss = cost.detach(), data_loss.detach()
        cost_ok, loss_ok = ~torch.isnan(cost), ~torch.isnan(data_loss)
        step = torch.stack([
            torch.where(cost_ok, cost * n, 0.0), torch.where(cost_ok, n, 0.0),
            torch.where(loss_ok, data_loss * n, 0.0), torch.where(loss_ok, n, 0.0),
            (logits.detach().argmax(1) == y).sum().to(cost.dtype), torch.full_like(cost, n),
        ])
        self._sums = step if self._sums is None else self._sums + step

    def compute(self, reduce: Callable[[torch.Tensor], torch.Tensor] | None = None) -> dict[str, torch.Tensor]:
        """{"train/loss", "train/data_loss", "train/acc"} of the steps since the last reset."""
        sums = self._sums if reduce is None else reduce(self._sums)
        return {"train/loss": sums[0] / sums[1], "train/data_loss": sums[2] / sums[3], "train/acc": sums[4] / sums[5]}

    def reset(self) -> None:
        self._sums = None

    def state_dict(self) -> torch.Tensor:
        return self._sums.detach().clone()

    def load_state_dict(self, sums: torch.Tensor) -> None:
        self._sums = sums

    @property
    def empty(self) -> bool:
        return self._sums is None
