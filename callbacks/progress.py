"""A transient progress bar inside long epochs: it appears once an epoch has run for `after_s`
seconds (short epochs never show one) and vanishes at the epoch's end, leaving the lecture's
one line per epoch as the record. Only on a terminal: CI logs and redirected output stay clean."""

import time

import lightning.pytorch as pl
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from babysit.verdict import console


class EpochProgress(pl.Callback):
    def __init__(self, after_s: float = 3.0, interactive: bool | None = None):
        self.after_s = after_s
        self.interactive = console.is_terminal if interactive is None else interactive
        self.started = 0.0
        self.progress: Progress | None = None
        self.task = None

    def on_train_epoch_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.started = time.perf_counter()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if not self.interactive or not trainer.is_global_zero:
            return
        if self.progress is None:
            if time.perf_counter() - self.started < self.after_s:
                return
            self.progress = Progress(TextColumn("epoch {task.fields[epoch]}"), BarColumn(), MofNCompleteColumn(),
                                     TextColumn("{task.fields[rate]} batches/s"), TimeRemainingColumn(),
                                     console=console, transient=True)
            self.progress.start()
            total = trainer.num_training_batches if trainer.num_training_batches != float("inf") else None
            self.task = self.progress.add_task("train", total=total, epoch=trainer.current_epoch + 1, rate="…")
        elapsed = time.perf_counter() - self.started
        self.progress.update(self.task, completed=batch_idx + 1, rate=f"{(batch_idx + 1) / elapsed:.1f}")

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self._stop()

    def on_exception(self, trainer, pl_module, exception) -> None:
        self._stop()

    def _stop(self) -> None:
        if self.progress is not None:
            self.progress.stop()
            self.progress = None
