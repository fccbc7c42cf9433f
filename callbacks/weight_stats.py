"""Per-layer weight and gradient sizes, histograms, and a verdict on vanishing / exploding gradients."""

import math
import statistics

import lightning.pytorch as pl
import torch

from babysit.callbacks.layers import weight_layers
from babysit.callbacks.monitor import Monitor, step_cost
from babysit.callbacks.phase import learning_phase
from babysit.verdict import PASS, WARN, Verdict

STATS = ("weight_norm", "grad_norm", "grad_mean_abs")


class WeightGradStats(Monitor):
    """Every `interval` steps, just before the optimiser step (where the gradients exist), logs
    `babysit/{weight_norm,grad_norm,grad_mean_abs}/<layer>`; at the first step of every
    `histogram_every_n_epochs`-th epoch takes histograms of the weights and gradients for TensorBoard
    (`babysit/weights/<layer>`, `babysit/grads/<layer>`; 0: none)."""

    def __init__(self, interval: int = 10, vanishing: float = 1e-7, exploding: float = 1e3,
                 histogram_every_n_epochs: int = 5, phase_done: float = 0.9, barely_changes: float = 0.01):
        super().__init__(interval=interval)
        self.interval, self.vanishing, self.exploding = interval, vanishing, exploding
        self.histogram_every_n_epochs = histogram_every_n_epochs
        self.phase_done, self.barely = phase_done, barely_changes
        self.history: dict[str, dict[str, list[float]]] = {stat: {} for stat in STATS}
        self.steps: list[int] = []
        self.costs: list[float] = []  # the training cost at each measured step
        self._measured = False
        self._names: list[str] = []
        self._weights: list[torch.nn.Parameter] = []
        self._histogram_epoch = -1

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        self._names, self._weights = weight_layers(pl_module)

    def on_before_optimizer_step(self, trainer: pl.Trainer, pl_module: pl.LightningModule, optimizer) -> None:
        measure, histogram = trainer.global_step % self.interval == 0, self._histogram_due(trainer.current_epoch)
        if not (measure or histogram):
            return
        layers = [(n, w) for n, w in zip(self._names, self._weights, strict=True) if w.grad is not None]
        if not layers:
            return
        if measure:
            self._measure(trainer, layers)
        if histogram:
            self._histogram_epoch = trainer.current_epoch
            tensors = {f"babysit/weights/{n}": w for n, w in layers}
            tensors.update({f"babysit/grads/{n}": w.grad for n, w in layers})
            self.metrics.histograms(trainer, tensors, trainer.global_step)

    def _histogram_due(self, epoch: int) -> bool:
        every = self.histogram_every_n_epochs
        return bool(every) and epoch % every == 0 and epoch != self._histogram_epoch

    @torch.no_grad()
    def _measure(self, trainer: pl.Trainer, layers: list) -> None:
        weights = [w.detach() for _, w in layers]
        grads = [w.grad for _, w in layers]
        norms = torch.stack(torch._foreach_norm(weights + grads) + torch._foreach_norm(grads, 1)).tolist()
        n = len(layers)
        values = (norms[:n], norms[n:2 * n], [l1 / w.numel() for l1, w in zip(norms[2 * n:], weights, strict=True)])
        step = trainer.global_step
        self.steps.append(step)
        self._measured = True
        metrics = {}
        for stat, row in zip(STATS, values, strict=True):
            for (name, _), value in zip(layers, row, strict=True):
                self.history[stat].setdefault(name, []).append(value)
                metrics[f"babysit/{stat}/{name}"] = value
        self.metrics.scalars(trainer, metrics, step)

    def on_train_batch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule, outputs, batch, batch_idx):
        if self._measured:
            self._measured = False
            self.costs.append(step_cost(outputs, trainer))  # under DDP of all ranks

    def on_fit_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """Vanishing gradients are judged while the cost still fell (a converged model's gradients
        shrink on purpose), exploding ones at any step."""
        if not self.steps:
            return
        learning = learning_phase(self.costs, self.barely, self.phase_done)
        mean_abs = {n: statistics.median([v[i] for i in learning if i < len(v)] or v)
                    for n, v in self.history["grad_mean_abs"].items()}
        peak = {n: math.nan if any(map(math.isnan, v)) else max(v) for n, v in self.history["grad_norm"].items()}
        vanishing = {n: m for n, m in mean_abs.items() if m < self.vanishing}
        exploding = {n: g for n, g in peak.items() if not g <= self.exploding}  # NaN counts as exploding
        epoch, step = trainer.current_epoch, trainer.global_step  # at fit end: the epochs run
        if vanishing:
            self.record(trainer, Verdict(
                "vanishing_gradients", WARN,
                "vanishing gradients in " + ", ".join(
                    f"{n}: median mean |grad| {m:.1e} < {self.vanishing:.0e}" for n, m in vanishing.items())
                + " while the cost should fall",
                advice="try kaiming init / batch norm / ReLU (model.init=kaiming, model.norm=batch)",
                numbers={"median_grad_mean_abs": vanishing, "threshold": self.vanishing}, epoch=epoch, step=step,
            ))
        if exploding:
            self.record(trainer, Verdict(
                "exploding_gradients", WARN,
                "exploding gradients in " + ", ".join(
                    f"{n}: grad norm up to {g:.1e} > {self.exploding:.0e}" for n, g in exploding.items()),
                advice="lower the learning rate, clip gradients (trainer.gradient_clip_val=1) or add batch norm",
                numbers={"max_grad_norm": exploding, "threshold": self.exploding}, epoch=epoch, step=step,
            ))
        if not vanishing and not exploding:
            self.record(trainer, Verdict(
                "gradients", PASS,
                f"gradients healthy in all {len(mean_abs)} layers: median mean |grad| "
                f"{min(mean_abs.values()):.1e} … {max(mean_abs.values()):.1e}, grad norm ≤ {max(peak.values()):.2g}",
                numbers={"median_grad_mean_abs": mean_abs, "max_grad_norm": peak},
            ))

    def state_dict(self) -> dict:
        return {"history": self.history, "steps": self.steps, "costs": self.costs,
                "histogram_epoch": self._histogram_epoch}

    def load_state_dict(self, state_dict: dict) -> None:
        self.history, self.steps = state_dict["history"], state_dict["steps"]
        self.costs = state_dict.get("costs", [math.nan] * len(self.steps))
        self._histogram_epoch = state_dict.get("histogram_epoch", -1)
