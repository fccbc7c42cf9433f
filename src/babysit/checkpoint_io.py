"""Checkpoints written so that a kill or a full disk during the write leaves the previous file readable.

Lightning's own save stages the file in the system's temporary folder and moves it over; when that
folder is on another disk (a tmpfs /tmp), the move is a copy straight into the target, and a kill
half-way leaves a truncated last.ckpt. Here the temporary file sits beside the target and is renamed."""

from typing import Any

import torch
from lightning.pytorch.plugins.io import TorchCheckpointIO

from babysit.atomic import atomic_write


class AtomicCheckpointIO(TorchCheckpointIO):
    def save_checkpoint(self, checkpoint: dict[str, Any], path, storage_options: Any | None = None) -> None:
        if storage_options is not None:
            raise TypeError(f"{type(self).__name__} takes no storage_options")
        atomic_write(path, lambda f: torch.save(checkpoint, f))
