"""Dead ReLU units: output features (channels of a conv map) that are 0 for every sample and position of a batch."""

from collections import Counter
from functools import partial

import lightning.pytorch as pl
import torch
import torch.nn as nn

from babysit.callbacks.layers import modules_of_type
from babysit.callbacks.monitor import Monitor
from babysit.verdict import PASS, WARN, Verdict

# LeakyReLU, ELU and GELU pass a gradient below zero, so their units cannot die this way.
RELUS = (nn.ReLU, nn.ReLU6)
ADVICE = ("lower the learning rate (one big step can push a unit below all its inputs for good), "
          "use kaiming init, or model.activation=leaky_relu")


class DeadUnits(Monitor):
    """Every `interval` steps, forward hooks on the ReLU modules measure the fraction of dead units
    of that training batch (under DDP, of the batches of all ranks together), logged as
    `babysit/dead_units/<layer>`. The hooks exist only during measured steps. Units are
    dimension 1 of the output (features of a Linear, channels of a conv)."""

    def __init__(self, threshold: float = 0.5, interval: int = 10):
        super().__init__(interval=interval)
        self.threshold, self.interval = threshold, interval
        self.history: dict[str, list[float]] = {}
        self.steps: list[int] = []
        self.flagged: dict[str, int] = {}  # layer → epoch (1-based) it first went above the threshold
        self._modules: list[tuple[str, nn.Module]] = []
        self._handles: list = []
        self._sums: list[tuple[str, torch.Tensor]] = []
        self._step = 0

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        self._modules = modules_of_type(pl_module, RELUS)

    def on_train_batch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule, batch, batch_idx) -> None:
        step = trainer.global_step
        if step % self.interval or (self.steps and self.steps[-1] == step) or self._handles:
            return  # (with gradient accumulation several batches share a step: measure the first)
        self._step, self._sums = step, []
        self._handles = [m.register_forward_hook(partial(self._hook, name)) for name, m in self._modules]

    def _hook(self, name: str, module: nn.Module, inputs, output: torch.Tensor) -> None:
        # ReLU outputs are ≥ 0, so a unit is dead when its sum over samples and positions is 0; a sum
        # (unlike amax) reduces fast over the channels-last maps that conv nets train with here
        dims = [d for d in range(output.ndim) if d != 1] if output.ndim > 1 else [0]
        self._sums.append((name, output.detach().sum(dim=dims).reshape(-1)))

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs, batch, batch_idx):
        if not self._handles:
            return
        self._remove_hooks()
        if not self._sums:
            return
        step, epoch = self._step, trainer.current_epoch + 1
        # one copy for all layers; under DDP summed over the ranks: dead means dead on the global batch
        sums = trainer.strategy.reduce(torch.cat([unit_sums for _, unit_sums in self._sums]), reduce_op="sum").tolist()
        calls, names, values, start = Counter(), [], [], 0
        for name, unit_sums in self._sums:  # an activation module used twice gets one entry per call
            calls[name] += 1
            names.append(name if calls[name] == 1 else f"{name}.call{calls[name]}")
            layer = sums[start:start + len(unit_sums)]
            values.append(sum(s <= 0 for s in layer) / len(layer))
            start += len(layer)
        self.steps.append(step)
        for name, value in zip(names, values, strict=True):
            self.history.setdefault(name, []).append(value)
            if value > self.threshold and name not in self.flagged:
                self.flagged[name] = epoch
                self.record(trainer, Verdict(
                    "dead_units", WARN, f"{value:.0%} of the units of {name} are dead (> {self.threshold:.0%}) "
                                        f"at step {step} (epoch {epoch})",
                    advice=ADVICE, numbers={"layer": name, "fraction": value}, epoch=epoch, step=step,
                ))
        self.metrics.scalars(trainer, {f"babysit/dead_units/{n}": v for n, v in zip(names, values, strict=True)}, step)

    def on_fit_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if not self.history:
            return
        last = {name: values[-1] for name, values in self.history.items()}
        dead = {name: value for name, value in last.items() if value > self.threshold}
        numbers = {"last": last, "threshold": self.threshold, "first_flagged_epoch": self.flagged}
        if dead:
            self.record(trainer, Verdict(
                "dead_units", WARN, "dead units at the end of training: "
                + ", ".join(f"{name} {value:.0%}" for name, value in dead.items()) + f" (> {self.threshold:.0%})",
                advice=ADVICE, numbers=numbers, epoch=trainer.current_epoch, step=trainer.global_step,
            ))
        else:
            worst = max(last, key=last.get)
            self.record(trainer, Verdict(
                "dead_units", PASS, f"dead units ≤ {self.threshold:.0%} in all {len(last)} ReLU layers at the end "
                                    f"(most: {last[worst]:.0%} in {worst})",
                numbers=numbers,
            ))

    def _remove_hooks(self) -> None:
        for handle in self._handles:
            handle.remove()
        self._handles = []

    def on_exception(self, trainer: pl.Trainer, pl_module: pl.LightningModule, exception: BaseException) -> None:
        self._remove_hooks()
        super().on_exception(trainer, pl_module, exception)

    def state_dict(self) -> dict:
        return {"history": self.history, "steps": self.steps, "flagged": self.flagged}

    def load_state_dict(self, state_dict: dict) -> None:
        self.history, self.steps, self.flagged = state_dict["history"], state_dict["steps"], state_dict["flagged"]
