"""A callback for tests: the training process signals itself after a given step, as a user's Ctrl-C,
a scheduler's SIGTERM or a crash (SIGKILL) would."""

import os
import signal

import lightning.pytorch as pl


class SignalAt(pl.Callback):
    """`rank`: only that process signals itself (a scheduler's SIGTERM reaches the launching process)."""

    def __init__(self, step: int, signal_name: str, rank: int | None = None):
        self.step, self.signum, self.rank = step, getattr(signal, signal_name), rank

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if trainer.global_step == self.step and self.rank in (None, trainer.global_rank):
            os.kill(os.getpid(), self.signum)
