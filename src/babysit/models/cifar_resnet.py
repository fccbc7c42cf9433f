"""The CIFAR ResNet of He et al. 2016 (§4.2): a 3×3 conv, then 3 stages of n BasicBlocks with
16/32/64 channels (the 2nd and 3rd stage halve the size), global average pool, fully connected;
depth 6n+2 (20, 32, 44, 56, 110). The blocks are torchvision's BasicBlock."""

from functools import partial

import torch.nn as nn
import torch.nn.functional as F
from torchvision.models.resnet import BasicBlock, conv1x1, conv3x3

from babysit.errors import BabysitError
from babysit.models.layers import init_weights, norm_layer

SHORTCUTS = ("pad", "conv")


class PadShortcut(nn.Module):
    """Option A of the paper: subsample by the stride and fill the new channels with zeros (no parameters)."""

    def __init__(self, extra_channels: int, stride: int):
        super().__init__()
        self.extra, self.stride = extra_channels, stride

    def forward(self, x):
        return F.pad(x[:, :, ::self.stride, ::self.stride], (0, 0, 0, 0, 0, self.extra))


class CifarResNet(nn.Module):
    def __init__(self, in_shape, num_classes: int, depth: int = 20, shortcut: str = "pad", norm: str = "batch",
                 init: str = "kaiming", init_std: float = 1e-4, head_std: float | None = 1e-3,
                 zero_init_residual: bool = False):
        super().__init__()
        if not isinstance(depth, int) or depth < 8 or (depth - 2) % 6:
            raise BabysitError(f"model.depth={depth!r} must be 6n+2, e.g. 20, 32, 44, 56 or 110")
        if shortcut not in SHORTCUTS:
            raise BabysitError(f"model.shortcut={shortcut!r} must be pad (option A: zero-padded identity) "
                               "or conv (option B: 1×1 conv + norm)")
        blocks_per_stage = (depth - 2) // 6
        make_norm = partial(norm_layer, norm, spatial=True)
        self.conv1 = conv3x3(in_shape[0], 16)
        self.bn1 = make_norm(16)
        self.relu = nn.ReLU(inplace=True)
        inplanes = 16
        for stage, planes in enumerate((16, 32, 64), start=1):
            blocks = []
            for b in range(blocks_per_stage):
                stride = 2 if stage > 1 and b == 0 else 1
                down = None
                if stride != 1 or inplanes != planes:
                    down = (PadShortcut(planes - inplanes, stride) if shortcut == "pad"
                            else nn.Sequential(conv1x1(inplanes, planes, stride), make_norm(planes)))
                blocks.append(BasicBlock(inplanes, planes, stride, down, norm_layer=make_norm))
                inplanes = planes
            self.add_module(f"layer{stage}", nn.Sequential(*blocks))
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(64, num_classes)
        init_weights(self, init, init_std, head_std, zero_residual=zero_init_residual)

    def forward(self, x):
        x = self.relu(self.bn1(self.conv1(x)))
        x = self.layer3(self.layer2(self.layer1(x)))
        return self.fc(self.avgpool(x).flatten(1))
