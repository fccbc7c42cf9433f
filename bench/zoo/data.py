"""Data that carries a classic bug, as sources for `data.source._target_=bench.zoo.data.X
+data.source.name=faces` (the wrapped source: faces or digits)."""

import torch

from babysit.data.sources import Images, digits, faces

SOURCES = {"faces": faces, "digits": digits}


def shuffled_labels(name: str = "faces") -> Images:
    """Labels that do not belong to their images (a misaligned label file)."""
    images = SOURCES[name]()
    images.y = images.y[torch.randperm(len(images.y), generator=torch.Generator().manual_seed(0))]
    return images


def duplicated(name: str = "faces", noise: float = 0.0) -> Images:
    """Every image twice (with a little noise: near copies), so that the test split holds copies of
    training images."""
    images = SOURCES[name]()
    g = torch.Generator().manual_seed(0)
    copies = (images.x + noise * torch.randn(images.x.shape, generator=g)).clamp(0, 1)
    images.x, images.y = torch.cat([images.x, copies]), torch.cat([images.y, images.y])
    return images


def raw_pixels(name: str = "faces") -> Images:
    """Pixels in 0..255 (with data.normalize=none: never scaled)."""
    images = SOURCES[name]()
    images.x = images.x * 255
    return images


def imbalanced(name: str = "faces", ratio: int = 9) -> Images:
    """One class `ratio` times as frequent as each of the others."""
    images = SOURCES[name]()
    counts = torch.bincount(images.y)
    major = int(counts.argmax())
    keep = []
    for c in range(len(counts)):
        idx = (images.y == c).nonzero().flatten()
        keep.append(idx if c == major else idx[: max(2, int(counts[major]) // ratio)])
    idx = torch.cat(keep).sort().values
    images.x, images.y = images.x[idx], images.y[idx]
    return images
