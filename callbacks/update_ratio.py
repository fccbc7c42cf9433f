"""‖ΔW‖/‖W‖ per layer: how far one optimiser step moves the weights, relative to their size (about 1e-3 is healthy)."""

import math
import statistics

import lightning.pytorch as pl
import torch

from babysit.callbacks.layers import weight_layers
from babysit.callbacks.monitor import Monitor
from babysit.verdict import PASS, WARN, Verdict


class UpdateRatio(Monitor):
    """Every `interval` steps, the weights are copied just before the optimiser step and compared
    just after it, so the ratio is the real update of any optimiser (momentum, Adam, weight decay)."""

    def __init__(self, interval: int = 10, low: float = 1e-4, high: float = 1e-2):
        super().__init__(interval=interval)
        self.interval, self.low, self.high = interval, low, high
        self.history: dict[str, list[float]] = {}
        self.steps: list[int] = []
        self._names: list[str] = []
        self._tags: list[str] = []
        self._weights: list[torch.nn.Parameter] = []
        self._before: list[torch.Tensor] | None = None
        self._pending_step: int | None = None

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        self._names, self._weights = weight_layers(pl_module)
        self._tags = [f"babysit/update_ratio/{name}" for name in self._names]
        self._before = None

    def on_before_optimizer_step(self, trainer: pl.Trainer, pl_module: pl.LightningModule, optimizer) -> None:
        if trainer.global_step % self.interval or not self._weights:
            return
        with torch.no_grad():
            if self._before is None:
                self._before = [torch.empty_like(w) for w in self._weights]
            torch._foreach_copy_(self._before, self._weights)
        self._pending_step = trainer.global_step

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs, batch, batch_idx):
        if self._pending_step is None:
            return
        step, self._pending_step = self._pending_step, None
        with torch.no_grad():
            torch._foreach_sub_(self._before, self._weights)  # before − after = −ΔW
            norms = torch.stack(torch._foreach_norm(self._before + self._weights)).tolist()
        updates, sizes = norms[:len(self._weights)], norms[len(self._weights):]
        ratios = [u / s if s else math.nan for u, s in zip(updates, sizes, strict=True)]
        self.steps.append(step)
        for name, ratio in zip(self._names, ratios, strict=True):
            self.history.setdefault(name, []).append(ratio)
        self.metrics.scalars(trainer, dict(zip(self._tags, ratios, strict=True)), step)

    def on_fit_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if not self.steps:
            return
        medians = {name: statistics.median(values) for name, values in self.history.items()}
        problems = []
        for name, median in medians.items():
            if not median >= self.low:
                problems.append(f"lr too low for layer {name}: median {median:.1e} < {self.low:.0e}")
            elif median > self.high:
                problems.append(f"lr too high for layer {name}: median {median:.1e} > {self.high:.0e}")
        numbers = {"medians": medians, "low": self.low, "high": self.high, "measurements": len(self.steps)}
        if problems:
            self.record(trainer, Verdict(
                "update_ratio", WARN, "; ".join(problems),
                advice="‖ΔW‖/‖W‖ should sit near 1e-3: scale the learning rate by about 1e-3 / median",
                numbers=numbers, epoch=trainer.current_epoch, step=trainer.global_step,
            ))
        else:
            lo, hi = min(medians.values()), max(medians.values())
            self.record(trainer, Verdict(
                "update_ratio", PASS,
                f"update ratio within [{self.low:.0e}, {self.high:.0e}] in all {len(medians)} layers "
                f"(medians {lo:.1e} … {hi:.1e})",
                numbers=numbers,
            ))

    def state_dict(self) -> dict:
        return {"history": self.history, "steps": self.steps}

    def load_state_dict(self, state_dict: dict) -> None:
        self.history, self.steps = state_dict["history"], state_dict["steps"]
