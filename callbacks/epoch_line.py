import lightning.pytorch as pl

from babysit.callbacks.monitor import logged


def format_epoch_line(epoch: int, total: int, cost: float, train: float, val: float, lr: float) -> str:
    """The lecture's progress line, e.g.
    `Finished epoch 3 / 20: cost 0.512345, train: 0.812500, val 0.775000, lr 1.000000e-03`."""
    return (
        f"Finished epoch {epoch} / {total}: cost {cost:.6f}, train: {train:.6f}, "
        f"val {val:.6f}, lr {lr:.6e}"
    )


class EpochLine(pl.Callback):
    """Prints one lecture-style line per training epoch (cost includes regularisation)."""

    def __init__(self, cost_key: str | tuple = "train/loss", train_key: str | tuple = "train/acc",
                 val_key: str | tuple = "val/acc"):
        self.cost_key, self.train_key, self.val_key = cost_key, train_key, val_key
        self.baseline: float | None = None  # imbalanced classes: the accuracy of always answering the largest
        self.lines: list[str] = []

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        if not trainer.is_global_zero:
            return
        lr = trainer.optimizers[0].param_groups[-1]["lr"] if trainer.optimizers else float("nan")
        total = trainer.max_epochs if trainer.max_epochs and trainer.max_epochs > 0 else trainer.current_epoch + 1
        line = format_epoch_line(
            trainer.current_epoch + 1, total, logged(trainer, self.cost_key), logged(trainer, self.train_key),
            logged(trainer, self.val_key), lr
        )
        if self.baseline is not None:
            line += f" (majority baseline {self.baseline:.6f})"
        self.lines.append(line)
        print(line, flush=True)
