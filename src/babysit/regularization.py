"""Explicit regularisation, so that a check can switch it off or crank it up.

cost = data loss + l2 · ½‖W‖² + l1 · ‖W‖₁ over trainable weight matrices and kernels (not
biases, not normalisation gains); max-norm clamps each unit's incoming weight vector after a step.
The values are checked with the rest of the config (conf/schema.yaml: reg.*).
"""

from dataclasses import dataclass

import torch
import torch.nn as nn


def weight_tensors(net: nn.Module) -> list[torch.Tensor]:
    """Trainable weights: frozen ones (transfer.mode=freeze) are neither penalised nor clamped."""
    return [p for p in net.parameters() if p.ndim > 1 and p.requires_grad]


@dataclass
class Regularizer:
    l2: float = 0.0
    l1: float = 0.0
    max_norm: float | None = None

    def penalty(self, net: nn.Module) -> torch.Tensor | float:
        if not self.l2 and not self.l1:
            return 0.0
        weights = weight_tensors(net)
        total = 0.0
        if self.l2:
            total = total + 0.5 * self.l2 * sum(torch.sum(w * w) for w in weights)
        if self.l1:
            total = total + self.l1 * sum(w.abs().sum() for w in weights)
        return total

    @torch.no_grad()
    def apply_max_norm(self, net: nn.Module) -> None:
        if self.max_norm is None:
            return
        for w in weight_tensors(net):
            w.copy_(torch.renorm(w, p=2, dim=0, maxnorm=self.max_norm))
