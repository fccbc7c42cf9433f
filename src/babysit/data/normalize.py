"""Zero-centring and scaling with per-channel statistics of the training split."""

import torch

from babysit.errors import BabysitError

MODES = ("none", "mean", "meanstd")


class Normalizer:
    def __init__(self, mode: str, train_x: torch.Tensor):
        if mode not in MODES:
            raise BabysitError(f"data.normalize={mode!r} must be one of {', '.join(MODES)}")
        self.mode = mode
        c = train_x.shape[1]
        self.mean = train_x.mean(dim=(0, 2, 3)).view(1, c, 1, 1) if mode != "none" else torch.zeros(1, c, 1, 1)
        std = train_x.std(dim=(0, 2, 3)).view(1, c, 1, 1) if mode == "meanstd" else torch.ones(1, c, 1, 1)
        self.std = std.clamp_min(1e-6)

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
