"""What every judging callback shares: its verdicts, each printed as it fires, and its metric output."""

import math

import lightning.pytorch as pl
import torch

from babysit.callbacks.loggers import MetricWriter
from babysit.verdict import Verdict, show


class Monitor(pl.Callback):
    def __init__(self, **identity):
        """`identity`: the arguments that tell two instances apart in a checkpoint (e.g. interval=10)."""
        self.verdicts: list[Verdict] = []
        self.metrics = MetricWriter()
        # Lightning reads state_key on every hook call (profiler labels): built once
        self._state_key = self._generate_state_key(**identity)

    @property
    def state_key(self) -> str:
        return self._state_key

    def record(self, trainer: pl.Trainer, verdict: Verdict) -> Verdict:
        self.verdicts.append(verdict)
        if trainer.is_global_zero:
            show(verdict)
        return verdict

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.metrics.flush()

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.metrics.flush()

    def on_exception(self, trainer: pl.Trainer, pl_module: pl.LightningModule, exception: BaseException) -> None:
        self.metrics.flush()


def logged(trainer: pl.Trainer, keys: str | tuple[str, ...]) -> float:
    """The first of `keys` the module logged (NaN when none was): a module's own name for a metric
    comes first, what the babysitter measured itself next."""
    metrics = trainer.callback_metrics
    for key in (keys,) if isinstance(keys, str) else keys:
        if key in metrics:
            return float(metrics[key])
    return math.nan


def step_cost(outputs) -> float:
    """The cost one training step returned (a tensor, or a dict holding "loss"), as a float."""
    loss = outputs.get("loss") if isinstance(outputs, dict) else outputs
    return float(loss) if isinstance(loss, torch.Tensor) else math.nan
