"""Loss and accuracy of a model on one split, without augmentation."""

import torch

from babysit.data import InMemoryDataModule
from babysit.module import Classifier


@torch.no_grad()
def evaluate(module: Classifier, dm: InMemoryDataModule, split: str) -> dict[str, float]:
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
    if count == 0:
        return {}
    return {f"{split}/loss": loss_sum / count, f"{split}/acc": correct / count}
