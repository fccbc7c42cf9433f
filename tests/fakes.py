"""Stand-ins for what the callbacks' hooks read from Lightning, to drive them without a fit."""

from types import SimpleNamespace

import torch


def trainer(step=0, epoch=0, strategy=None, **metrics):
    """A trainer on rank 0; with `strategy`, one of two ranks. `metrics`: callback_metrics, `__` for `/`."""
    return SimpleNamespace(is_global_zero=True, current_epoch=epoch, global_step=step, loggers=[],
                           world_size=2 if strategy else 1, strategy=strategy, should_stop=False,
                           callback_metrics={k.replace("__", "/"): torch.tensor(v) for k, v in metrics.items()})


class MetricLogger:
    """A plain (non-TensorBoard) logger: every log_metrics call, as (step, metrics)."""

    def __init__(self):
        self.logged = []

    def log_metrics(self, metrics, step):
        self.logged.append((step, metrics))
