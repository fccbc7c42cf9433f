"""Layer names as the monitors report them: the module path inside the network.

A LightningModule that keeps its network in one child (`self.net = LeNet5(...)`) gets names
relative to that child (`features.conv1`, not `net.features.conv1`); otherwise relative to itself.
"""

import torch.nn as nn


def _prefix(root: nn.Module) -> str:
    owners = [name for name, child in root.named_children() if next(child.parameters(), None) is not None]
    return owners[0] + "." if len(owners) == 1 else ""


def weight_layers(root: nn.Module) -> tuple[list[str], list[nn.Parameter]]:
    """(layer names, weights): trainable parameters with more than one dimension (no biases, no norm gains)."""
    prefix = _prefix(root)
    pairs = [
        (name.removeprefix(prefix).removesuffix(".weight"), p)
        for name, p in root.named_parameters()
        if p.ndim > 1 and p.requires_grad
    ]
    return [n for n, _ in pairs], [p for _, p in pairs]


def modules_of_type(root: nn.Module, types: tuple[type, ...]) -> list[tuple[str, nn.Module]]:
    prefix = _prefix(root)
    return [(name.removeprefix(prefix), m) for name, m in root.named_modules() if isinstance(m, types)]
