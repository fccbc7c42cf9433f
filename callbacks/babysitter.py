"""The babysitter of a Lightning fit: the preflight on copies of the untrained module, the
lecture's epoch lines, every monitor, and (for any Lightning project) babysit.json and the report.

    trainer = pl.Trainer(max_epochs=10, callbacks=[Babysitter()])

Every option mirrors conf/babysit/default.yaml (Babysitter(overfit={"epochs": 100}, monitors={"dead_units":
False})); `python train.py` builds one from the run's `babysit:` settings, so both use the same checks.
"""

import math
import sys
import time
from pathlib import Path

import lightning.pytorch as pl

from babysit.batch_format import BatchFormat
from babysit.callbacks.dead_units import DeadUnits
from babysit.callbacks.epoch_line import EpochLine
from babysit.callbacks.explosion import ExplosionStop
from babysit.callbacks.group import CallbackGroup
from babysit.callbacks.loss_progress import LossProgress
from babysit.callbacks.monitor import Monitor, logged
from babysit.callbacks.progress import EpochProgress
from babysit.callbacks.readings import COST, TRAIN_ACC, VAL_ACC, EpochReadings
from babysit.callbacks.resume import is_interruption
from babysit.callbacks.train_val_gap import TrainValGap
from babysit.callbacks.update_ratio import UpdateRatio
from babysit.callbacks.weight_stats import WeightGradStats
from babysit.settings import settings
from babysit.verdict import Verdict, console, worst

MONITORS = {"explosion": ExplosionStop, "loss_progress": LossProgress, "update_ratio": UpdateRatio,
            "weight_stats": WeightGradStats, "dead_units": DeadUnits, "train_val_gap": TrainValGap}
WITH_INTERVAL = (UpdateRatio, WeightGradStats, DeadUnits)
WITH_PHASE = (UpdateRatio, WeightGradStats)


def build_monitors(options) -> dict[str, Monitor]:
    monitors = {}
    for name, cls in MONITORS.items():
        opts = {k: v for k, v in options.monitors[name].items() if k != "enabled"}
        if not options.monitors[name].enabled:
            continue
        if issubclass(cls, WITH_INTERVAL):
            opts["interval"] = options.monitors.interval
        if issubclass(cls, WITH_PHASE):
            opts["phase_done"] = options.monitors.phase_done
            opts["barely_changes"] = options.monitors.loss_progress.barely_changes
        monitors[name] = cls(**opts)
    return monitors


def read_as(name: str | None, measured: str) -> tuple[str, ...]:
    """The metric keys to read, in order: the module's own name for it, then what the babysitter measured."""
    return (name, measured) if name else (measured,)


