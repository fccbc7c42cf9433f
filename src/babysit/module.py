"""The one LightningModule: a network, a loss, explicit regularisation, metrics, optimiser."""

from collections.abc import Callable

import lightning.pytorch as pl
import torch
import torch.nn as nn
from torchmetrics.classification import MulticlassAccuracy

from babysit.callbacks.loggers import MetricWriter
from babysit.checkpoint import META_KEY
from babysit.epoch_means import EpochMeans
from babysit.errors import BabysitError
from babysit.regularization import Regularizer
from babysit.transfer import Transfer, frozen_norms

EPOCH_SUMS_KEY = "babysit_epoch_sums"


class Classifier(pl.LightningModule):
    def __init__(
        self,
        net: nn.Module,
        criterion: nn.Module,
        optimizer: Callable,
        num_classes: int,
        scheduler: dict | None = None,
        regularizer: Regularizer | None = None,
        channels_last: bool = False,
        meta: dict | None = None,
        transfer: Transfer | None = None,
    ):
        super().__init__()
        # Convolutions train about 1.7× faster on the CPU (oneDNN) with NHWC tensors.
        self.nhwc = channels_last and any(isinstance(m, nn.Conv2d) for m in net.modules())
        if self.nhwc:
            net = net.to(memory_format=torch.channels_last)
        self.net, self.criterion = net, criterion
        self.optimizer_factory, self.scheduler_spec = optimizer, scheduler
        self.reg = regularizer or Regularizer()
        self.meta, self.transfer = meta, transfer
        self.frozen_norms = frozen_norms(net)
        self.num_classes = num_classes
        self.val_acc = MulticlassAccuracy(num_classes, average="micro", validate_args=False)
        self.test_acc = self.val_acc.clone()
        self.train_means = EpochMeans()
        self.step_metrics = MetricWriter()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.nhwc:
            x = x.contiguous(memory_format=torch.channels_last)
        return self.net(x)

    def cost(self, logits: torch.Tensor, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(data loss + regularisation, data loss)."""
        data_loss = self.criterion(logits, y)
        return data_loss + self.reg.penalty(self.net), data_loss

    def training_step(self, batch, batch_idx):
        x, y = batch
        logits = self(x)
        cost, data_loss = self.cost(logits, y)
        self.train_means.update(cost, data_loss, logits, y)
        every = self.trainer.log_every_n_steps
        if every and (self.global_step + 1) % every == 0:
            # straight to the loggers: self.log costs about a millisecond, more than a LeNet-5 step
            step_loss = {"train/loss_step": float(self._mean_over_ranks(cost.detach())), "epoch": self.current_epoch}
            self.step_metrics.scalars(self.trainer, step_loss, self.global_step)
        if batch_idx + 1 == self.trainer.num_training_batches:
            self._log_train_epoch(len(y))
        return cost

    def _log_train_epoch(self, batch_size: int) -> None:
        # logged once, from the epoch's last batch, so that callbacks see the means in on_train_epoch_end
        means = self.train_means.compute(lambda sums: self.trainer.strategy.reduce(sums, reduce_op="sum"))
        # the same on every rank already; sync_dist tells Lightning so (it warns otherwise)
        self.log_dict(means, on_step=False, on_epoch=True, batch_size=batch_size, sync_dist=self.trainer.world_size > 1)
        self.train_means.reset()
        self.step_metrics.flush()

    def on_train_end(self) -> None:
        self.step_metrics.flush()  # a run stopped mid-epoch (explosion) never reached the epoch's last batch

    def on_train_epoch_start(self):
        for m in self.frozen_norms:  # Lightning puts every module in train mode each epoch
            m.eval()

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        if self.meta is not None:
            checkpoint[META_KEY] = self.meta
        checkpoint[EPOCH_SUMS_KEY] = self._epoch_sums()

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        if checkpoint.get(EPOCH_SUMS_KEY) and self.trainer.state.fn == "fit":
            self._restore_epoch_sums(checkpoint[EPOCH_SUMS_KEY])

    def _mean_over_ranks(self, value: torch.Tensor) -> torch.Tensor:
        return self.trainer.strategy.reduce(value, reduce_op="mean") if self.trainer.world_size > 1 else value

    def _epoch_sums(self) -> dict | None:
        """The running sums of the epoch's training means: a checkpoint taken mid-epoch (Ctrl-C, SIGTERM)
        carries them, so that the resumed epoch reports the means of the whole epoch. Under DDP each
        rank holds its own sums: they are gathered (row r: rank r)."""
        if self.train_means.empty:
            return None  # between epochs: nothing to carry
        world = self.trainer.world_size if self._trainer is not None else 1
        sums = self.train_means.state_dict()
        return {"world_size": world, "sums": self.all_gather(sums) if world > 1 else sums}

    def _restore_epoch_sums(self, saved: dict) -> None:
        world = self.trainer.world_size if self._trainer is not None else 1
        if saved["world_size"] != world:
            raise BabysitError(f"the checkpoint was taken in the middle of an epoch on {saved['world_size']} "
                               f"process(es): resume it with trainer.devices={saved['world_size']}")
        sums = saved["sums"][self.trainer.global_rank] if world > 1 else saved["sums"]
        self.train_means.load_state_dict(sums.to(self.device))

    def on_train_batch_end(self, outputs, batch, batch_idx):
        self.reg.apply_max_norm(self.net)

    def _evaluate(self, batch, stage: str, metric: MulticlassAccuracy):
        x, y = batch
        logits = self(x)
        metric.update(logits, y)
        self.log(f"{stage}/loss", self.criterion(logits, y), on_step=False, on_epoch=True, batch_size=len(y),
                 sync_dist=self.trainer.world_size > 1)  # the mean over every rank's samples
        self.log(f"{stage}/acc", metric, on_step=False, on_epoch=True, batch_size=len(y))

    def validation_step(self, batch, batch_idx):
        self._evaluate(batch, "val", self.val_acc)

    def test_step(self, batch, batch_idx):
        self._evaluate(batch, "test", self.test_acc)

    def param_groups(self) -> list:
        """Trainable parameters; when fine-tuning a transferred network, the backbone in its own
        group at optimizer.lr × transfer.backbone_lr_scale."""
        trainable = [(n, p) for n, p in self.net.named_parameters() if p.requires_grad]
        t = self.transfer
        if t is None or t.mode != "finetune" or t.backbone_lr_scale == 1:
            return [p for _, p in trainable]
        head = [p for n, p in trainable if t.in_head(n)]
        backbone = [p for n, p in trainable if not t.in_head(n)]
        lr = self.optimizer_factory.keywords["lr"] * t.backbone_lr_scale
        return [{"params": backbone, "lr": lr, "name": "backbone"}, {"params": head, "name": "head"}]

    def configure_optimizers(self):
        optimizer = self.optimizer_factory(params=self.param_groups())
        spec = self.scheduler_spec
        if not spec or spec.get("fn") is None:
            return optimizer
        fn = spec["fn"]
        extra = {}
        if getattr(fn, "keywords", {}).get("total_steps", 0) is None:
            extra["total_steps"] = int(self.trainer.estimated_stepping_batches)
        peak = getattr(fn, "keywords", {}).get("max_lr")
        if peak is not None and len(optimizer.param_groups) > 1:
            # OneCycle would give every group the same peak: keep the backbone's smaller share
            base = optimizer.param_groups[-1]["lr"]
            extra["max_lr"] = [peak * g["lr"] / base for g in optimizer.param_groups]
        scheduler = {"scheduler": fn(optimizer, **extra), "interval": spec.get("interval", "epoch")}
        if spec.get("monitor"):
            scheduler["monitor"] = spec["monitor"]
        return {"optimizer": optimizer, "lr_scheduler": scheduler}
