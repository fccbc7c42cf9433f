"""Train vs validation accuracy after each epoch: overfitting, memorising, under-fitting, or stuck."""

import math

import lightning.pytorch as pl

from babysit.callbacks.monitor import Monitor, logged
from babysit.verdict import INFO, PASS, WARN, Verdict

WARNINGS = ("overfitting", "memorising", "underfitting", "flat")
DURING = ("overfitting", "memorising")  # judged every epoch; a flat stretch is only judged at the end (noise)


class TrainValGap(Monitor):
    """Logs `babysit/gap` = train acc − val acc each epoch and judges it once `warmup_epochs` have passed
    (every model starts "under-fitted"):

    - val acc at chance (≤ chance + `chance_margin`) while train acc is high: memorising — the labels
      may not match the inputs;
    - gap > `overfit`: overfitting;
    - val acc low and gaining < `flat_delta` over `flat_epochs` epochs: flat — with no gap, under-fitting;
    - val acc low and still rising: still learning (INFO at the end: train longer).

    Overfitting and memorising count only when the gap holds `persist_epochs` epochs in a row and val acc
    has stopped climbing fast (it rose at most `rising` in the latest epoch): one noisy validation epoch,
    or a val accuracy that lags train while both climb (a batch-norm network early on), is not a trend.
    Low means below chance + `low_acc`·(1 − chance); chance is the majority-class share when the data
    told it (`chance`), else 1/`num_classes` (0 when unknown). Memorising and overfitting print when
    they start (and an all-clear when they end); a flat stretch of a noisy val accuracy is judged at the
    end only, where fit end records the verdict that holds.
    """

    def __init__(self, overfit: float = 0.15, none: float = 0.02, low_acc: float = 0.5, flat_epochs: int = 5,
                 flat_delta: float = 0.01, warmup_epochs: int = 3, chance_margin: float = 0.1, persist_epochs: int = 2,
                 rising: float = 0.05,
                 num_classes: int | None = None, train_key: str | tuple = "train/acc",
                 val_key: str | tuple = "val/acc"):
        super().__init__()
        self.overfit, self.none, self.low_acc = overfit, none, low_acc
        self.flat_epochs, self.flat_delta, self.num_classes = flat_epochs, flat_delta, num_classes
        self.warmup_epochs, self.chance_margin, self.persist_epochs = warmup_epochs, chance_margin, persist_epochs
        self.rising = rising
        self.chance: float | None = None  # the majority-class share of val, when the preflight measured it
        self.train_key, self.val_key = train_key, val_key
        self.train_acc: list[float] = []
        self.val_acc: list[float] = []
        self.epochs: list[int] = []
        self.kind = "ok"  # of the latest epoch: ok | warmup | learning | one of WARNINGS

    @property
    def chance_level(self) -> float:
        if self.chance is not None:
            return self.chance
        return 1.0 / self.num_classes if self.num_classes else 0.0

    @property
    def low_threshold(self) -> float:
        chance = self.chance_level
        return chance + self.low_acc * (1.0 - chance)

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        train, val = logged(trainer, self.train_key), logged(trainer, self.val_key)
        if not (math.isfinite(train) and math.isfinite(val)):
            return
        self.metrics.scalars(trainer, {"babysit/gap": train - val}, trainer.global_step)
        self.metrics.flush()
        self.observe(trainer, trainer.current_epoch + 1, train, val)

    def observe(self, trainer: pl.Trainer, epoch: int, train: float, val: float) -> Verdict:
        """Add one epoch's accuracies; print a warning when one starts, an all-clear when it ends."""
        self.epochs.append(epoch)
        self.train_acc.append(train)
        self.val_acc.append(val)
        kind, verdict = self.judge()
        if (kind in DURING) != (self.kind in DURING):  # a warning starts or ends (the kinds may alternate)
            self.record(trainer, verdict)
        self.kind = kind
        return verdict

    def judge(self, final: bool = False) -> tuple[str, Verdict]:
        """(kind, verdict) of the latest epoch; `final`: the run is over, judge even inside the warm-up."""
        train, val, epoch = self.train_acc[-1], self.val_acc[-1], self.epochs[-1]
        gap, low, chance = train - val, self.low_threshold, self.chance_level
        numbers = {"train": train, "val": val, "gap": gap, "low": low, "chance": chance, "epoch": epoch}
        accs = f"train {train:.2f} vs val {val:.2f} (gap {gap:.2f})"
        gain = val - self.val_acc[-1 - self.flat_epochs] if len(self.val_acc) > self.flat_epochs else math.inf
        kind, status, advice = "ok", PASS, ""
        message = f"{accs} at epoch {epoch}"
        if len(self.epochs) < self.warmup_epochs and not final:
            kind = "warmup"
        elif gap > self.overfit and val <= chance + self.chance_margin and train >= low:
            kind, status = "memorising", WARN
            message = (f"memorising: train reaches {train:.2f} while val stays at chance ({val:.2f}, chance "
                       f"{chance:.2f}) at epoch {epoch}")
            advice = ("the labels may not match the inputs (shuffled labels, a misaligned label file), or val "
                      "comes from another distribution than train")
        elif gap > self.overfit:
            kind, status = "overfitting", WARN
            message = f"overfitting: {accs} at epoch {epoch}"
            advice = "raise regularisation (reg.l2, model.dropout) or augment (augment=light)"
        elif val < low and gain < self.flat_delta:
            under = gap < self.none
            kind, status = ("underfitting" if under else "flat"), WARN
            message = (f"{'under-fitting' if under else 'accuracy flat and low'}: val {val:.2f} (< {low:.2f}) "
                       f"gained {gain:+.3f} over {self.flat_epochs} epochs, {accs}, at epoch {epoch}")
            advice = ("raise capacity (wider or deeper model) or lower regularisation, then check the learning "
                      "rate" if under else "check the learning rate (too low: nothing moves; too high: it bounces)")
        elif val < low:
            kind, status = "learning", INFO if final else PASS
            message = f"still learning: val {val:.2f} (< {low:.2f}) was still rising at epoch {epoch}, {accs}"
            advice = "train longer (trainer.max_epochs) before judging capacity"
        if kind in DURING and (why := self._not_a_trend_yet(final)):
            kind, status, advice, message = "ok", PASS, "", f"{accs} at epoch {epoch}: {why}"
        numbers["kind"] = kind
        return kind, Verdict("train_val_gap", status, message, advice, numbers, epoch=epoch)

    def _not_a_trend_yet(self, final: bool) -> str:
        """Why a gap above `overfit` is not a warning yet ('' when it is one)."""
        n = self.persist_epochs
        recent = [t - v for t, v in zip(self.train_acc[-n:], self.val_acc[-n:], strict=True)]
        if (len(recent) < n and not final) or not all(gap > self.overfit for gap in recent):
            return f"a gap above {self.overfit:g} in this epoch only (judged when it holds {n} epochs in a row)"
        rise = self.val_acc[-1] - self.val_acc[-2] if len(self.val_acc) > 1 else 0.0
        if rise > self.rising:
            return f"val acc still rising fast ({rise:+.2f} this epoch): it lags train while the model learns"
        return ""

    def on_fit_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if self.epochs:
            self.record(trainer, self.judge(final=True)[1])

    def state_dict(self) -> dict:
        return {"train_acc": self.train_acc, "val_acc": self.val_acc, "epochs": self.epochs, "kind": self.kind}

    def load_state_dict(self, state_dict: dict) -> None:
        self.train_acc, self.val_acc = state_dict["train_acc"], state_dict["val_acc"]
        self.epochs, self.kind = state_dict["epochs"], state_dict["kind"]
