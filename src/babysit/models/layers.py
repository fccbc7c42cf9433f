"""Building blocks shared by the models: normalisation, activation, initialisation."""

import math

import torch.nn as nn
from torchvision.models.resnet import BasicBlock, Bottleneck

from babysit.errors import BabysitError

NORMS = ("none", "batch", "layer", "group", "instance")
INITS = ("default", "kaiming", "xavier", "small_gaussian")
ACTIVATIONS = {
    "relu": nn.ReLU,
    "leaky_relu": nn.LeakyReLU,
    "elu": nn.ELU,
    "gelu": nn.GELU,
    "tanh": nn.Tanh,
    "sigmoid": nn.Sigmoid,
}


def norm_layer(kind: str, channels: int, spatial: bool, groups: int = 8) -> nn.Module:
    """A normalisation layer for `channels` features (spatial: conv feature maps)."""
    if kind == "none":
        return nn.Identity()
    if kind == "batch":
        return nn.BatchNorm2d(channels) if spatial else nn.BatchNorm1d(channels)
    if kind == "layer":
        return nn.GroupNorm(1, channels) if spatial else nn.LayerNorm(channels)
    if kind == "group":
        return nn.GroupNorm(math.gcd(groups, channels), channels)
    if kind == "instance":
        # one group per channel; on flat features there is nothing to normalise per instance
        return nn.GroupNorm(channels, channels) if spatial else nn.LayerNorm(channels)
    raise BabysitError(f"model.norm={kind!r} must be one of {', '.join(NORMS)}")


def activation_layer(name: str) -> nn.Module:
    if name not in ACTIVATIONS:
        raise BabysitError(f"model.activation={name!r} must be one of {', '.join(ACTIVATIONS)}")
    return ACTIVATIONS[name]()


def init_weights(model: nn.Module, scheme: str, std: float = 1e-4, head_std: float | None = 1e-3,
                 zero_residual: bool = False) -> None:
    """Initialise conv/linear weights (biases to zero); 'default' keeps PyTorch's own.

    The output layer gets N(0, head_std²) under kaiming/xavier: with their gains the logits
    start large and the initial loss far above ln C (2.8 instead of 0.69 for LeNet-5 on two
    classes); small output weights start it at ln C. head_std=None treats it like the rest.
    zero_residual then starts every residual block as the identity (see zero_init_residual).
    """
    if scheme not in INITS:
        raise BabysitError(f"model.init={scheme!r} must be one of {', '.join(INITS)}")
    if scheme != "default":
        layers = [m for m in model.modules() if isinstance(m, (nn.Linear, nn.Conv2d))]
        for m in layers:
            if m is layers[-1] and head_std is not None and scheme in ("kaiming", "xavier"):
                nn.init.normal_(m.weight, 0.0, head_std)
            elif scheme == "kaiming":
                nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
            elif scheme == "xavier":
                nn.init.xavier_uniform_(m.weight)
            else:
                nn.init.normal_(m.weight, 0.0, std)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
    if zero_residual:
        zero_init_residual(model)


def zero_init_residual(model: nn.Module) -> None:
    """Zero the γ of the last norm layer of every residual branch (torchvision's BasicBlock and
    Bottleneck), so that each block starts as the identity (Goyal et al. 2017); with norm=none
    there is no γ, and the branch's last conv is zeroed instead (as in Fixup).

    torchvision's own zero_init_residual flag does the first half, but fails on nn.Identity
    norms and runs before init_weights.
    """
    for m in model.modules():
        if isinstance(m, Bottleneck):
            norm, conv = m.bn3, m.conv3
        elif isinstance(m, BasicBlock):
            norm, conv = m.bn2, m.conv2
        else:
            continue
        gamma = getattr(norm, "weight", None)
        nn.init.zeros_(gamma if gamma is not None else conv.weight)
        if gamma is None and conv.bias is not None:
            nn.init.zeros_(conv.bias)
