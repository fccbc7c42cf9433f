"""Seeded, stratified train/val/test splits."""

import numpy as np
import torch
from sklearn.model_selection import train_test_split

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


def stratified_split(y: torch.Tensor, split: dict, seed: int) -> dict[str, torch.Tensor]:
    """Indices of a stratified split of all samples into train/val/test fractions."""
    labels = y.numpy()
    rest, test = (np.arange(len(labels)), np.array([], dtype=int))
    if split["test"] > 0:
        rest, test = _stratify(labels, split["test"], seed, "the data into train+val / test")
    val_share = split["val"] / (split["train"] + split["val"])
    tr, va = _stratify(labels[rest], val_share, seed, "the data into train / val")
    return {
        "train": torch.as_tensor(np.sort(rest[tr])),
        "val": torch.as_tensor(np.sort(rest[va])),
        "test": torch.as_tensor(np.sort(test)),
    }


def carve_val(y: torch.Tensor, split: dict, seed: int) -> dict[str, torch.Tensor]:
    """For sources with a fixed test set: carve val out of the training set, stratified."""
    val_share = split["val"] / (split["train"] + split["val"])
    tr, va = _stratify(y.numpy(), val_share, seed, "the training set into train / val")
    return {"train": torch.as_tensor(np.sort(tr)), "val": torch.as_tensor(np.sort(va))}
