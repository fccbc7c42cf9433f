"""‖ΔW‖/‖W‖ per layer: how far one optimiser step moves the weights, relative to their size (about 1e-3 is healthy)."""

import math
import statistics

import lightning.pytorch as pl
import torch

from babysit.callbacks.layers import weight_layers
from babysit.callbacks.monitor import Monitor, step_cost
from babysit.callbacks.phase import learning_phase, settled_phase
from babysit.verdict import INFO, PASS, WARN, Verdict


class UpdateRatio(Monitor):
    """Every `interval` steps, the weights are copied just before the optimiser step and compared
    just after it, so the ratio is the real update of any optimiser (momentum, Adam, weight decay).

    Judged in the phase where each side means something: "too low" on the steps taken while the
    cost still fell (a converged layer's updates shrink on purpose), "too high" on the steps after
    that (an output layer initialised small moves fast until its weights have grown; a run that
    never got past its learning phase is not judged on that side). A layer outside the band only
    outside its judged phase is an INFO line. Far above the band (`high_while_learning`) is too high
    in any phase: no layer grows into updates of that size."""

    def __init__(self, interval: int = 10, low: float = 1e-4, high: float = 1e-2, phase_done: float = 0.9,
                 barely_changes: float = 0.01, high_while_learning: float = 1e-1):
        super().__init__(interval=interval)
        self.interval, self.low, self.high, self.high_learning = interval, low, high, high_while_learning
        self.phase_done, self.barely = phase_done, barely_changes
        self.history: dict[str, list[float]] = {}
        self.steps: list[int] = []
        self.costs: list[float] = []  # the training cost at each measured step
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
        self.costs.append(step_cost(outputs, trainer))  # under DDP of all ranks
        for name, ratio in zip(self._names, ratios, strict=True):
            self.history.setdefault(name, []).append(ratio)
        self.metrics.scalars(trainer, dict(zip(self._tags, ratios, strict=True)), step)

    def on_fit_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if not self.steps:
            return
        learning = learning_phase(self.costs, self.barely, self.phase_done)
        settled = settled_phase(len(self.steps), learning)
        when = {"learning": _span(self.steps, learning), "settled": _span(self.steps, settled)}
        low_side = {n: _median(v, learning) for n, v in self.history.items()}
        high_side = {n: _median(v, settled) for n, v in self.history.items()}
        problems, notes = [], []
        for name, values in self.history.items():
            if not low_side[name] >= self.low:
                problems.append(f"lr too low for layer {name}: median {low_side[name]:.1e} < {self.low:.0e} while "
                                f"the cost fell ({when['learning']})")
            elif low_side[name] > self.high_learning:
                problems.append(f"lr too high for layer {name}: median {low_side[name]:.1e} > "
                                f"{self.high_learning:.0e} while the cost fell ({when['learning']})")
            elif settled and high_side[name] > self.high:
                problems.append(f"lr too high for layer {name}: median {high_side[name]:.1e} > {self.high:.0e} once "
                                f"the weights settled ({when['settled']})")
            else:
                lo, hi = min(values), max(values)
                if lo < self.low:
                    notes.append(f"{name} fell to {lo:.1e} as the cost flattened")
                if hi > self.high:
                    notes.append(f"{name} reached {hi:.1e} while the weights were still growing")
        numbers = {"medians_learning": low_side, "medians_settled": high_side, "low": self.low, "high": self.high,
                   "measurements": len(self.steps), "learning_steps": when["learning"],
                   "settled_steps": when["settled"]}
        numbers["medians"] = {n: statistics.median(v) for n, v in self.history.items()}
        epoch, step = trainer.current_epoch, trainer.global_step
        if problems:
            self.record(trainer, Verdict(
                "update_ratio", WARN, "; ".join(problems),
                advice="‖ΔW‖/‖W‖ should sit near 1e-3: scale the learning rate by about 1e-3 / median",
                numbers=numbers, epoch=epoch, step=step,
            ))
            return
        lo, hi = min(low_side.values()), max((high_side if settled else low_side).values())
        after = " and once settled" if settled else " (the run ended while it still fell)"
        self.record(trainer, Verdict(
            "update_ratio", PASS,
            f"update ratio within [{self.low:.0e}, {self.high:.0e}] in all {len(self.history)} layers "
            f"(medians {lo:.1e} … {hi:.1e} while the cost fell{after})",
            numbers=numbers, epoch=epoch, step=step,
        ))
        if notes:
            self.record(trainer, Verdict(
                "update_ratio", INFO, "outside the band only where that is expected: " + "; ".join(notes),
                numbers=numbers, epoch=epoch, step=step,
            ))

    def state_dict(self) -> dict:
        return {"history": self.history, "steps": self.steps, "costs": self.costs}

    def load_state_dict(self, state_dict: dict) -> None:
        self.history, self.steps = state_dict["history"], state_dict["steps"]
        self.costs = state_dict.get("costs", [math.nan] * len(self.steps))


def _median(values: list[float], positions: list[int]) -> float:
    picked = [values[i] for i in positions if i < len(values)]
    return statistics.median(picked) if picked else math.nan


def _span(steps: list[int], positions: list[int]) -> str:
    if not positions:
        return "no steps"
    first, last = steps[positions[0]], steps[positions[-1]]
    return f"step {first}" if first == last else f"steps {first}–{last}"
