"""A folder of images too large for memory, streamed from disk through DataLoader workers.

Same splits (the same seeded indices as the in-memory path), normalisation statistics (one
streaming pass over the training images), batched per-sample augmentation and babysitting as
`InMemoryDataModule`; only the images stay on disk until a batch needs them.
"""

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset

from babysit.data.augment import BatchAugment
from babysit.data.datamodule import check_counts
from babysit.data.image_module import ImageDataModule
from babysit.data.normalize import Normalizer
from babysit.data.sources.folder import list_folder, load_image
from babysit.data.split import split_indices
from babysit.errors import BabysitError


class FolderImages(Dataset):
    """(image float C×H×W in [0, 1], label) of some files of a folder listing."""

    def __init__(self, files: list[str], targets: torch.Tensor, size: int, channels: int):
        self.files, self.targets, self.size, self.channels = files, targets, size, channels

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, i: int):
        pixels = load_image(self.files[i], self.size, self.channels)
        return torch.from_numpy(pixels).permute(2, 0, 1).float().div_(255.0), self.targets[i]


class StreamingDataModule(ImageDataModule):
    def __init__(self, root: str, name: str, num_classes: int | None, channels: int | None, image_size: int,
                 batch_size: int, split: dict, split_seed: int = 0, normalize: str = "meanstd",
                 augment: BatchAugment | None = None, hflip_ok: bool = True, eval_batch_size: int = 1024,
                 workers: int = 2, cv_fold: int | None = None, cv_folds: int = 0, cv_seed: int = 0, **unused):
        super().__init__(name, num_classes, channels, image_size, batch_size, split, split_seed, normalize, augment,
                         hflip_ok, eval_batch_size)
        if not isinstance(workers, int) or isinstance(workers, bool) or workers < 0:
            raise BabysitError(f"data.workers={workers!r} must be a whole number ≥ 0 (0: load in the main process)")
        self.root, self.workers = root, workers
        self.cv = (cv_fold, cv_folds, cv_seed) if cv_fold is not None else None
        self.parts: dict[str, FolderImages] = {}
        self.notes = {"streamed": True}

    def setup(self, stage: str | None = None) -> None:
        if self.parts:
            return
        listing = list_folder(self.root, self.channels)
        self.num_classes, self.channels = check_counts(self.num_classes, self.channels, listing.classes,
                                                       listing.channels, f"image folder {self.root}")
        self.classes = listing.classes
        parts = split_indices(listing.targets, self.split, self.split_seed, listing.classes, cv=self.cv)
        self.parts = {k: FolderImages([listing.files[i] for i in idx], listing.targets[idx], self.image_size,
                                      self.channels) for k, idx in parts.items()}
        mean, std = self._statistics()
        self.normalizer = Normalizer(self.normalize_mode, mean, std)

    def _loader(self, split: str, batch_size: int, shuffle: bool = False) -> DataLoader:
        workers = self.workers if len(self.parts[split]) > batch_size else 0  # a batch or less: no workers
        return DataLoader(self.parts[split], batch_size=batch_size, shuffle=shuffle, num_workers=workers,
                          persistent_workers=workers > 0 and shuffle, pin_memory=torch.cuda.is_available())

    def _statistics(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-channel mean and (unbiased) std of the training images, in one pass, in float64."""
        total = torch.zeros(self.channels, dtype=torch.float64)
        squares = torch.zeros(self.channels, dtype=torch.float64)
        count = 0
        for x, _ in self._loader("train", self.eval_batch_size):
            x = x.double()
            total += x.sum(dim=(0, 2, 3))
            squares += (x * x).sum(dim=(0, 2, 3))
            count += x.numel() // self.channels
        if not np.isfinite(total.sum().item()):
            raise BabysitError(f"image folder {self.root} holds NaN/inf pixel values: clean or drop those images")
        mean = total / count
        var = (squares - count * mean * mean) / max(1, count - 1)
        return mean.float(), var.clamp_min(0).sqrt().float()

    def sizes(self) -> dict[str, int]:
        return {k: len(v) for k, v in self.parts.items()}

    def labels(self, split: str) -> torch.Tensor:
        return self.parts[split].targets

    def examples(self, split: str, idx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        part = self.parts[split]
        images = [part[int(i)][0] for i in idx]
        return (torch.stack(images) if images else torch.empty(0, *self.in_shape)), part.targets[idx]

    def batches(self, split: str, shuffle: bool = False, batch_size: int | None = None) -> DataLoader:
        return self._loader(split, batch_size or (self.batch_size if shuffle else self.eval_batch_size), shuffle)
