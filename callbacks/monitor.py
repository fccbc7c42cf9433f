"""What every judging callback shares: its verdicts, each printed as it fires, and its metric output."""

import lightning.pytorch as pl

from babysit.callbacks.loggers import MetricWriter
from babysit.verdict import Verdict, show

VERDICTS_KEY = "babysit_verdicts"


class Monitor(pl.Callback):
    def __init__(self, **identity):
        """`identity`: the arguments that tell two instances apart in a checkpoint (e.g. interval=10)."""
        self.verdicts: list[Verdict] = []
        self.metrics = MetricWriter()
        # Lightning reads state_key on every hook call (profiler labels): built once
        self._state_key = self._generate_state_key(**identity)

    @property
    def state_key(self) -> str:
        return self._state_key

    def record(self, trainer: pl.Trainer, verdict: Verdict) -> Verdict:
        self.verdicts.append(verdict)
        if trainer.is_global_zero:
            show(verdict)
        return verdict

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.metrics.flush()

    # The verdicts given so far ride along in checkpoints (each subclass's state_dict holds its
    # measurements), so a resumed run reports them too.
    def on_save_checkpoint(self, trainer: pl.Trainer, pl_module: pl.LightningModule, checkpoint: dict) -> None:
        checkpoint.setdefault(VERDICTS_KEY, {})[self.state_key] = [v.as_dict() for v in self.verdicts]

    def on_load_checkpoint(self, trainer: pl.Trainer, pl_module: pl.LightningModule, checkpoint: dict) -> None:
        if trainer.state.fn != "fit":
            return  # trainer.test(ckpt_path=…) restores callbacks too; the verdicts of the run stay
        self.verdicts = [Verdict(**v) for v in checkpoint.get(VERDICTS_KEY, {}).get(self.state_key, [])]

    def on_train_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.metrics.flush()

    def on_exception(self, trainer: pl.Trainer, pl_module: pl.LightningModule, exception: BaseException) -> None:
        self.metrics.flush()
