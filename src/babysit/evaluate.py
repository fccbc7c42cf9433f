"""Loss and accuracy of a model on one split, without augmentation."""

import torch

from babysit.data import InMemoryDataModule
from babysit.module import Classifier


@torch.no_grad()
def evaluate(module: Classifier, dm: InMemoryDataModule, split: str) -> dict[str, float]:
    """Under DDP each rank evaluates its share of the split and the sums are added up, so the
    numbers cover the whole split once, the same on every rank."""
    was_training = module.training
    module.eval()
    loss_sum, correct, count = 0.0, 0, 0
    for x, y in dm.batches(split):
        x, y = dm.prepare_batch(x.to(module.device), train=False), y.to(module.device)
        logits = module(x)
        loss_sum += float(module.criterion(logits, y)) * len(y)
        correct += int((logits.argmax(1) == y).sum())
        count += len(y)
    module.train(was_training)
    trainer = module._trainer
    if trainer is not None and trainer.world_size > 1:
        sums = torch.tensor([loss_sum, correct, count], dtype=torch.float64, device=module.device)
        loss_sum, correct, count = trainer.strategy.reduce(sums, reduce_op="sum").tolist()
    if count == 0:
        return {}
    return {f"{split}/loss": loss_sum / count, f"{split}/acc": correct / count}
