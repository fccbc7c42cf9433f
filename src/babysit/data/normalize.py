"""Zero-centring and scaling with per-channel statistics of the training split."""

import torch

from babysit.errors import BabysitError

MODES = ("none", "mean", "meanstd")


class Normalizer:
    def __init__(self, mode: str, mean: torch.Tensor, std: torch.Tensor):
        """`mean` and `std`: per-channel statistics of the training images (used as the mode says)."""
        if mode not in MODES:
            raise BabysitError(f"data.normalize={mode!r} must be one of {', '.join(MODES)}")
        self.mode = mode
        c = len(mean)
        self.mean = mean.reshape(1, c, 1, 1).clone() if mode != "none" else torch.zeros(1, c, 1, 1)
        self.std = std.reshape(1, c, 1, 1).clamp_min(1e-6) if mode == "meanstd" else torch.ones(1, c, 1, 1)

    @classmethod
    def of(cls, mode: str, train_x: torch.Tensor) -> "Normalizer":
        """From the training images themselves (N, C, H, W)."""
        return cls(mode, train_x.mean(dim=(0, 2, 3)), train_x.std(dim=(0, 2, 3)))

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        if self.mode == "none":
            return x
        if self.mean.device != x.device:
            self.mean, self.std = self.mean.to(x.device), self.std.to(x.device)
        if self.mode == "mean":
            return x - self.mean
        return (x - self.mean) / self.std

    def as_dict(self) -> dict:
        return {"mode": self.mode, "mean": self.mean.flatten().tolist(), "std": self.std.flatten().tolist()}
