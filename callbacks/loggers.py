"""A monitor's metrics to the trainer's loggers, at little cost to training.

`LightningModule.log` costs about a millisecond per metric on a CPU, more than a small network's
training step. TensorBoard is the costly one: each event wakes its writer thread, which checksums
every byte in pure Python (without TensorFlow) while holding the GIL, and on a small machine takes
a core from the training threads. So all values of a measurement make one event, and the events
wait for `flush()` (at epoch end) to be written in one burst; the other loggers get them at once.
"""

import lightning.pytorch as pl
import numpy as np
import torch
from lightning.pytorch.loggers import TensorBoardLogger
from tensorboard.compat.proto.summary_pb2 import HistogramProto, Summary

BINS = 30  # what TensorBoard draws a histogram with


class MetricWriter:
    def __init__(self):
        self._pending: list[tuple[object, int, list]] = []  # (SummaryWriter, step, summary values)
        self.rows: list[dict] | None = None  # when a list: every scalar also lands here (the Babysitter's record)

    def scalars(self, trainer: pl.Trainer, metrics: dict[str, float], step: int) -> None:
        if self.rows is not None:
            self.rows.append({"step": step, "epoch": trainer.current_epoch, **metrics})
        for logger in trainer.loggers:
            if not isinstance(logger, TensorBoardLogger):
                logger.log_metrics(metrics, step=step)
            elif trainer.is_global_zero:
                values = [Summary.Value(tag=tag, simple_value=value) for tag, value in metrics.items()]
                self._pending.append((logger.experiment, step, values))

    def histograms(self, trainer: pl.Trainer, tensors: dict[str, torch.Tensor], step: int) -> None:
        """To the first TensorBoardLogger (none: nothing); tensors holding NaN/inf are skipped."""
        writer = next((lg.experiment for lg in trainer.loggers if isinstance(lg, TensorBoardLogger)), None)
        if writer is None or not trainer.is_global_zero:
            return
        values = []
        for tag, tensor in tensors.items():
            a = tensor.detach().float().cpu().numpy().ravel()
            lo, hi = float(a.min()), float(a.max())
            if not np.isfinite(lo + hi):
                continue
            counts, edges = _histogram(a, lo, hi)
            # bucket i holds the values in (limit[i-1], limit[i]]: a leading empty bucket ends at the minimum.
            # Not np.dot for the squares: OpenBLAS would wake threads that spin on the cores torch trains on.
            histogram = HistogramProto(min=lo, max=hi, num=a.size, sum=float(a.sum()),
                                       sum_squares=float((a * a).sum()), bucket_limit=edges, bucket=[0, *counts])
            values.append(Summary.Value(tag=tag, histo=histogram))
        self._pending.append((writer, step, values))

    def flush(self) -> None:
        for writer, step, values in self._pending:
            if values:
                writer._get_file_writer().add_summary(Summary(value=values), step)
        self._pending = []


def _histogram(a: np.ndarray, lo: float, hi: float) -> tuple[list[int], list[float]]:
    """Equal-width bins from lo to hi with NumPy, which stays single-threaded (torch.histc stalls
    when other processes hold the cores); bincount is three times faster than np.histogram."""
    if hi <= lo:
        lo, hi = lo - 0.5, hi + 0.5
    index = ((a - lo) * (BINS / (hi - lo))).astype(np.intp)
    np.minimum(index, BINS - 1, out=index)
    return np.bincount(index, minlength=BINS).tolist(), np.linspace(lo, hi, BINS + 1).tolist()
