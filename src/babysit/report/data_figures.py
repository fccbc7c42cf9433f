"""Figures of what the network saw and what it got wrong: a training batch as the network sees
it (after augmentation and normalisation), the test confusion matrix, and the test images it
misclassified most confidently (for two classes: false positives and false negatives apart)."""

from pathlib import Path

import numpy as np

from babysit.report.load import RunData
from babysit.report.plotting import figure, save
from babysit.run_files import PREDICTIONS, PREVIEW

COLUMNS = 8


def _draw(container, images: np.ndarray, titles: list[str], title: str, columns: int) -> None:
    rows = max(1, -(-len(images) // columns))
    axes = container.subplots(rows, columns, squeeze=False)
    container.suptitle(title, fontsize=9)
    for ax in axes.flat:
        ax.axis("off")
    for ax, image, label in zip(axes.flat, images, titles, strict=False):
        ax.imshow(image[..., 0] if image.shape[-1] == 1 else image, cmap="gray" if image.shape[-1] == 1 else None,
                  vmin=0, vmax=255, interpolation="nearest")
        ax.set_title(label, fontsize=7)


def _grid(images: np.ndarray, titles: list[str], title: str, out: Path, columns: int = COLUMNS) -> Path:
    import matplotlib.pyplot as plt

    rows = max(1, -(-len(images) // columns))
    fig = plt.figure(figsize=(1.3 * columns, 1.45 * rows + 0.5), dpi=110)
    _draw(fig, images, titles, title, columns)
    return save(fig, out)


def _grids(groups: list[tuple[np.ndarray, list[str], str]], out: Path, columns: int) -> Path:
    """Several grids side by side, each with its own title."""
    import matplotlib.pyplot as plt

    rows = max(1, max(-(-len(images) // columns) for images, _, _ in groups))
    fig = plt.figure(figsize=(1.3 * columns * len(groups) + 0.4, 1.45 * rows + 0.7), dpi=110, layout="constrained")
    for sub, (images, titles, name) in zip(fig.subfigures(1, len(groups), wspace=0.05), groups, strict=True):
        if len(images):
            _draw(sub, images, titles, name, columns)
        else:
            sub.suptitle(f"{name}: none", fontsize=9)
    return save(fig, out)


def first_batch(run: RunData, out: Path) -> Path | None:
    path = run.run_dir / PREVIEW
    if not path.is_file():
        return None
    data = np.load(path)
    classes = [str(c) for c in data["classes"]]
    titles = [classes[int(y)] if int(y) < len(classes) else str(int(y)) for y in data["labels"]]
    return _grid(data["images"], titles, "A training batch as the network sees it (augmented, normalised; "
                                         "each image scaled to its own range)", out / "data_first_batch.png")


def confusion(run: RunData, out: Path) -> Path | None:
    path = run.run_dir / PREDICTIONS
    if not path.is_file():
        return None
    data = np.load(path)
    matrix, classes = data["confusion"], [str(c) for c in data["classes"]]
    size = min(10.0, 3.5 + 0.45 * len(classes))
    fig, (ax,) = figure("Test confusion matrix", width=size)
    fig.set_size_inches(size, size * 0.9)
    ax.grid(False)
    shares = matrix / np.maximum(matrix.sum(1, keepdims=True), 1)
    ax.imshow(shares, cmap="Blues", vmin=0, vmax=1)
    if len(classes) <= 20:
        for i in range(len(classes)):
            for j in range(len(classes)):
                ax.text(j, i, str(matrix[i, j]), ha="center", va="center", fontsize=8,
                        color="white" if shares[i, j] > 0.5 else "black")
        ax.set_xticks(range(len(classes)), classes, rotation=45, ha="right", fontsize=8)
        ax.set_yticks(range(len(classes)), classes, fontsize=8)
    ax.set_xlabel("predicted class")
    ax.set_ylabel("true class")
    return save(fig, out / "test_confusion.png")


def mistakes(run: RunData, out: Path) -> Path | None:
    path = run.run_dir / PREDICTIONS
    if not path.is_file():
        return None
    data = np.load(path)
    index, images = data["mistake_index"], data["mistake_images"]
    if not len(index):
        return None
    classes = [str(c) for c in data["classes"]]
    true, pred, conf = data["labels"][index], data["predicted"][index], data["confidence"][index]
    titles = [f"{classes[p]} {c:.2f}\n(is {classes[t]})" for t, p, c in zip(true, pred, conf, strict=True)]
    title = "Most confident test mistakes: predicted class, its probability (true class)"
    if len(classes) == 2:  # false positives (the second class predicted) beside false negatives
        groups = []
        for wanted, name in ((1, f"False positives (predicted {classes[1]})"),
                             (0, f"False negatives (predicted {classes[0]})")):
            picked = np.nonzero(pred == wanted)[0][:16]
            groups.append((images[picked], [titles[i] for i in picked], name))
        return _grids(groups, out / "test_mistakes.png", columns=4)
    return _grid(images, titles, title, out / "test_mistakes.png")


DATA = (first_batch,)
EVALUATION = (confusion, mistakes)
