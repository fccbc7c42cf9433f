"""Per-sample data augmentation on whole batches of image tensors.

A torchvision v2 transform called on a batch draws one set of random parameters for
every image in it; here each image gets its own crop offset, flip, affine warp and
colour jitter, computed for the whole batch at once.
"""

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F


@dataclass
class BatchAugment:
    crop_pad: int = 0  # random crop after zero padding by this many pixels
    hflip: bool = False  # random horizontal flip (only where the data allows it)
    degrees: float = 0.0  # small affine: rotation in ±degrees
    translate: float = 0.0  # … shift by up to this fraction of the size
    scale: tuple[float, float] = (1.0, 1.0)  # … zoom in this range
    brightness: float = 0.0  # colour jitter, colour images only
    contrast: float = 0.0
    saturation: float = 0.0

    @property
    def active(self) -> bool:
        return bool(
            self.crop_pad or self.hflip or self.degrees or self.translate
            or tuple(self.scale) != (1.0, 1.0) or self.brightness or self.contrast or self.saturation
        )

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        if self.hflip:
            x = flip(x)
        if self.crop_pad:
            x = random_crop(x, self.crop_pad)
        if self.degrees or self.translate or tuple(self.scale) != (1.0, 1.0):
            x = random_affine(x, self.degrees, self.translate, self.scale)
        if x.shape[1] == 3 and (self.brightness or self.contrast or self.saturation):
            x = colour_jitter(x, self.brightness, self.contrast, self.saturation)
        return x


def _uniform(n: int, low: float, high: float, like: torch.Tensor) -> torch.Tensor:
    return torch.empty(n, device=like.device, dtype=like.dtype).uniform_(low, high)


def flip(x: torch.Tensor) -> torch.Tensor:
    mask = torch.rand(x.shape[0], device=x.device) < 0.5
    return torch.where(mask[:, None, None, None], x.flip(-1), x)


def random_crop(x: torch.Tensor, pad: int) -> torch.Tensor:
    n, c, h, w = x.shape
    padded = F.pad(x, (pad, pad, pad, pad))
    dy = torch.randint(0, 2 * pad + 1, (n,), device=x.device)
    dx = torch.randint(0, 2 * pad + 1, (n,), device=x.device)
    rows = (dy[:, None] + torch.arange(h, device=x.device))[:, None, :, None]
    cols = (dx[:, None] + torch.arange(w, device=x.device))[:, None, None, :]
    batch = torch.arange(n, device=x.device)[:, None, None, None]
    chans = torch.arange(c, device=x.device)[None, :, None, None]
    return padded[batch, chans, rows, cols]


def random_affine(x, degrees: float, translate: float, scale) -> torch.Tensor:
    n = x.shape[0]
    angle = _uniform(n, -degrees, degrees, x) * (math.pi / 180)
    zoom = _uniform(n, scale[0], scale[1], x)
    # affine_grid maps output to input coordinates in [-1, 1]: a shift of 2·t spans t of the size
    tx, ty = (_uniform(n, -2 * translate, 2 * translate, x) for _ in range(2))
    cos, sin = torch.cos(angle) / zoom, torch.sin(angle) / zoom
    theta = torch.stack([torch.stack([cos, -sin, tx], 1), torch.stack([sin, cos, ty], 1)], 1)
    grid = F.affine_grid(theta, list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def colour_jitter(x, brightness: float, contrast: float, saturation: float) -> torch.Tensor:
    n = x.shape[0]
    if brightness:
        x = x * _uniform(n, 1 - brightness, 1 + brightness, x)[:, None, None, None]
    if contrast:
        mean = grey(x).mean(dim=(1, 2, 3), keepdim=True)
        x = (x - mean) * _uniform(n, 1 - contrast, 1 + contrast, x)[:, None, None, None] + mean
    if saturation:
        g = grey(x)
        x = (x - g) * _uniform(n, 1 - saturation, 1 + saturation, x)[:, None, None, None] + g
    return x.clamp(0, 1)


def grey(x: torch.Tensor) -> torch.Tensor:
    r, g, b = x[:, 0:1], x[:, 1:2], x[:, 2:3]
    return 0.299 * r + 0.587 * g + 0.114 * b
