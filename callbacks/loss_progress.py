import math

from babysit.callbacks.monitor import Monitor, logged, step_cost
from babysit.verdict import PASS, WARN, Verdict


class LossProgress(Monitor):
    """Did the cost go down? From the first step's cost to the last epoch's mean cost: a
    cost that barely changes means the learning rate is too low (a cost that rises is the
    explosion monitor's business)."""

    def __init__(self, barely_changes: float = 0.01, cost_key: str | tuple = "train/loss"):
        super().__init__()
        self.barely, self.cost_key = barely_changes, cost_key
        self.first: float | None = None
        self.last: float | None = None
        self.epochs = 0

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if self.first is None and outputs is not None:
            self.first = step_cost(outputs, trainer)  # of all ranks

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        cost = logged(trainer, self.cost_key)
        if not math.isnan(cost):
            self.last = cost
            self.epochs += 1

    def on_fit_end(self, trainer, pl_module) -> None:
        if self.first is None or self.last is None or not math.isfinite(self.first) or not math.isfinite(self.last):
            return
        change = (self.last - self.first) / self.first if self.first else 0.0
        numbers = {"first_cost": self.first, "last_epoch_cost": self.last, "relative_change": change,
                   "epochs": self.epochs}
        moved = f"cost {self.first:.6f} → {self.last:.6f} over {self.epochs} epoch(s) ({change:+.2%})"
        if abs(change) < self.barely:
            verdict = Verdict("loss_progress", WARN, f"{moved}: barely changes → learning rate too low",
                              advice="raise optimizer.lr (e.g. ×10), or run the preflight's lr range test",
                              numbers=numbers, epoch=trainer.current_epoch)
        else:
            verdict = Verdict("loss_progress", PASS, moved, numbers=numbers, epoch=trainer.current_epoch)
        self.record(trainer, verdict)

    def state_dict(self) -> dict:
        return {"first": self.first, "last": self.last, "epochs": self.epochs}

    def load_state_dict(self, state: dict) -> None:
        self.first, self.last, self.epochs = state["first"], state["last"], state["epochs"]
