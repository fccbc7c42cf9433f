from collections import OrderedDict
from math import prod

import torch.nn as nn

from babysit.models.layers import activation_layer, init_weights, norm_layer


class FC3(nn.Module):
    """Three fully-connected layers: input → hidden → hidden → classes."""

    def __init__(self, in_shape, num_classes: int, hidden=(100, 100), activation: str = "relu",
                 dropout: float = 0.0, norm: str = "none", init: str = "kaiming", init_std: float = 1e-4,
                 head_std: float | None = 1e-3):
        super().__init__()
        h1, h2 = hidden
        layers = [("flatten", nn.Flatten())]
        for i, (n_in, n_out) in enumerate([(prod(in_shape), h1), (h1, h2)], start=1):
            layers += [
                (f"fc{i}", nn.Linear(n_in, n_out)),
                (f"norm{i}", norm_layer(norm, n_out, spatial=False)),
                (f"act{i}", activation_layer(activation)),
                (f"drop{i}", nn.Dropout(dropout)),
            ]
        layers.append(("fc3", nn.Linear(h2, num_classes)))
        self.layers = nn.Sequential(OrderedDict(layers))
        init_weights(self, init, init_std, head_std)

    def forward(self, x):
        return self.layers(x)
