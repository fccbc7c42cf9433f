"""Lightning's TensorBoard logger, made cheap to call on a small machine.

Lightning writes every scalar of a logging call as its own event, and after each call flushes the
event file, waiting for the writer thread; that thread checksums every byte in pure Python while it
holds the GIL. On two cores that is a millisecond or more per call, several calls an epoch. Here a
call's scalars make one event and the writer flushes on its own schedule (`flush_secs`) and when
the run ends or fails (Lightning's `finalize`); the events and their values are the same.
"""

import os
from collections.abc import Mapping

import lightning.pytorch.loggers as pl_loggers
from lightning.pytorch.core.saving import save_hparams_to_yaml
from lightning.pytorch.utilities.rank_zero import rank_zero_only
from tensorboard.compat.proto.summary_pb2 import Summary
from torch import Tensor


class TensorBoardLogger(pl_loggers.TensorBoardLogger):
    @rank_zero_only
    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None) -> None:
        values = []
        for key, value in metrics.items():
            tag = f"{self._prefix}{self.LOGGER_JOIN_CHAR}{key}" if self._prefix else key
            value = value.item() if isinstance(value, Tensor) else value
            if isinstance(value, dict):
                self.experiment.add_scalars(tag, value, step)
            else:
                values.append(Summary.Value(tag=tag, simple_value=float(value)))
        if values:
            self.experiment._get_file_writer().add_summary(Summary(value=values), step)

    @rank_zero_only
    def save(self) -> None:
        """hparams.yaml as Lightning writes it, without flushing the event file."""
        hparams_file = os.path.join(self.log_dir, self.NAME_HPARAMS_FILE)
        if os.path.isdir(self.log_dir) and not os.path.isfile(hparams_file):
            save_hparams_to_yaml(hparams_file, self.hparams)
