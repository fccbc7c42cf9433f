"""Loss, accuracy and balanced accuracy of a model on one split, without augmentation; for the
test split, also what the report shows of the mistakes."""

from pathlib import Path

import numpy as np
import torch

MISTAKES_KEPT = 32  # the most confident mistakes whose images the report shows


@torch.no_grad()
def evaluate(module, dm, split: str, keep: Path | None = None) -> dict[str, float]:
    """`keep`: a file that receives the labels, predictions and confidences of every example, and the
    images of the most confident mistakes."""
    was_training = module.training
    module.eval()
    loss_sum, count = 0.0, 0
    labels, predicted, confidence, raw = [], [], [], []
    for x, y in dm.batches(split):
        x, y = x.to(module.device), y.to(module.device)
        logits = module(dm.prepare_batch(x, train=False))
        loss_sum += float(module.criterion(logits, y)) * len(y)
        count += len(y)
        probs = logits.float().softmax(1)
        conf, pred = probs.max(1)
        labels.append(y.cpu())
        predicted.append(pred.cpu())
        confidence.append(conf.cpu())
        if keep is not None:
            raw.append(x.cpu())
    module.train(was_training)
    if count == 0:
        return {}
    y, pred = torch.cat(labels), torch.cat(predicted)
    classes = module.num_classes
    confusion = torch.bincount(y * classes + pred, minlength=classes * classes).view(classes, classes)
    present = confusion.sum(1) > 0
    recall = confusion.diag()[present].float() / confusion.sum(1)[present]
    if keep is not None:
        _keep(keep, y, pred, torch.cat(confidence), torch.cat(raw), confusion, dm.classes)
    return {f"{split}/loss": loss_sum / count, f"{split}/acc": float(confusion.diag().sum()) / count,
            f"{split}/balanced_acc": float(recall.mean())}


def _keep(path: Path, y, pred, confidence, x, confusion, classes) -> None:
    wrong = (pred != y).nonzero().flatten()
    worst = wrong[confidence[wrong].argsort(descending=True)][:MISTAKES_KEPT]
    images = (x[worst].clamp(0, 1) * 255).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, labels=y.numpy(), predicted=pred.numpy(), confidence=confidence.numpy(),
                        confusion=confusion.numpy(), classes=np.asarray([str(c) for c in classes]),
                        mistake_index=worst.numpy(), mistake_images=images)
