"""Seeded, stratified train/val/test splits."""

import numpy as np
import torch
from sklearn.model_selection import StratifiedKFold, train_test_split

from babysit.errors import BabysitError


def check_fractions(split: dict) -> None:
    names = ("train", "val", "test")
    if set(split) != set(names):
        raise BabysitError(f"data.split must have exactly the keys train, val, test; got {sorted(split)}")
    for name in names:
        value = split[name]
        if not isinstance(value, (int, float)) or isinstance(value, bool) or not 0 <= value <= 1:
            raise BabysitError(f"data.split.{name}={value!r} must be a number in [0, 1]")
    if split["train"] <= 0 or split["val"] <= 0:
        raise BabysitError("data.split.train and data.split.val must both be above 0")
    total = sum(split[n] for n in names)
    if abs(total - 1.0) > 1e-6:
        raise BabysitError(
            f"data.split fractions sum to {total:g}, not 1: e.g. data.split.train=0.6 "
            "data.split.val=0.2 data.split.test=0.2"
        )


def _stratify(y: np.ndarray, test_size: float, seed: int, where: str):
    idx = np.arange(len(y))
    try:
        return train_test_split(idx, test_size=test_size, stratify=y, random_state=seed)
    except ValueError as e:
        raise BabysitError(f"cannot split {where} stratified ({e}); use more data or other fractions") from e


def split_off(y: torch.Tensor, fraction: float, seed: int, where: str) -> tuple[torch.Tensor, torch.Tensor]:
    """(kept, split-off) indices: a stratified `fraction` of the samples split off."""
    keep, off = _stratify(y.numpy(), fraction, seed, where)
    return torch.as_tensor(np.sort(keep)), torch.as_tensor(np.sort(off))


def kfold(y: torch.Tensor, fold: int, folds: int, seed: int, classes: list[str]) -> tuple[torch.Tensor, torch.Tensor]:
    """(train, val) indices of fold `fold` (0-based) of a stratified, seeded K-fold split."""
    counts = np.bincount(y.numpy(), minlength=len(classes))
    smallest = int(counts.argmin())
    if folds > counts[smallest]:
        raise BabysitError(
            f"cv.folds={folds} is larger than the smallest class ({counts[smallest]} {classes[smallest]!r} "
            f"images in train+val): use cv.folds={max(2, int(counts[smallest]))} or fewer"
        )
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    train, val = list(splitter.split(np.zeros(len(y)), y.numpy()))[fold]
    return torch.as_tensor(train), torch.as_tensor(val)
