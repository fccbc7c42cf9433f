"""CIFAR-10/100 from the python pickle batches (the format of the official archive).

torchvision's dataset classes insist on the archive's checksums, so the batches are
read here directly; downloading still goes through torchvision's verified download.
"""

import pickle
from pathlib import Path

import numpy as np
import torch

from babysit.data.sources.base import Images, to_float_images
from babysit.data.sources.download import fetch
from babysit.errors import BabysitError

LAYOUT = {
    10: {
        "folder": "cifar-10-batches-py",
        "train": [f"data_batch_{i}" for i in range(1, 6)],
        "test": ["test_batch"],
        "meta": ("batches.meta", "label_names"),
        "labels": "labels",
    },
    100: {
        "folder": "cifar-100-python",
        "train": ["train"],
        "test": ["test"],
        "meta": ("meta", "fine_label_names"),
        "labels": "fine_labels",
    },
}


def _load(path: Path) -> dict:
    if not path.is_file():
        raise FileNotFoundError(path)
    try:
        with path.open("rb") as f:
            return pickle.load(f, encoding="latin1")
    except Exception as e:  # noqa: BLE001 - any unpickling failure means a bad file
        raise BabysitError(f"{path} is not a CIFAR pickle batch ({e}): replace the file") from e


def _batches(folder: Path, names: list[str], labels_key: str):
    xs, ys = [], []
    for name in names:
        batch = _load(folder / name)
        data = np.asarray(batch["data"], dtype=np.uint8).reshape(-1, 3, 32, 32)
        xs.append(data.transpose(0, 2, 3, 1))
        ys.append(np.asarray(batch[labels_key], dtype=np.int64))
    return to_float_images(np.concatenate(xs), 255.0), torch.as_tensor(np.concatenate(ys))


def _download(root: Path, classes: int) -> None:
    from torchvision.datasets import CIFAR10, CIFAR100

    cls = CIFAR10 if classes == 10 else CIFAR100
    fetch(f"CIFAR-{classes}", [cls.url], root, cls.filename, cls.tgz_md5,
          f"unpack {cls.filename} into {root} by hand (it holds {LAYOUT[classes]['folder']}/)")


def cifar(root: str, classes: int = 10, download: bool = False) -> Images:
    if classes not in LAYOUT:
        raise BabysitError(f"CIFAR has 10 or 100 classes, not {classes}")
    spec = LAYOUT[classes]
    folder = Path(root) / spec["folder"]
    if download and not folder.is_dir():
        _download(Path(root), classes)
    try:
        x, y = _batches(folder, spec["train"], spec["labels"])
        test = _batches(folder, spec["test"], spec["labels"])
        meta_file, meta_key = spec["meta"]
        names = list(_load(folder / meta_file)[meta_key])
    except FileNotFoundError as e:
        raise BabysitError(
            f"CIFAR-{classes} file {e.args[0]} not found: put the python batches in {folder}, "
            "or run with data.download=true (needs internet)"
        ) from e
    return Images(x, y, names, f"CIFAR-{classes} in {folder}", test=test)
