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


# FDDB: two bright ellipses per image (major, minor, angle, cx, cy), the second one rotated
FDDB_FACES = [(16.0, 11.0, np.pi / 2, 28.0, 30.0), (15.0, 10.0, 0.6, 66.0, 64.0)]
FDDB_OUTSIDE = (14.0, 10.0, np.pi / 2, 92.0, 8.0)  # its square leaves a 96×96 image by a third


def _draw_ellipse(draw, major, minor, angle, cx, cy, fill) -> None:
    t = np.linspace(0, 2 * np.pi, 64, endpoint=False)
    x = cx + major * np.cos(angle) * np.cos(t) - minor * np.sin(angle) * np.sin(t)
    y = cy + major * np.sin(angle) * np.cos(t) + minor * np.cos(angle) * np.sin(t)
    draw.polygon(list(zip(x.tolist(), y.tolist(), strict=True)), fill=fill)


def write_fddb(root: Path, folds: int = 10, images_per_fold: int = 2, size: int = 96, seed: int = 0) -> Path:
    """FDDB-folds/ and originalPics/ with noisy JPEGs (grey and colour in turn) and the faces
    of FDDB_FACES drawn bright, plus one of each defect: in fold 1 the first image's second
    ellipse line is unparseable, in fold 2 the second image is missing, in fold 3 the first
    image has a third face (FDDB_OUTSIDE) outside the image."""
    from PIL import ImageDraw

    root = Path(root)
    (root / "FDDB-folds").mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for fold in range(1, folds + 1):
        lines = []
        for i in range(images_per_fold):
            name = f"2002/08/{fold:02d}/big/img_{i}"
            ellipses = FDDB_FACES + [FDDB_OUTSIDE] * (fold == 3 and i == 0)
            rows = [f"{a:.6f} {b:.6f} {t:.6f} {x:.6f} {y:.6f}  1" for a, b, t, x, y in ellipses]
            if fold == 1 and i == 0:
                rows[1] = rows[1].replace(rows[1].split()[1], "abc", 1)
            lines += [name, str(len(rows)), *rows]
            if fold == 2 and i == 1:
                continue
            mode = "L" if (fold + i) % 2 else "RGB"
            shape = (size, size) if mode == "L" else (size, size, 3)
            im = Image.fromarray(rng.integers(0, 80, size=shape).astype(np.uint8), mode=mode)
            draw = ImageDraw.Draw(im)
            for ellipse in ellipses:
                _draw_ellipse(draw, *ellipse, fill=240 if mode == "L" else (250, 230, 210))
            file = root / "originalPics" / f"{name}.jpg"
            file.parent.mkdir(parents=True, exist_ok=True)
            im.save(file, quality=95)
        (root / "FDDB-folds" / f"FDDB-fold-{fold:02d}-ellipseList.txt").write_text("\n".join(lines) + "\n")
    return root
