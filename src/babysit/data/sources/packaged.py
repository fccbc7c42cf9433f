"""Data that ships inside installed packages: works offline with no download."""

import numpy as np
import torch

from babysit.data.sources.base import Images, to_float_images


def faces() -> Images:
    """scikit-image's LFW subset: 100 face and 100 non-face 25×25 grey patches."""
    from skimage.data import lfw_subset

    x = lfw_subset()  # first 100 are faces, last 100 are not
    y = np.r_[np.ones(100), np.zeros(100)].astype(np.int64)
    return Images(to_float_images(x, 1.0), torch.as_tensor(y), ["nonface", "face"], "skimage lfw_subset")


def digits() -> Images:
    """scikit-learn's 1797 handwritten digits, 8×8 grey, values 0..16."""
    from sklearn.datasets import load_digits

    d = load_digits()
    return Images(
        to_float_images(d.images, 16.0),
        torch.as_tensor(d.target, dtype=torch.int64),
        [str(i) for i in range(10)],
        "sklearn load_digits",
    )
