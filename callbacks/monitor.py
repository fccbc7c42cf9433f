"""What every judging callback shares: its verdicts, each printed as it fires, and its metric output."""

import math
from collections.abc import Mapping

import lightning.pytorch as pl
import torch

from babysit.callbacks.loggers import MetricWriter
from babysit.verdict import Verdict, show

VERDICTS_KEY = "babysit_verdicts"


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

    # The verdicts given so far ride along in checkpoints (each subclass's state_dict holds its
    # measurements), so a resumed run reports them too.
    def on_save_checkpoint(self, trainer: pl.Trainer, pl_module: pl.LightningModule, checkpoint: dict) -> None:
        checkpoint.setdefault(VERDICTS_KEY, {})[self.state_key] = [v.as_dict() for v in self.verdicts]

    def on_load_checkpoint(self, trainer: pl.Trainer, pl_module: pl.LightningModule, checkpoint: dict) -> None:
        if trainer.state.fn != "fit":
            return  # trainer.test(ckpt_path=…) restores callbacks too; the verdicts of the run stay
        self.verdicts = [Verdict(**v) for v in checkpoint.get(VERDICTS_KEY, {}).get(self.state_key, [])]

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


def step_cost(outputs, trainer: pl.Trainer | None = None) -> float:
    """The cost one training step returned (a tensor, or a dict holding "loss"), as a float; with
    `trainer`, under DDP its mean over the ranks (one all-reduce), the same number on every rank."""
    loss = outputs.get("loss") if isinstance(outputs, Mapping) else outputs
    if not isinstance(loss, torch.Tensor):
        return math.nan
    if trainer is not None and trainer.world_size > 1:
        loss = trainer.strategy.reduce(loss.detach().clone(), reduce_op="mean")  # reduces in place
    return float(loss)
