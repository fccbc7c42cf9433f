"""What a module may not log itself, measured from its own steps: the mean training cost of each
epoch (what training_step returned) and the train / val accuracy of the scores its forward pass
produced, logged as babysit/cost, babysit/train_acc and babysit/val_acc."""

from collections.abc import Mapping

import lightning.pytorch as pl
import torch

from babysit.batch_format import BatchFormat

COST, TRAIN_ACC, VAL_ACC = "babysit/cost", "babysit/train_acc", "babysit/val_acc"


class EpochReadings(pl.Callback):
    def __init__(self, fmt: BatchFormat | None = None):
        self.fmt = fmt or BatchFormat()
        self.active = True
        self.width: int | None = None  # of the scores seen: the number of classes
        self._scores: torch.Tensor | None = None
        self._handle = None
        self._sums: dict[str, torch.Tensor] = {}

    def setup(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        if self.active and self._handle is None:
            self._handle = pl_module.register_forward_hook(self._keep)

    def teardown(self, trainer: pl.Trainer, pl_module: pl.LightningModule, stage: str) -> None:
        if self._handle is not None:
            self._handle.remove()
            self._handle = None

    def _keep(self, module, args, out) -> None:
        if isinstance(out, torch.Tensor) and out.ndim == 2:
            self._scores = out.detach()

    def _count(self, prefix: str, batch) -> None:
        scores, self._scores = self._scores, None
        try:
            y = self.fmt.targets(batch)
        except Exception:  # noqa: BLE001 - a batch the format cannot read: accuracy stays unmeasured
            return
        if scores is None or len(scores) != len(y):
            return
        self.width = scores.shape[1]
        self._add(f"{prefix}/correct", (scores.argmax(1) == y).sum())
        self._add(f"{prefix}/seen", torch.tensor(len(y), device=scores.device))

    def _add(self, key: str, value: torch.Tensor) -> None:
        self._sums[key] = self._sums[key] + value if key in self._sums else value.detach().clone()

    def on_train_epoch_start(self, trainer, pl_module) -> None:
        if not self.active:
            return
        self._sums = {k: v for k, v in self._sums.items() if k.startswith("val/")}

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
        if not self.active:
            return
        loss = outputs.get("loss") if isinstance(outputs, Mapping) else outputs
        if isinstance(loss, torch.Tensor):
            self._add("train/cost", loss.detach().float())
            self._add("train/steps", torch.tensor(1, device=loss.device))
        self._count("train", batch)

    def on_validation_epoch_start(self, trainer, pl_module) -> None:
        if not self.active:
            return
        self._sums = {k: v for k, v in self._sums.items() if not k.startswith("val/")}

    def on_validation_batch_end(self, trainer, pl_module, outputs, batch, batch_idx, dataloader_idx=0) -> None:
        if not self.active:
            return
        if dataloader_idx == 0:
            self._count("val", batch)

    def on_validation_epoch_end(self, trainer, pl_module) -> None:
        if not self.active:
            return
        if not trainer.sanity_checking and self._sums.get("val/seen") is not None:
            pl_module.log(VAL_ACC, self._sums["val/correct"].float() / self._sums["val/seen"], sync_dist=True)

    def on_train_epoch_end(self, trainer, pl_module) -> None:
        if not self.active:
            return
        values = {}
        if "train/steps" in self._sums:
            values[COST] = self._sums["train/cost"] / self._sums["train/steps"]
        if "train/seen" in self._sums:
            values[TRAIN_ACC] = self._sums["train/correct"].float() / self._sums["train/seen"]
        if values:
            pl_module.log_dict(values, sync_dist=True)

    def state_dict(self) -> dict:
        """The sums of an epoch in progress (a checkpoint taken in the middle of one)."""
        if not self.active or not self._sums:
            return {}
        return {"sums": {k: v.detach().clone() for k, v in self._sums.items()}, "width": self.width}

    def load_state_dict(self, state_dict: dict) -> None:
        self._sums, self.width = dict(state_dict["sums"]), state_dict["width"]
