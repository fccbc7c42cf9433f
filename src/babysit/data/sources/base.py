from dataclasses import dataclass, field

import numpy as np
import torch


@dataclass
class Images:
    """Images as float32 (N, C, H, W) in [0, 1] with int64 labels.

    `test` holds the source's own test set when it has one (MNIST, CIFAR, FDDB folds);
    otherwise the data module splits `x` into train/val/test itself. `val` likewise holds a
    fixed validation set (FDDB folds); without one, val is carved out of `x`. `notes` are
    facts about how the data was made (e.g. extraction counts) kept in summary.json.
    `groups` says, per part ("train" for `x`, "val", "test"), which original picture each
    sample was cut from (int64 ids, distinct across parts): samples of one group always land
    on the same side of a split, so patches of one photo never sit in both train and val.
    """

    x: torch.Tensor
    y: torch.Tensor
    classes: list[str]
    origin: str
    test: tuple[torch.Tensor, torch.Tensor] | None = None
    val: tuple[torch.Tensor, torch.Tensor] | None = None
    notes: dict = field(default_factory=dict)
    groups: dict[str, torch.Tensor] = field(default_factory=dict)


def to_float_images(array: np.ndarray, scale: float) -> torch.Tensor:
    """(N, H, W) or (N, H, W, C) array → float32 (N, C, H, W) divided by `scale`."""
    t = torch.as_tensor(np.ascontiguousarray(array)).float().div_(scale)
    if t.ndim == 3:
        return t.unsqueeze(1)
    return t.permute(0, 3, 1, 2).contiguous()
