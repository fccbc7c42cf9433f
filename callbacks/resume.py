"""A run that can stop at any time and continue where it stopped, with the same numbers.

`ResumeCheckpoint` writes `last.ckpt` at every epoch boundary (after the epoch's validation, logging
and scheduler step, before the next epoch draws its batch order) and when training ends. Ctrl-C or
SIGTERM (what a cluster scheduler sends) stop training after the current step and write its
checkpoint: in the middle of an epoch through Lightning's own SIGTERM stop (SIGTERMException, raised
once the step's logs are out), at an epoch boundary by raising `TrainingInterrupted`; `interruption`
says where either stopped. Besides Lightning's own state (weights, optimiser, scheduler, loops,
every callback's state_dict, the data order of a pass in progress) the checkpoint carries the random
generators' states and how many rows metrics.csv held. A second Ctrl-C stops at once (the previous
checkpoint stays).
"""

import random
import signal
import threading
from pathlib import Path

import lightning.pytorch as pl
import numpy as np
import torch
from lightning.pytorch.loggers import CSVLogger
from lightning.pytorch.utilities.exceptions import SIGTERMException

from babysit.verdict import console

RESUME_KEY = "babysit_resume"
SIGNALS = (signal.SIGINT, signal.SIGTERM)


class TrainingInterrupted(BaseException):
    """Training stopped on a signal; `checkpoint` holds the state after the last complete step."""

    def __init__(self, signum: int, checkpoint: Path, epoch: int, step: int):
        super().__init__(f"{signal.Signals(signum).name} at epoch {epoch}, step {step}")
        self.signum, self.checkpoint, self.epoch, self.step = signum, checkpoint, epoch, step


def random_states() -> dict:
    """Every generator training may draw from, in types that torch.load(weights_only=True) reads."""
    kind, keys, pos, has_gauss, gauss = np.random.get_state()
    version, python_state, gauss_next = random.getstate()
    states = {"torch": torch.get_rng_state(),
              "numpy": {"kind": kind, "keys": torch.from_numpy(keys.astype(np.int64)), "pos": pos,
                        "has_gauss": has_gauss, "gauss": gauss},
              "python": {"version": version, "state": list(python_state), "gauss_next": gauss_next}}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        states["cuda"] = torch.cuda.get_rng_state_all()
    return states


def set_random_states(states: dict) -> None:
    torch.set_rng_state(states["torch"])
    n = states["numpy"]
    np.random.set_state((n["kind"], n["keys"].numpy().astype(np.uint32), n["pos"], n["has_gauss"], n["gauss"]))
    p = states["python"]
    random.setstate((p["version"], tuple(p["state"]), p["gauss_next"]))
    if "cuda" in states and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(states["cuda"])


def csv_rows(trainer: pl.Trainer) -> int | None:
    """Write the CSV logger's pending rows and count what metrics.csv holds (None: no CSV logger)."""
    for logger in trainer.loggers:
        if isinstance(logger, CSVLogger):
            logger.save()
            path = Path(logger.experiment.metrics_file_path)
            if not path.is_file():
                return 0
            with path.open() as f:
                return max(sum(1 for _ in f) - 1, 0)
    return None


def is_interruption(e: BaseException) -> bool:
    """Ctrl-C or SIGTERM: stopped after a step (TrainingInterrupted, or Lightning's SIGTERMException)
    or at once (a second Ctrl-C, which Lightning turns into SystemExit)."""
    return isinstance(e, TrainingInterrupted | KeyboardInterrupt | SIGTERMException) or (
        isinstance(e, SystemExit) and isinstance(e.__context__, KeyboardInterrupt))


