from collections import OrderedDict

import torch.nn as nn

from babysit.errors import BabysitError
from babysit.models.layers import activation_layer, init_weights, norm_layer


class VGGSmall(nn.Module):
    """VGG-style: stages of two 3×3 convs (each with norm and activation) and a 2×2 max-pool,
    then one hidden fully-connected layer and the output layer."""

    def __init__(self, in_shape, num_classes: int, channels=(32, 64, 128), hidden: int = 256,
                 activation: str = "relu", dropout: float = 0.0, norm: str = "batch", init: str = "kaiming",
                 init_std: float = 1e-4, head_std: float | None = 1e-3):
        super().__init__()
        c, h, w = in_shape
        shrink = 2 ** len(channels)
        if min(h, w) < shrink:
            raise BabysitError(f"vgg_small with {len(channels)} pooling stages needs images of at least "
                               f"{shrink}×{shrink} pixels, got {h}×{w}: set data.image_size=32")
        layers = []
        for s, out in enumerate(channels, start=1):
            for k in (1, 2):
                layers += [(f"conv{s}_{k}", nn.Conv2d(c, out, 3, padding=1)),
                           (f"norm{s}_{k}", norm_layer(norm, out, spatial=True)),
                           (f"act{s}_{k}", activation_layer(activation))]
                c = out
            layers.append((f"pool{s}", nn.MaxPool2d(2)))
        self.features = nn.Sequential(OrderedDict(layers))
        self.classifier = nn.Sequential(OrderedDict([
            ("flatten", nn.Flatten()),
            ("fc1", nn.Linear(c * (h // shrink) * (w // shrink), hidden)),
            ("norm_fc1", norm_layer(norm, hidden, spatial=False)),
            ("act_fc1", activation_layer(activation)),
            ("drop1", nn.Dropout(dropout)),
            ("fc2", nn.Linear(hidden, num_classes)),
        ]))
        init_weights(self, init, init_std, head_std)

    def forward(self, x):
        return self.classifier(self.features(x))
