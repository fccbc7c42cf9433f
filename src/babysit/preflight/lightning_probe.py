"""The probe of any LightningModule: its own training_step as the loss, its own optimiser (as
configure_optimizers built it) for the copies, and batches from its own DataLoaders, moved to
the device through the module's batch-transfer hooks, as training sees them."""

import copy
import itertools
import warnings

import lightning.pytorch as pl
import torch
import torch.nn as nn
from lightning.fabric.utilities.apply_func import move_data_to_device

from babysit.batch_format import BatchFormat
from babysit.errors import BabysitError
from babysit.preflight.probe import Probe, balanced_order, check_scores

MAX_BATCHES = 16  # batches read from the training DataLoader; the checks cycle through them


class LightningProbe(Probe):
    def __init__(self, trainer: pl.Trainer, module: pl.LightningModule, fmt: BatchFormat,
                 loss_fn=None, num_classes: int | None = None):
        self.trainer, self.module, self.fmt, self.loss_fn = trainer, module, fmt, loss_fn
        self.criterion = getattr(module, "criterion", None)
        if not isinstance(self.criterion, nn.Module):
            self.criterion = None
        self._num_classes = num_classes
        if not trainer.optimizers:
            raise BabysitError(f"{type(module).__name__} has no optimiser at fit start: configure_optimizers must "
                               "return one for the preflight's learning-rate checks")
        self._train_loader, self._val_loader = loaders(trainer)
        self._cache: list = []
        self._val = None

    def fresh(self) -> nn.Module:
        clone = copy.deepcopy(self.module)  # the copy leaves the trainer behind (LightningModule.__getstate__)
        clone.train()
        return clone

    def step(self, model, batch):
        if self.loss_fn is not None:
            scores = self.scores(model, batch)
            return self.loss_fn(scores, self.fmt.targets(batch)), scores
        captured = []
        handle = model.register_forward_hook(lambda m, args, out: captured.append(out))
        try:
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", message=".*self.log.*")  # the copy has no trainer to log to
                out = model.training_step(batch, 0)
        except RuntimeError as e:
            if "not attached to a `Trainer`" in str(e):
                raise BabysitError(f"{type(model).__name__}.training_step uses self.trainer, which the preflight's "
                                   "copies do not have: give Babysitter(loss_fn=…) (scores, targets → loss)") from e
            raise
        finally:
            handle.remove()
        loss = out.get("loss") if isinstance(out, dict) else out
        if not isinstance(loss, torch.Tensor) or loss.ndim:
            raise BabysitError(f"{type(model).__name__}.training_step returned {type(out).__name__}: the preflight "
                               "needs the loss (a scalar tensor, or a dict with 'loss'); with manual optimisation "
                               "give Babysitter(loss_fn=…)")
        n = self.fmt.size(batch)
        scores = next((o for o in captured if isinstance(o, torch.Tensor) and o.ndim == 2 and len(o) == n), None)
        return loss, scores if scores is not None else check_scores(model(self.fmt.inputs(batch)), n)

    def cost(self, model, batch):
        return self.loss(model, batch)  # a LightningModule's regularisation is in its loss or its optimiser

    def configured_lr(self) -> float:
        group = self.trainer.optimizers[0].param_groups[-1]
        return float(group.get("initial_lr", group["lr"]))  # a scheduler keeps the lr it started from

    def optimizer(self, model, lr):
        """The trainer's (first) optimiser rebuilt for `model`'s parameters, every group's lr scaled so
        that the last group (the head, under a smaller backbone lr) gets `lr`."""
        source = self.trainer.optimizers[0]
        twin = dict(zip(map(id, self.module.parameters()), model.parameters(), strict=True))
        scale = lr / source.param_groups[-1]["lr"]  # the groups keep their shares of the lr
        groups = []
        for group in source.param_groups:
            options = {k: v for k, v in group.items() if k != "params"}
            options["lr"] = group["lr"] * scale
            groups.append({"params": [twin[id(p)] for p in group["params"] if id(p) in twin], **options})
        return type(source)(groups, **{k: v for k, v in source.defaults.items() if k != "lr"}, lr=lr)

    def _to_device(self, batch):
        try:
            return self.module._apply_batch_transfer_handler(batch, self.module.device)
        except AttributeError:
            return move_data_to_device(batch, self.module.device)

    def _read(self, count: int) -> list:
        if len(self._cache) < min(count, MAX_BATCHES) and self._train_loader is not None:
            self._cache = [self._to_device(b) for b in itertools.islice(self._train_loader, MAX_BATCHES)]
            if self._cache:  # a batch the checks cannot read is named before any of them runs
                self.fmt.inputs(self._cache[0]), self.fmt.targets(self._cache[0])
        if not self._cache:
            raise BabysitError("the training DataLoader gave no batches: the preflight needs training data")
        return self._cache

    def train_batches(self, count: int):
        cached = self._read(count)
        return (cached[i % len(cached)] for i in range(count))

    def examples(self, count: int):
        pool = self.fmt.concat(self._read(MAX_BATCHES))
        return self.fmt.take(pool, balanced_order(self.fmt.targets(pool), count))

    def val_batch(self):
        if self._val is None and self._val_loader is not None:
            first = next(iter(self._val_loader), None)
            self._val = self._to_device(first) if first is not None else None
        return self._val


    def class_counts(self):
        """From the batches the preflight read (the first MAX_BATCHES of the training DataLoader) and the
        first validation batch: a sample, not a census."""
        width = self.num_classes
        counts = {"train": torch.bincount(torch.cat([self.fmt.targets(b).flatten().cpu() for b in self._read(1)]),
                                          minlength=width).tolist()}
        val = self.val_batch()
        if val is not None:
            counts["val"] = torch.bincount(self.fmt.targets(val).flatten().cpu(), minlength=width).tolist()
        return counts, list(range(width)), f"the first {sum(counts['train'])} training examples"


def loaders(trainer: pl.Trainer):
    """The training and (first) validation DataLoader of the fit, from wherever fit() got them."""
    fit = trainer.fit_loop
    sources = (fit._data_source, fit.epoch_loop.val_loop._data_source)
    out = []
    for source in sources:
        loader = source.dataloader() if source.is_defined() and source.instance is not None else None
        if isinstance(loader, (list, tuple)):
            loader = loader[0] if loader else None
        elif isinstance(loader, dict):
            loader = next(iter(loader.values()), None)
        out.append(loader)
    return tuple(out)
