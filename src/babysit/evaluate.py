"""Loss, accuracy and balanced accuracy of a model on one split, without augmentation; for the
test split, also what the report shows of the mistakes."""

from pathlib import Path

import numpy as np
import torch

from babysit.atomic import write_npz
from babysit.distributed import gather_shards

MISTAKES_KEPT = 32  # the most confident mistakes whose images the report shows


@torch.no_grad()
def evaluate(module, dm, split: str, keep: Path | None = None) -> dict[str, float]:
    """`keep`: a file that receives the labels, predictions and confidences of every example, and the
    images of the most confident mistakes. Under DDP each rank evaluates its share of the split and
    the shares are put back together in the split's order, so the numbers cover the whole split once,
    the same on every rank (rank 0 writes `keep`)."""
    was_training = module.training
    module.eval()
    loss_sum = 0.0
    labels, predicted, confidence, raw = [], [], [], []
    batches = dm.batches(split)
    for x, y in batches:
        x, y = x.to(module.device), y.to(module.device)
        logits = module(dm.prepare_batch(x, train=False))
        loss_sum += float(module.criterion(logits, y)) * len(y)
        probs = logits.float().softmax(1)
        conf, pred = probs.max(1)
        labels.append(y.cpu())
        predicted.append(pred.cpu())
        confidence.append(conf.cpu())
        if keep is not None:
            raw.append(x.cpu())
    module.train(was_training)
    y, pred, conf = (torch.cat(t) if t else torch.zeros(0, dtype=torch.long) for t in (labels, predicted, confidence))
    worst = _worst_mistakes(y, pred, conf)
    images = torch.cat(raw)[worst] if keep is not None and raw else None
    trainer = getattr(module, "_trainer", None)
    if trainer is not None and getattr(batches, "world_size", 1) > 1:  # this rank's share of the split
        loss_sum, y, pred, conf, worst, images = gather_shards(loss_sum, y, pred, conf, worst, images)
        order = conf[worst].argsort(descending=True)[:MISTAKES_KEPT]  # among every rank's most confident
        worst, images = worst[order], images[order] if images is not None else None
    count = len(y)
    if count == 0:
        return {}
    classes = module.num_classes
    confusion = torch.bincount(y * classes + pred, minlength=classes * classes).view(classes, classes)
    present = confusion.sum(1) > 0
    recall = confusion.diag()[present].float() / confusion.sum(1)[present]
    if keep is not None and (trainer is None or trainer.is_global_zero):
        _keep(keep, y, pred, conf, worst, images, confusion, dm.classes)
    return {f"{split}/loss": loss_sum / count, f"{split}/acc": float(confusion.diag().sum()) / count,
            f"{split}/balanced_acc": float(recall.mean())}


def _worst_mistakes(y, pred, confidence) -> torch.Tensor:
    """Positions of the most confident mistakes, most confident first."""
    wrong = (pred != y).nonzero().flatten()
    return wrong[confidence[wrong].argsort(descending=True)][:MISTAKES_KEPT]


def _keep(path: Path, y, pred, confidence, worst, images, confusion, classes) -> None:
    pixels = (images.clamp(0, 1) * 255).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()
    write_npz(path, labels=y.numpy(), predicted=pred.numpy(), confidence=confidence.numpy(),
              confusion=confusion.numpy(), classes=np.asarray([str(c) for c in classes]),
              mistake_index=worst.numpy(), mistake_images=pixels)