class Babysitter(CallbackGroup):
    """config: a dict or DictConfig shaped like conf/babysit/default.yaml (e.g. a run's cfg.babysit);
    keyword options override it. write_outputs: babysit.json, babysit_metrics.csv and report.html in
    `output_dir` (default: the trainer's log dir) at the end of fit. loss_fn(scores, targets): the
    preflight's loss, for modules whose training_step does not return it."""

    def __init__(self, config=None, *, write_outputs: bool = True, loss_fn=None, **options):
        self.options = settings(config, **options)
        self.write_outputs, self.loss_fn = write_outputs, loss_fn
        self.fmt = BatchFormat(self.options.batch.input_key, self.options.batch.target_key)
        self.monitors = build_monitors(self.options)
        self.readings = EpochReadings(self.fmt)
        keys = {"cost_key": read_as(self.options.metrics.cost, COST),
                "train_key": read_as(self.options.metrics.train_acc, TRAIN_ACC),
                "val_key": read_as(self.options.metrics.val_acc, VAL_ACC)}
        for monitor in self.monitors.values():
            for attr, key in keys.items():
                if hasattr(monitor, attr):
                    setattr(monitor, attr, key)
        self.epoch_keys = keys
        self.epoch_line = EpochLine(**keys) if self.options.epoch_line else None
        progress = EpochProgress(self.options.progress.after_s) if self.options.progress.enabled else None
        members = [self.readings, progress, self.epoch_line, *self.monitors.values()]
        super().__init__([m for m in members if m is not None])
        self.preflight: list[Verdict] = []
        self.preflight_seconds = 0.0
        self.preflight_listeners: list = []  # called with the preflight's verdicts as soon as they exist
        self.num_classes: int | None = self.options.num_classes
        self.rows: list[dict] = []  # every monitor scalar and epoch metric, for babysit_metrics.csv
        self.started: float | None = None
        self.in_shape: list[int] | None = None
        self.resumed = False  # the fit continues from a checkpoint (its state was loaded)
        if write_outputs:
            for monitor in self.monitors.values():
                monitor.metrics.rows = self.rows

    @property
    def verdicts(self) -> list[Verdict]:
        """The monitors' verdicts, in the order they fired."""
        return [v for m in self.monitors.values() for v in m.verdicts]

    def watched(self) -> dict:
        """The monitors' verdicts and whether the cost exploded, as summary.json and babysit.json keep them."""
        stop = self.monitors.get("explosion")
        exploded = stop is not None and stop.exploded
        return {
            "exploded": exploded,
            "explosion": {"reason": stop.reason, "step": stop.step, "epoch": stop.epoch} if exploded else None,
            "monitors": {"status": worst(self.verdicts), "verdicts": [v.as_dict() for v in self.verdicts]},
        }

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        from babysit.module import Classifier

        self.readings.active = not isinstance(pl_module, Classifier)  # babysit's own module logs them all
        self.num_classes = self.num_classes or getattr(pl_module, "num_classes", None)
        gap = self.monitors.get("train_val_gap")
        if gap is not None and gap.num_classes is None:
            gap.num_classes = self.num_classes
        super().setup(trainer, pl_module, stage)

    def on_fit_start(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        self.started = time.time()
        super().on_fit_start(trainer, pl_module)
        if self.options.preflight and not self.resumed:  # a resumed fit had its preflight
            self._run_preflight(trainer, pl_module)

    def _run_preflight(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        """Once, on rank 0 (on copies of the model, with all of the data); under DDP the other ranks
        wait for its verdicts, so that every rank's monitors learn the same."""
        from babysit.preflight import make_probe

        if trainer.is_global_zero:
            probe = make_probe(trainer, pl_module, self.fmt, self.loss_fn, self.options.num_classes)
            self.run_preflight_on(probe, self.output_dir(trainer))
        if trainer.world_size > 1:
            found = trainer.strategy.broadcast(self._found(), src=0)
            if not trainer.is_global_zero:
                self._learn(found)

    def run_preflight_on(self, probe, out_dir: Path) -> list[Verdict]:
        """The preflight on `probe`, with this babysitter's options; the monitors learn what it measured."""
        from babysit.preflight import run_preflight

        started = time.perf_counter()
        checks = run_preflight(self.options, probe, probe.configured_lr(), out_dir)
        self.preflight_seconds = time.perf_counter() - started
        self._learn({"checks": [v.as_dict() for v in checks], "num_classes": probe.num_classes,
                     "in_shape": list(probe.fmt.inputs(probe.first_batch()).shape[1:])})
        for listener in self.preflight_listeners:
            listener(self.preflight)
        return self.preflight

    def _found(self) -> dict:
        return {"checks": [v.as_dict() for v in self.preflight], "num_classes": self.num_classes,
                "in_shape": self.in_shape}

    def _learn(self, found: dict) -> None:
        """The preflight's verdicts and what the monitors take from them (the classes, the majority baseline)."""
        self.preflight = [Verdict(**v) for v in found["checks"]]
        self.num_classes = self.num_classes or found["num_classes"]
        self.in_shape = found["in_shape"]
        gap = self.monitors.get("train_val_gap")
        if gap is not None:
            gap.num_classes = gap.num_classes or self.num_classes
        balance = next((v for v in self.preflight if v.check == "class_balance"), None)
        if balance is not None:
            shares = balance.numbers["majority_baseline"]
            if gap is not None:
                gap.chance = shares.get("val", shares.get("train"))
            if self.epoch_line is not None and balance.status != "PASS":
                self.epoch_line.baseline = shares.get("val", shares.get("train"))

    def state_dict(self) -> dict:
        """The members' states, the preflight's findings and the rows of babysit_metrics.csv: a fit
        resumed from a checkpoint judges and writes as the uninterrupted one does."""
        return {**super().state_dict(), "babysitter": {**self._found(), "rows": list(self.rows)}}

    def load_state_dict(self, state_dict: dict) -> None:
        state_dict = dict(state_dict)
        own = state_dict.pop("babysitter", None)
        super().load_state_dict(state_dict)
        self.resumed = True
        if own is not None:
            self.rows[:] = own["rows"]  # the monitors' writers hold this list
            self._learn(own)

    def on_train_epoch_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        gap = self.monitors.get("train_val_gap")
        if gap is not None and gap.num_classes is None and self.readings.width:
            self.num_classes = gap.num_classes = self.readings.width
        super().on_train_epoch_end(trainer, pl_module)
        if self.write_outputs:
            keys = {"train/loss": self.epoch_keys["cost_key"], "train/acc": self.epoch_keys["train_key"],
                    "val/acc": self.epoch_keys["val_key"],
                    "val/loss": tuple(k for k in [self.options.metrics.val_loss] if k)}
            values = {name: logged(trainer, k) for name, k in keys.items()}
            self.rows.append({"step": trainer.global_step, "epoch": trainer.current_epoch,
                              **{k: v for k, v in values.items() if not math.isnan(v)}})

    def on_fit_end(self, trainer: pl.Trainer, pl_module: pl.LightningModule) -> None:
        super().on_fit_end(trainer, pl_module)
        if self.write_outputs and trainer.is_global_zero:
            self.write(trainer, pl_module)

    def on_exception(self, trainer: pl.Trainer, pl_module: pl.LightningModule, exception: BaseException) -> None:
        super().on_exception(trainer, pl_module, exception)
        if self.write_outputs and trainer.is_global_zero:
            interrupted = is_interruption(exception)
            self.write(trainer, pl_module, status="interrupted" if interrupted else "failed",
                       reason=f"{type(exception).__name__}: {exception}")

    def output_dir(self, trainer: pl.Trainer) -> Path:
        return Path(self.options.output_dir or trainer.log_dir or trainer.default_root_dir)

    def write(self, trainer: pl.Trainer, pl_module: pl.LightningModule, **status) -> Path | None:
        """babysit.json (the preflight and monitor parts of summary.json) and the report; returns the report."""
        from babysit.callbacks.outputs import write_babysit_outputs

        out = self.output_dir(trainer)
        report = write_babysit_outputs(self, trainer, pl_module, out, " ".join(["python"] + sys.argv), **status)
        console.print(f"Babysitter: {out / 'babysit.json'}" + (f", report {report}" if report else ""))
        return report
