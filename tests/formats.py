"""Small files in the real on-disk formats (MNIST idx, CIFAR pickles, image folders)."""

import pickle
import struct
from pathlib import Path

import numpy as np
from PIL import Image


def _images(rng, n: int, classes: int, shape: tuple) -> tuple[np.ndarray, np.ndarray]:
    labels = np.arange(n) % classes
    images = rng.integers(0, 60, size=(n, *shape)) + (labels * (180 // classes)).reshape(-1, *[1] * len(shape))
    return images.clip(0, 255).astype(np.uint8), labels.astype(np.uint8)


def write_mnist(root: Path, n_train: int = 60, n_test: int = 20, seed: int = 0) -> Path:
    raw = Path(root) / "MNIST" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        images, labels = _images(rng, n, 10, (28, 28))
        (raw / f"{prefix}-images-idx3-ubyte").write_bytes(struct.pack(">iiii", 2051, n, 28, 28) + images.tobytes())
        (raw / f"{prefix}-labels-idx1-ubyte").write_bytes(struct.pack(">ii", 2049, n) + labels.tobytes())
    return raw


def write_cifar(root: Path, per_batch: int = 20, classes: int = 10, seed: int = 0) -> Path:
    names = {10: ("cifar-10-batches-py", [f"data_batch_{i}" for i in range(1, 6)], ["test_batch"],
                  "batches.meta", "label_names", "labels"),
             100: ("cifar-100-python", ["train"], ["test"], "meta", "fine_label_names", "fine_labels")}
    folder_name, train, test, meta, meta_key, labels_key = names[classes]
    folder = Path(root) / folder_name
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for name in train + test:
        images, labels = _images(rng, per_batch, classes, (3, 32, 32))
        batch = {"data": images.reshape(per_batch, -1), labels_key: labels.tolist(), "batch_label": name}
        (folder / name).write_bytes(pickle.dumps(batch, protocol=2))
    (folder / meta).write_bytes(pickle.dumps({meta_key: [f"class{i}" for i in range(classes)]}, protocol=2))
    return folder


def write_folder(root: Path, classes=("face", "nonface"), per_class: int = 15, size: int = 20,
                 mode: str = "L", seed: int = 0) -> Path:
    rng = np.random.default_rng(seed)
    for k, name in enumerate(classes):
        d = Path(root) / name
        d.mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            shape = (size, size) if mode == "L" else (size, size, 3)
            pixels = (rng.integers(0, 80, size=shape) + 150 * k).clip(0, 255).astype(np.uint8)
            Image.fromarray(pixels, mode=mode).save(d / f"{i:03d}.png")
    return Path(root)
