"""Learning-rate schedules from the lectures that torch does not name directly."""

import math

from torch.optim.lr_scheduler import LambdaLR


def inverse_time(optimizer, decay: float) -> LambdaLR:
    """lr_t = lr_0 / (1 + decay · t), t in epochs."""
    return LambdaLR(optimizer, lambda t: 1.0 / (1.0 + decay * t))


def sqrt_decay(optimizer, total_epochs: int) -> LambdaLR:
    """lr_t = lr_0 · sqrt(1 − t / T)."""
    return LambdaLR(optimizer, lambda t: math.sqrt(max(0.0, 1.0 - t / total_epochs)))
