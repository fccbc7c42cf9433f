"""A callback for tests: the training process signals itself after a given step, as a user's Ctrl-C,
a scheduler's SIGTERM or a crash (SIGKILL) would."""

import os
import signal

import lightning.pytorch as pl


class SignalAt(pl.Callback):
    def __init__(self, step: int, signal_name: str):
        self.step, self.signum = step, getattr(signal, signal_name)

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if trainer.global_step == self.step:
            os.kill(os.getpid(), self.signum)
