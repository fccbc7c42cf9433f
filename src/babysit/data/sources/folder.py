"""Your own images: one sub-folder per class (e.g. face/ and nonface/)."""

from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from babysit.data.sources.base import Images, to_float_images
from babysit.errors import BabysitError


def image_folder(root: str, size: int, channels: int = 1) -> Images:
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
    to_index = {c: i for i, c in enumerate(classes)}
    try:
        samples = make_dataset(str(path), to_index, extensions=IMG_EXTENSIONS, allow_empty=True)
    except (FileNotFoundError, OSError) as e:
        raise BabysitError(f"cannot list images in data.root={root}: {e}") from e
    counts = np.bincount([t for _, t in samples], minlength=len(classes))
    empty = [c for c, n in zip(classes, counts, strict=True) if n == 0]
    if empty:
        raise BabysitError(f"class folder(s) {empty} in {root} hold no images ({', '.join(IMG_EXTENSIONS)})")
    mode = {1: "L", 3: "RGB"}.get(channels)
    if mode is None:
        raise BabysitError(f"data.channels={channels} must be 1 (grey) or 3 (colour)")
    images = np.empty((len(samples), size, size, channels), dtype=np.uint8)
    for i, (file, _) in enumerate(samples):
        try:
            with Image.open(file) as im:
                im = im.convert(mode).resize((size, size), Image.Resampling.BILINEAR)
                images[i] = np.asarray(im).reshape(size, size, channels)
        except (UnidentifiedImageError, OSError, ValueError) as e:
            raise BabysitError(f"cannot read image {file} ({type(e).__name__}): remove or replace it") from e
    targets = torch.as_tensor([t for _, t in samples], dtype=torch.int64)
    x = to_float_images(images if channels == 3 else images[..., 0], 255.0)
    return Images(x, targets, classes, f"image folder {root}")
