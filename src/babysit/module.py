"""The one LightningModule: a network, a loss, explicit regularisation, metrics, optimiser."""

from collections.abc import Callable

import lightning.pytorch as pl
import torch
import torch.nn as nn
from torchmetrics.classification import MulticlassAccuracy

from babysit.regularization import Regularizer


class Classifier(pl.LightningModule):
    def __init__(
        self,
        net: nn.Module,
        criterion: nn.Module,
        optimizer: Callable,
        num_classes: int,
        scheduler: dict | None = None,
        regularizer: Regularizer | None = None,
    ):
        super().__init__()
        self.net, self.criterion = net, criterion
        self.optimizer_factory, self.scheduler_spec = optimizer, scheduler
        self.reg = regularizer or Regularizer()
        self.train_acc = MulticlassAccuracy(num_classes, average="micro")
        self.val_acc = self.train_acc.clone()
        self.test_acc = self.train_acc.clone()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def cost(self, logits: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(data loss + regularisation, data loss)."""
        data_loss = self.criterion(logits, y)
        return data_loss + self.reg.penalty(self.net), data_loss

    def training_step(self, batch, batch_idx):
        x, y = batch
        logits = self.net(x)
        cost, data_loss = self.cost(logits, y)
        self.train_acc.update(logits.detach(), y)
        self.log("train/loss", cost, on_step=False, on_epoch=True)
        self.log("train/data_loss", data_loss, on_step=False, on_epoch=True)
        self.log("train/acc", self.train_acc, on_step=False, on_epoch=True)
        return cost

    def on_train_batch_end(self, outputs, batch, batch_idx):
        self.reg.apply_max_norm(self.net)

    def _evaluate(self, batch, stage: str, metric: MulticlassAccuracy):
        x, y = batch
        logits = self.net(x)
        metric.update(logits, y)
        self.log(f"{stage}/loss", self.criterion(logits, y), on_step=False, on_epoch=True)
        self.log(f"{stage}/acc", metric, on_step=False, on_epoch=True)

    def validation_step(self, batch, batch_idx):
        self._evaluate(batch, "val", self.val_acc)

    def test_step(self, batch, batch_idx):
        self._evaluate(batch, "test", self.test_acc)

    def configure_optimizers(self):
        optimizer = self.optimizer_factory(params=self.parameters())
        spec = self.scheduler_spec
        if not spec or spec.get("fn") is None:
            return optimizer
        fn = spec["fn"]
        extra = {}
        if getattr(fn, "keywords", {}).get("total_steps", 0) is None:
            extra["total_steps"] = int(self.trainer.estimated_stepping_batches)
        scheduler = {"scheduler": fn(optimizer, **extra), "interval": spec.get("interval", "epoch")}
        if spec.get("monitor"):
            scheduler["monitor"] = spec["monitor"]
        return {"optimizer": optimizer, "lr_scheduler": scheduler}
