"""Stop training as soon as the cost explodes: NaN/inf, or above `factor` × the first step's cost."""

import math
from collections.abc import Mapping

import lightning.pytorch as pl
import torch

from babysit.callbacks.monitor import Monitor, step_cost
from babysit.verdict import FAIL, PASS, Verdict


class ExplosionStop(Monitor):
    """Reads the cost each training step returned (one float per step) and sets
    `trainer.should_stop` the step it explodes; `exploded`, `reason`, `step`, `epoch` (1-based) say when.
    Under DDP the cost judged is the mean over the ranks (one all-reduce per step), so every rank
    takes the same decision at the same step and they stop together."""

    def __init__(self, factor: float = 3.0):
        super().__init__(factor=factor)
        self.factor = factor
        self.initial: float | None = None
        self.max_cost = -math.inf
        self.exploded = False
        self.reason = ""
        self.step: int | None = None
        self.epoch: int | None = None

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs, batch, batch_idx):
        loss = outputs.get("loss") if isinstance(outputs, Mapping) else outputs
        if self.exploded or not isinstance(loss, torch.Tensor):
            return
        cost = step_cost(outputs, trainer)
        if self.initial is None and math.isfinite(cost):
            self.initial = cost
        self.max_cost = max(self.max_cost, cost)
        too_high = self.initial is not None and self.initial > 0 and cost > self.factor * self.initial
        if not math.isfinite(cost) or too_high:
            self._explode(trainer, cost)

    def _explode(self, trainer: pl.Trainer, cost: float) -> None:
        trainer.should_stop = True
        self.exploded = True
        self.step, self.epoch = trainer.global_step, trainer.current_epoch + 1
        when = f"at step {self.step} (epoch {self.epoch})"
        if math.isfinite(cost):
            self.reason = f"cost {cost:.4g} > {self.factor:g} × initial {self.initial:.4g} {when}"
        else:
            self.reason = f"cost {cost} {when}"
        self.record(trainer, Verdict(
            "explosion", FAIL, f"training stopped: {self.reason}",
            advice="lower the learning rate (e.g. ÷10), check the data for NaN/inf and the loss for log(0)",
            numbers={"cost": cost, "initial": self.initial, "factor": self.factor},
            epoch=self.epoch, step=self.step,
        ))

    def on_fit_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self.exploded or self.initial is None:
            return
        self.record(trainer, Verdict(
            "explosion", PASS,
            f"cost stayed below {self.factor:g} × initial {self.initial:.4g} (max {self.max_cost:.4g})",
            numbers={"initial": self.initial, "max": self.max_cost, "factor": self.factor},
        ))

    def state_dict(self) -> dict:
        return {"initial": self.initial, "max_cost": self.max_cost}

    def load_state_dict(self, state_dict: dict) -> None:
        self.initial, self.max_cost = state_dict["initial"], state_dict["max_cost"]
