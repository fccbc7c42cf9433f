"""Train vs validation accuracy after each epoch: overfitting, under-fitting, or stuck."""

import math

import lightning.pytorch as pl

from babysit.callbacks.monitor import Monitor
from babysit.verdict import PASS, WARN, Verdict


class TrainValGap(Monitor):
    """Logs `babysit/gap` = train acc − val acc each epoch and judges it:

    - gap > `overfit`: overfitting;
    - val acc low and gaining < `flat_delta` over `flat_epochs` epochs: flat (learning rate?);
    - gap < `none` and val acc low: under-fitting;

    where low means below chance + `low_acc`·(1 − chance), chance = 1/`num_classes` (0 when unknown).
    A verdict prints only when its kind changes from the previous epoch; fit end records the last one.
    """

    def __init__(self, overfit: float = 0.15, none: float = 0.02, low_acc: float = 0.5, flat_epochs: int = 5,
                 flat_delta: float = 0.01, num_classes: int | None = None,
                 train_key: str = "train/acc", val_key: str = "val/acc"):
        super().__init__(train_key=train_key, val_key=val_key)
        self.overfit, self.none, self.low_acc = overfit, none, low_acc
        self.flat_epochs, self.flat_delta, self.num_classes = flat_epochs, flat_delta, num_classes
        self.train_key, self.val_key = train_key, val_key
        self.train_acc: list[float] = []
        self.val_acc: list[float] = []
        self.epochs: list[int] = []
        self.kind = "ok"  # of the latest epoch: ok | overfitting | flat | underfitting

    @property
    def low_threshold(self) -> float:
        chance = 1.0 / self.num_classes if self.num_classes else 0.0
        return chance + self.low_acc * (1.0 - chance)

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        logged = trainer.callback_metrics
        if self.train_key not in logged or self.val_key not in logged:
            return
        train, val = float(logged[self.train_key]), float(logged[self.val_key])
        if not (math.isfinite(train) and math.isfinite(val)):
            return
        self.metrics.scalars(trainer, {"babysit/gap": train - val}, trainer.global_step)
        self.metrics.flush()
        self.observe(trainer, trainer.current_epoch + 1, train, val)

    def observe(self, trainer: pl.Trainer, epoch: int, train: float, val: float) -> Verdict:
        """Add one epoch's accuracies; print the verdict if its kind differs from the last epoch's."""
        self.epochs.append(epoch)
        self.train_acc.append(train)
        self.val_acc.append(val)
        kind, verdict = self.judge()
        if kind != self.kind:
            self.record(trainer, verdict)
        self.kind = kind
        return verdict

    def judge(self) -> tuple[str, Verdict]:
        """(kind, verdict) of the latest epoch."""
        train, val, epoch = self.train_acc[-1], self.val_acc[-1], self.epochs[-1]
        gap, low = train - val, self.low_threshold
        numbers = {"train": train, "val": val, "gap": gap, "low": low}
        accs = f"train {train:.2f} vs val {val:.2f} (gap {gap:.2f})"
        gain = val - self.val_acc[-1 - self.flat_epochs] if len(self.val_acc) > self.flat_epochs else math.inf
        if gap > self.overfit:
            kind, status = "overfitting", WARN
            message = f"overfitting: {accs} at epoch {epoch}"
            advice = "raise regularisation (reg.l2, model.dropout) or augment (augment=light)"
        elif val < low and gain < self.flat_delta:
            kind, status = "flat", WARN
            message = (f"accuracy flat and low: val {val:.2f} (< {low:.2f}) gained {gain:+.3f} "
                       f"over {self.flat_epochs} epochs, at epoch {epoch}")
            advice = "check the learning rate (too low: nothing moves; too high: it bounces), then capacity"
        elif val < low and gap < self.none:
            kind, status = "underfitting", WARN
            message = f"under-fitting: {accs}, val below {low:.2f} at epoch {epoch}"
            advice = "raise capacity (wider or deeper model), lower regularisation, or train longer"
        else:
            kind, status, message, advice = "ok", PASS, f"{accs} at epoch {epoch}", ""
        numbers["kind"] = kind
        return kind, Verdict("train_val_gap", status, message, advice, numbers, epoch=epoch)

    def on_fit_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self.epochs:
            self.record(trainer, self.judge()[1])

    def state_dict(self) -> dict:
        return {"train_acc": self.train_acc, "val_acc": self.val_acc, "epochs": self.epochs, "kind": self.kind}

    def load_state_dict(self, state_dict: dict) -> None:
        self.train_acc, self.val_acc = state_dict["train_acc"], state_dict["val_acc"]
        self.epochs, self.kind = state_dict["epochs"], state_dict["kind"]
