"""Models that carry a classic bug. Each takes (in_shape, num_classes) like babysit's own models and
wraps one of them (`base`), so that `python train.py model=custom model._target_=bench.zoo.models.X`
trains it with every check."""

import torch
import torch.nn as nn
import torch.nn.functional as F

from babysit.models import FC3, LeNet5


def _base(base: str, in_shape, num_classes: int) -> nn.Module:
    return {"lenet5": LeNet5, "fc3": FC3}[base](in_shape, num_classes)


def _layers(net: nn.Module) -> list[nn.Module]:
    return [m for m in net.modules() if isinstance(m, (nn.Linear, nn.Conv2d))]


class Wrapped(nn.Module):
    def __init__(self, in_shape, num_classes: int, base: str = "lenet5"):
        super().__init__()
        self.net = _base(base, in_shape, num_classes)

    def forward(self, x):
        return self.net(x)


class SoftmaxOutput(Wrapped):
    """The loss gets probabilities: a softmax at the end of forward, before a loss that applies its own."""

    def forward(self, x):
        return self.net(x).softmax(1)


class ScaledLogits(Wrapped):
    """Bad init scale: the scores start large, so the initial loss is far above ln C."""

    def __init__(self, in_shape, num_classes: int, base: str = "lenet5", scale: float = 30.0):
        super().__init__(in_shape, num_classes, base)
        nn.init.normal_(_layers(self.net)[-1].weight, std=scale / 100)
        self.scale = scale

    def forward(self, x):
        return self.net(x) * self.scale


class ConstantInit(Wrapped):
    """Every weight and bias starts at the same value: symmetric units (all zero: nothing gets a gradient)."""

    def __init__(self, in_shape, num_classes: int, base: str = "fc3", value: float = 0.0):
        super().__init__(in_shape, num_classes, base)
        for p in self.net.parameters():
            nn.init.constant_(p, value)


class FrozenLayer(Wrapped):
    """A layer left frozen by mistake (copied from a transfer-learning script)."""

    def __init__(self, in_shape, num_classes: int, base: str = "lenet5", layer: int = 0):
        super().__init__(in_shape, num_classes, base)
        for p in _layers(self.net)[layer].parameters():
            p.requires_grad_(False)


class IgnoresInput(Wrapped):
    """forward() never looks at x: it feeds zeros, or a fixed template, to the network."""

    def __init__(self, in_shape, num_classes: int, base: str = "lenet5", how: str = "zeros"):
        super().__init__(in_shape, num_classes, base)
        self.how = how
        self.register_buffer("template", torch.rand(1, *in_shape, generator=torch.Generator().manual_seed(0)))

    def forward(self, x):
        return self.net(torch.zeros_like(x) if self.how == "zeros" else self.template.expand_as(x))


class MixesBatch(Wrapped):
    """Examples mix across the batch: a reshape with the batch dimension in the wrong place, or a
    normalisation over the batch that stays on at evaluation."""

    def __init__(self, in_shape, num_classes: int, base: str = "lenet5", how: str = "reshape"):
        super().__init__(in_shape, num_classes, base)
        self.how = how

    def forward(self, x):
        if self.how == "reshape":
            x = x.flatten(1).t().reshape(x.shape)  # (D, N) read back as (N, D)
        else:
            x = F.batch_norm(x, None, None, training=True)  # batch statistics, also in eval mode
        return self.net(x)


class DropoutAtEval(Wrapped):
    """Dropout that ignores model.eval() (F.dropout with training=True)."""

    def __init__(self, in_shape, num_classes: int, base: str = "lenet5", p: float = 0.3):
        super().__init__(in_shape, num_classes, base)
        self.p = p

    def forward(self, x):
        return self.net(F.dropout(x, self.p, training=True))


class NegativeBias(Wrapped):
    """Dead ReLUs: the hidden layers' biases start very negative, so their units output 0."""

    def __init__(self, in_shape, num_classes: int, base: str = "fc3", bias: float = -10.0):
        super().__init__(in_shape, num_classes, base)
        for m in _layers(self.net)[:-1]:
            nn.init.constant_(m.bias, bias)


class DeepSaturating(nn.Module):
    """Vanishing gradients: a deep stack of sigmoid (or tanh) layers with a tiny initialisation."""

    def __init__(self, in_shape, num_classes: int, depth: int = 8, width: int = 64, std: float = 0.01,
                 activation: str = "sigmoid"):
        super().__init__()
        act = {"sigmoid": nn.Sigmoid, "tanh": nn.Tanh}[activation]
        widths = [int(torch.tensor(in_shape).prod())] + [width] * depth
        layers: list[nn.Module] = [nn.Flatten()]
        for a, b in zip(widths, widths[1:], strict=False):
            layers += [nn.Linear(a, b), act()]
        layers.append(nn.Linear(width, num_classes))
        self.layers = nn.Sequential(*layers)
        for m in self.layers:
            if isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, std=std)
                nn.init.zeros_(m.bias)

    def forward(self, x):
        return self.layers(x)
