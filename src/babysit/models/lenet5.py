from collections import OrderedDict

import torch.nn as nn

from babysit.errors import BabysitError
from babysit.models.layers import activation_layer, init_weights, norm_layer


class LeNet5(nn.Module):
    """LeNet-5: two 5×5 conv + pool stages, then 120 → 84 → classes fully connected."""

    def __init__(self, in_shape, num_classes: int, activation: str = "relu", pool: str = "max",
                 dropout: float = 0.0, norm: str = "none", init: str = "kaiming", init_std: float = 1e-4,
                 head_std: float | None = 1e-3):
        super().__init__()
        c, h, w = in_shape
        oh, ow = ((h - 4) // 2 - 4) // 2, ((w - 4) // 2 - 4) // 2
        if min(oh, ow) < 1:
            raise BabysitError(f"lenet5 needs images of at least 16×16 pixels, got {h}×{w}: set data.image_size=32")
        if pool not in ("max", "avg"):
            raise BabysitError(f"model.pool={pool!r} must be max or avg")
        pool_cls = nn.MaxPool2d if pool == "max" else nn.AvgPool2d
        self.features = nn.Sequential(OrderedDict([
            ("conv1", nn.Conv2d(c, 6, 5)), ("norm1", norm_layer(norm, 6, spatial=True)),
            ("act1", activation_layer(activation)), ("pool1", pool_cls(2)),
            ("conv2", nn.Conv2d(6, 16, 5)), ("norm2", norm_layer(norm, 16, spatial=True)),
            ("act2", activation_layer(activation)), ("pool2", pool_cls(2)),
        ]))
        self.classifier = nn.Sequential(OrderedDict([
            ("flatten", nn.Flatten()),
            ("fc1", nn.Linear(16 * oh * ow, 120)), ("norm3", norm_layer(norm, 120, spatial=False)),
            ("act3", activation_layer(activation)), ("drop1", nn.Dropout(dropout)),
            ("fc2", nn.Linear(120, 84)), ("norm4", norm_layer(norm, 84, spatial=False)),
            ("act4", activation_layer(activation)), ("drop2", nn.Dropout(dropout)),
            ("fc3", nn.Linear(84, num_classes)),
        ]))
        init_weights(self, init, init_std, head_std)

    def forward(self, x):
        return self.classifier(self.features(x))
