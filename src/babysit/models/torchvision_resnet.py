"""Any torchvision ResNet (resnet18 … resnet152, resnext*, wide_resnet*), untrained, adapted to
small images. The network is torchvision's own ResNet instance, so its parameter names are
torchvision's and a torchvision weights file loads into it by name."""

from functools import partial

import torch.nn as nn
import torchvision
from torchvision.models import ResNet

from babysit.errors import BabysitError
from babysit.models.layers import init_weights, norm_layer

ARCHS = tuple(name for name in torchvision.models.list_models(module=torchvision.models)
              if name.startswith(("resnet", "resnext", "wide_resnet")))
STEMS = ("cifar", "imagenet")


def torchvision_resnet(in_shape, num_classes: int, arch: str = "resnet18", stem: str = "cifar", norm: str = "batch",
                       init: str = "kaiming", init_std: float = 1e-4, head_std: float | None = 1e-3,
                       zero_init_residual: bool = False) -> ResNet:
    """stem=cifar: conv1 becomes 3×3 stride 1 and the max-pool goes, so 32×32 inputs keep their
    size through the first stage; stem=imagenet keeps the 7×7 stride-2 conv and the max-pool.
    init=default keeps torchvision's initialisation."""
    if arch not in ARCHS:
        raise BabysitError(f"model.arch={arch!r} must be one of {', '.join(ARCHS)}")
    if stem not in STEMS:
        raise BabysitError(f"model.stem={stem!r} must be cifar (3×3 conv, no max-pool) or imagenet (7×7/2 + max-pool)")
    norm_layer(norm, 8, spatial=True)  # an unknown name fails here with the list of norms
    net = torchvision.models.get_model(arch, weights=None, num_classes=num_classes,
                                       norm_layer=partial(norm_layer, norm, spatial=True))
    channels, width = in_shape[0], net.conv1.out_channels
    if stem == "cifar":
        net.conv1 = nn.Conv2d(channels, width, 3, stride=1, padding=1, bias=False)
        net.maxpool = nn.Identity()
    elif channels != 3:
        net.conv1 = nn.Conv2d(channels, width, 7, stride=2, padding=3, bias=False)
    if init == "default":
        nn.init.kaiming_normal_(net.conv1.weight, mode="fan_out", nonlinearity="relu")  # as torchvision does
    init_weights(net, init, init_std, head_std, zero_residual=zero_init_residual)
    return net