class ResumeCheckpoint(pl.Callback):
    def __init__(self, dirpath: str | Path, filename: str = "last.ckpt", signals: bool = True):
        self.path = Path(dirpath) / filename
        self.signals = signals
        self._signal: int | None = None
        self._previous: dict = {}
        self._epoch_done = False
        self._rows: int | None = None
        self._boundary = False  # the save in progress is at an epoch boundary
        self.loaded: dict | None = None  # what the checkpoint this fit resumed from carried
        self.interruption: TrainingInterrupted | None = None  # where a signal stopped training

    @property
    def state_key(self) -> str:
        return self._generate_state_key(filename=self.path.name)

    # -- checkpoints ---------------------------------------------------------------------------

    def save(self, trainer: pl.Trainer, boundary: bool) -> Path:
        if trainer.is_global_zero:
            self._rows = csv_rows(trainer)
        self._boundary = boundary
        try:
            trainer.save_checkpoint(self.path)
        finally:
            self._boundary = False
        return self.path

    def on_save_checkpoint(self, trainer, pl_module, checkpoint: dict) -> None:
        checkpoint[RESUME_KEY] = {"random": random_states(), "csv_rows": self._rows}
        if self._boundary:
            # Lightning counts the new epoch as "ready" before on_train_epoch_start; resumed like
            # that, it replays an empty epoch. Saved as the previous epoch's end, it goes straight on.
            for progress in checkpoint["loops"]["fit_loop"]["epoch_progress"].values():
                progress["ready"] = progress["started"] = progress["completed"]

    def on_load_checkpoint(self, trainer, pl_module, checkpoint: dict) -> None:
        if trainer.state.fn != "fit":
            return  # trainer.test(ckpt_path=…) loads a checkpoint too
        self.loaded = checkpoint.get(RESUME_KEY)
        if self.loaded:
            set_random_states(self.loaded["random"])

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        self._epoch_done = True

    def on_train_epoch_start(self, trainer, pl_module) -> None:
        # the previous epoch is complete here (validation, epoch logs, scheduler step), and the new
        # one has not drawn its order yet; listed first among the callbacks, so nothing of it is logged
        saved = self._epoch_done
        if saved:
            self.save(trainer, boundary=True)
            self._epoch_done = False
        if self._stop_requested(trainer):
            self._stop(trainer, saved, boundary=True)

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        # a stop on the epoch's last batch waits for the epoch's validation, at the next epoch start
        if batch_idx + 1 < trainer.num_training_batches and self._stop_requested(trainer):
            self._stop_after_step(trainer)

    def on_train_end(self, trainer, pl_module) -> None:
        self._restore_handlers()
        self.save(trainer, boundary=False)

    def on_exception(self, trainer, pl_module, exception: BaseException) -> None:
        self._restore_handlers()
        if isinstance(exception, SIGTERMException) and self.interruption is not None:
            self.save(trainer, boundary=False)  # the step is complete, its logs are out

    # -- signals -------------------------------------------------------------------------------

    def on_train_start(self, trainer, pl_module) -> None:
        # after Lightning's own SIGTERM handler, which it restores when fit ends
        self._signal = None
        if self.signals and threading.current_thread() is threading.main_thread():
            self._previous = {s: signal.signal(s, self._on_signal) for s in SIGNALS}

    def _on_signal(self, signum, frame) -> None:
        if signum == signal.SIGINT and self._signal is not None:
            raise KeyboardInterrupt  # a second Ctrl-C: stop now
        self._signal = signum
        console.print(f"{signal.Signals(signum).name}: stopping after this step and saving {self.path} "
                      "(Ctrl-C again stops at once)", markup=False)

    def _restore_handlers(self) -> None:
        for s, handler in self._previous.items():
            signal.signal(s, handler)
        self._previous = {}

    def _stop_requested(self, trainer: pl.Trainer) -> bool:
        # every rank must stop at the same step, or the others wait for it forever
        return trainer.strategy.reduce_boolean_decision(self._signal is not None, all=False)

    def _interruption(self, trainer: pl.Trainer) -> TrainingInterrupted:
        signum = self._signal or signal.SIGTERM  # another rank received it
        self.interruption = TrainingInterrupted(signum, self.path, trainer.current_epoch + 1, trainer.global_step)
        return self.interruption

    def _stop(self, trainer: pl.Trainer, saved: bool, boundary: bool) -> None:
        if not saved:
            self.save(trainer, boundary)
        self._restore_handlers()
        raise self._interruption(trainer)

    def _stop_after_step(self, trainer: pl.Trainer) -> None:
        """Lightning stops after this step once its logs are written (raising SIGTERMException), in
        the state a checkpoint resumes from exactly; on_exception writes that checkpoint."""
        self._interruption(trainer)
        trainer._signal_connector.received_sigterm = True
