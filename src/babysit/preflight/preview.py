"""A training batch as the network sees it, kept for the report's grid of images."""

from pathlib import Path

import numpy as np
import torch

from babysit.atomic import write_npz
from babysit.run_files import PREVIEW

SHOWN = 32


def save_preview(out_dir: Path, x: torch.Tensor, y: torch.Tensor, classes: list) -> Path | None:
    """The first SHOWN images of an image batch (N × C × H × W), each scaled to [0, 255] for display;
    nothing for inputs that are not images."""
    if x.ndim != 4 or x.shape[1] not in (1, 3):
        return None
    x = x[:SHOWN].detach().float().cpu()
    lo = x.flatten(1).min(1).values.view(-1, 1, 1, 1)
    hi = x.flatten(1).max(1).values.view(-1, 1, 1, 1)
    pixels = ((x - lo) / (hi - lo).clamp_min(1e-12) * 255).round().to(torch.uint8).permute(0, 2, 3, 1).numpy()
    return write_npz(out_dir / PREVIEW, images=pixels, labels=y[:SHOWN].cpu().numpy(),
                     classes=np.asarray([str(c) for c in classes]))
