"""The probe of babysit's own runs: the Classifier's network, loss, regulariser and optimiser
factory, and the data module's training split without augmentation."""

import copy

import torch
import torch.nn as nn

from babysit.module import Classifier
from babysit.preflight.probe import Probe, balanced_order


class ClassifierProbe(Probe):
    def __init__(self, module: Classifier, dm):
        self.module, self.dm = module, dm
        self.net, self.criterion, self.reg = module.net, module.criterion, module.reg
        self.device = next(module.net.parameters()).device
        transfer = module.transfer
        self.head_trained = transfer is not None and not transfer.new_head
        self.frozen_on_purpose = frozenset(transfer.frozen) if transfer is not None else frozenset()
        self._num_classes = dm.num_classes

    def fresh(self) -> nn.Module:
        clone = copy.deepcopy(self.net)
        clone.train()
        return clone

    def step(self, model, batch):
        x, y = batch
        scores = model(x)
        return self.criterion(scores, y), scores

    def cost(self, model, batch):
        return self.loss(model, batch) + self.reg.penalty(model)

    def configured_lr(self) -> float:
        return float(self.module.optimizer_factory.keywords["lr"])

    def optimizer(self, model, lr):
        return self.module.optimizer_factory(params=model.parameters(), lr=lr)

    def _prepared(self, split: str, idx: torch.Tensor):
        x, y = self.dm.examples(split, idx)
        return self.dm.prepare_batch(x.to(self.device), train=False), y.to(self.device)

    def train_batches(self, count: int):
        """Batches of data.batch_size from a seeded permutation of the training split, cycling."""
        labels = self.dm.labels("train")
        size = min(self.dm.batch_size, len(labels))
        order = torch.randperm(len(labels), generator=torch.Generator().manual_seed(0))
        per_pass = max(1, len(labels) // size)
        for i in range(count):
            yield self._prepared("train", order[(i % per_pass) * size:(i % per_pass + 1) * size])

    def examples(self, count: int):
        return self._prepared("train", balanced_order(self.dm.labels("train"), count))

    def val_batch(self):
        labels = self.dm.labels("val")
        if not len(labels):
            return None
        return self._prepared("val", torch.arange(min(len(labels), self.dm.eval_batch_size)))

    def class_counts(self):
        counts = {split: torch.bincount(self.dm.labels(split), minlength=self.dm.num_classes).tolist()
                  for split in ("train", "val", "test") if len(self.dm.labels(split))}
        return counts, list(self.dm.classes), "every example"

    def class_names(self) -> list:
        return list(self.dm.classes)

    def raw_splits(self, max_examples: int):
        return {split: self.dm.examples(split, torch.arange(min(len(self.dm.labels(split)), max_examples)))[0]
                for split in ("train", "val", "test")}

    def training_view(self):
        """A training batch augmented and normalised, as training does it."""
        labels = self.dm.labels("train")
        order = torch.randperm(len(labels), generator=torch.Generator().manual_seed(0))[:self.dm.batch_size]
        x, y = self.dm.examples("train", order)
        return self.dm.prepare_batch(x.to(self.device), train=True), y
