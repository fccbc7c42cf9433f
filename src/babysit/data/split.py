"""Seeded, stratified train/val/test splits."""

import numpy as np
import torch
from sklearn.model_selection import StratifiedGroupKFold, StratifiedKFold, train_test_split

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


def split_off(y: torch.Tensor, idx: torch.Tensor, fraction: float, seed: int, where: str,
              groups: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """(kept, split-off): a stratified `fraction` of the samples `idx` split off, seeded. With
    `groups`, whole groups move (via the first fold of a stratified group K-fold with 1/fraction folds).
    The order of sklearn's split is kept so that the next split sees the same sequence."""
    labels = y[idx].numpy()
    try:
        if groups is None:
            keep, off = train_test_split(idx.numpy(), test_size=fraction, stratify=labels, random_state=seed)
            return torch.as_tensor(keep), torch.as_tensor(off)
        splitter = StratifiedGroupKFold(n_splits=max(2, round(1 / fraction)), shuffle=True, random_state=seed)
        keep, off = next(splitter.split(np.zeros(len(idx)), labels, groups[idx].numpy()))
        return idx[torch.as_tensor(keep)], idx[torch.as_tensor(off)]
    except ValueError as e:
        raise BabysitError(f"cannot split {where} stratified ({e}); use more data or other fractions") from e


def kfold(y: torch.Tensor, fold: int, folds: int, seed: int, classes: list[str],
          groups: torch.Tensor | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    """(train, val) indices of fold `fold` (0-based) of a stratified, seeded K-fold split (whole
    groups per fold when `groups` is given)."""
    counts = np.bincount(y.numpy(), minlength=len(classes))
    smallest = int(counts.argmin())
    if folds > counts[smallest]:
        raise BabysitError(
            f"cv.folds={folds} is larger than the smallest class ({counts[smallest]} {classes[smallest]!r} "
            f"images in train+val): use cv.folds={max(2, int(counts[smallest]))} or fewer"
        )
    if groups is None:
        splits = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed).split(np.zeros(len(y)), y.numpy())
    else:
        pictures = len(groups.unique())
        if folds > pictures:
            raise BabysitError(f"cv.folds={folds} is more than the {pictures} pictures the train+val patches come "
                               f"from: use cv.folds={pictures} or fewer")
        splitter = StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=seed)
        splits = splitter.split(np.zeros(len(y)), y.numpy(), groups.numpy())
    train, val = list(splits)[fold]
    return torch.as_tensor(train), torch.as_tensor(val)


def split_indices(y: torch.Tensor, fractions: dict, seed: int, classes: list[str], groups: torch.Tensor | None = None,
                  cv: tuple[int, int, int] | None = None) -> dict[str, torch.Tensor]:
    """Positions of the train / val / test samples (each in ascending order) for data without a
    val or test set of its own: the test fraction split off first, then val out of the rest, or,
    under cross-validation (cv = (fold, folds, seed)), fold `fold` of the rest."""
    idx, test = torch.arange(len(y)), torch.arange(0)
    if fractions["test"] > 0:
        idx, test = split_off(y, idx, fractions["test"], seed, "the data into train+val / test", groups)
    if cv is not None:
        fold, folds, cv_seed = cv
        train, val = kfold(y[idx], fold, folds, cv_seed, classes, groups[idx] if groups is not None else None)
        return {"train": idx[train.sort().values], "val": idx[val.sort().values], "test": test.sort().values}
    val_share = fractions["val"] / (fractions["train"] + fractions["val"])
    keep, off = split_off(y, idx, val_share, seed, "the training set into train / val", groups)
    return {"train": keep.sort().values, "val": off.sort().values, "test": test.sort().values}
