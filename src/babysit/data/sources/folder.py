"""Your own images: one sub-folder per class (e.g. face/ and nonface/). The class names and
their number come from the sub-folders, the channels from the images (grey or colour)."""

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from babysit.data.sources.base import Images, to_float_images
from babysit.errors import BabysitError

GREY_MODES = {"1", "L", "LA", "I", "I;16", "I;16B", "I;16L", "F"}
MODES = {1: "L", 3: "RGB"}


@dataclass
class FolderListing:
    root: str
    files: list[str]
    targets: torch.Tensor
    classes: list[str]
    channels: int  # 1 grey, 3 colour


def list_folder(root: str, channels: int | None = None) -> FolderListing:
    """The images of a class-per-sub-folder tree, their labels, and (channels=None) whether any is in colour."""
    from torchvision.datasets.folder import IMG_EXTENSIONS, make_dataset

    path = Path(root)
    if not path.is_dir():
        raise BabysitError(f"data.root={root} is not a folder: point it at a folder of class sub-folders")
    classes = sorted(d.name for d in path.iterdir() if d.is_dir() and not d.name.startswith("."))
    if len(classes) < 2:
        raise BabysitError(
            f"data.root={root} holds {len(classes)} class folder(s) {classes}: "
            "make one sub-folder per class, at least two (e.g. face/ and nonface/)"
        )
    if channels is not None and channels not in MODES:
        raise BabysitError(f"data.channels={channels} must be 1 (grey) or 3 (colour), or null to take it from "
                           "the images")
    to_index = {c: i for i, c in enumerate(classes)}
    try:
        samples = make_dataset(str(path), to_index, extensions=IMG_EXTENSIONS, allow_empty=True)
    except (FileNotFoundError, OSError) as e:
        raise BabysitError(f"cannot list images in data.root={root}: {e}") from e
    counts = np.bincount([t for _, t in samples], minlength=len(classes))
    empty = [c for c, n in zip(classes, counts, strict=True) if n == 0]
    if empty:
        raise BabysitError(f"class folder(s) {empty} in {root} hold no images ({', '.join(IMG_EXTENSIONS)})")
    files = [f for f, _ in samples]
    modes = [_mode(f) for f in files]  # every header, so that an unreadable file stops the run before training
    if channels is None:
        channels = 3 if any(m not in GREY_MODES for m in modes) else 1
    return FolderListing(root, files, torch.as_tensor([t for _, t in samples], dtype=torch.int64), classes, channels)


def _mode(file: str) -> str:
    """The image's colour mode, read from its header only."""
    try:
        with Image.open(file) as im:
            return im.mode
    except (UnidentifiedImageError, OSError, ValueError) as e:
        raise BabysitError(f"cannot read image {file} ({type(e).__name__}): remove or replace it") from e


def load_image(file: str, size: int, channels: int) -> np.ndarray:
    """One image as uint8 (size, size, channels), resized bilinearly."""
    try:
        with Image.open(file) as im:
            im = im.convert(MODES[channels]).resize((size, size), Image.Resampling.BILINEAR)
            return np.array(im).reshape(size, size, channels)
    except (UnidentifiedImageError, OSError, ValueError) as e:
        raise BabysitError(f"cannot read image {file} ({type(e).__name__}): remove or replace it") from e


def image_folder(root: str, size: int, channels: int | None = None) -> Images:
    listing = list_folder(root, channels)
    c = listing.channels
    images = np.empty((len(listing.files), size, size, c), dtype=np.uint8)
    for i, file in enumerate(listing.files):
        images[i] = load_image(file, size, c)
    x = to_float_images(images if c == 3 else images[..., 0], 255.0)
    return Images(x, listing.targets, listing.classes, f"image folder {root}")
