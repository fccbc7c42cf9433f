"""What the preflight checks need from a training setup, behind one small interface.

A probe hands out fresh copies of the untrained model, fixed batches of training data as the
network sees them, the loss (reg off) and the cost (what training minimises) of a model on a
batch, and the run's optimiser for a copy at a given learning rate. Every check is written once
against it; `ClassifierProbe` serves babysit's own runs, `LightningProbe` any LightningModule.
"""

import math
from abc import ABC, abstractmethod
from collections.abc import Iterator

import torch
import torch.nn as nn

from babysit.batch_format import BatchFormat
from babysit.errors import BabysitError


class Probe(ABC):
    fmt: BatchFormat = BatchFormat()
    criterion: nn.Module | None = None  # the loss module, when known (a hinge loss expects another initial loss)
    head_trained: bool = False  # the output layer comes trained (transfer): the loss at init is not ln C
    frozen_on_purpose: frozenset[str] = frozenset()  # parameter names frozen deliberately (transfer.mode=freeze)

    @abstractmethod
    def fresh(self) -> nn.Module:
        """A copy of the untrained model in train mode: the checks never touch the one that will train."""

    @abstractmethod
    def step(self, model: nn.Module, batch) -> tuple[torch.Tensor, torch.Tensor]:
        """(data loss with reg off, scores N × C) of `model` on `batch`, from one forward pass."""

    @abstractmethod
    def cost(self, model: nn.Module, batch) -> torch.Tensor:
        """What training minimises on `batch`: the data loss plus the run's regularisation."""

    @abstractmethod
    def optimizer(self, model: nn.Module, lr: float) -> torch.optim.Optimizer:
        """The run's optimiser for `model`'s parameters, at learning rate `lr`."""

    @abstractmethod
    def train_batches(self, count: int) -> Iterator:
        """`count` fixed training batches (the same ones every call), cycling when the data runs out."""

    @abstractmethod
    def configured_lr(self) -> float:
        """The run's learning rate (of the last parameter group: the head, under a smaller backbone lr)."""

    def first_batch(self):
        return next(iter(self.train_batches(1)))

    @abstractmethod
    def examples(self, count: int):
        """One batch of `count` training examples, the classes taken in turn so that all appear."""

    @abstractmethod
    def val_batch(self):
        """A batch of validation examples, or None when there is no validation data."""

    @abstractmethod
    def class_counts(self) -> tuple[dict[str, list[int]], list, str]:
        """(examples per class for each split, the class names, what was counted)."""

    def raw_splits(self, max_examples: int) -> dict[str, torch.Tensor] | None:
        """Up to `max_examples` raw images ([0, 1]) of each split, for the duplicate check; None when
        only the DataLoaders' batches are known."""
        return None

    def training_view(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(inputs, targets) of a training batch exactly as the network sees them (augmented, normalised)."""
        batch = self.first_batch()
        return self.fmt.inputs(batch), self.fmt.targets(batch)

    def class_names(self) -> list:
        return list(range(self.num_classes))

    def scores(self, model: nn.Module, batch) -> torch.Tensor:
        """N × C scores: the model's forward pass on the batch's inputs."""
        out = model(self.fmt.inputs(batch))
        return check_scores(out, self.fmt.size(batch))

    def loss(self, model: nn.Module, batch) -> torch.Tensor:
        return self.step(model, batch)[0]

    @property
    def num_classes(self) -> int:
        if getattr(self, "_num_classes", None) is None:
            with torch.no_grad():
                self._num_classes = int(self.scores(self.fresh().eval(), self.first_batch()).shape[1])
        return self._num_classes

    def expected_initial_loss(self) -> tuple[float, str]:
        """The loss of a network whose scores are all ≈ 0, and how to say it (ln C for softmax)."""
        if isinstance(self.criterion, nn.MultiMarginLoss):
            value = (self.num_classes - 1) / self.num_classes * self.criterion.margin
            return value, f"(C−1)/C·margin = {value:.4f}"
        value = math.log(self.num_classes)
        return value, f"ln({self.num_classes}) = {value:.4f}"


def check_scores(out, n: int) -> torch.Tensor:
    if not isinstance(out, torch.Tensor) or out.ndim != 2 or out.shape[0] != n:
        shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
        raise BabysitError(f"the model's forward pass returned {shape} for a batch of {n}: the babysitting checks "
                           f"need one row of class scores per example (N × C = {n} × classes)")
    return out


def balanced_order(y: torch.Tensor, count: int) -> torch.Tensor:
    """Positions of `count` labels, classes taken in turn (seeded), so that every class appears."""
    order = torch.randperm(len(y), generator=torch.Generator().manual_seed(0))
    y = y.cpu()
    by_class = [order[y[order] == c] for c in torch.unique(y)]
    picked = [group[i] for i in range(max(len(g) for g in by_class)) for group in by_class if i < len(group)]
    return torch.stack(picked[:count])


def is_bad(value: float) -> bool:
    return not math.isfinite(value)
