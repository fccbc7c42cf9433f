"""One LightningDataModule for every source: data kept in memory as tensors."""

from collections.abc import Callable

import lightning.pytorch as pl
import torch
import torch.nn.functional as F

from babysit.data.augment import BatchAugment
from babysit.data.batches import TensorBatches
from babysit.data.normalize import Normalizer
from babysit.data.sources import Images
from babysit.data.split import check_fractions, kfold, split_off
from babysit.errors import BabysitError


class InMemoryDataModule(pl.LightningDataModule):
    """Loads a source once, resizes, splits (stratified, seeded), normalises with train
    statistics, and serves batches by slicing; augmentation runs batched on the device."""

    def __init__(
        self,
        source: Callable[[], Images],
        name: str,
        num_classes: int,
        channels: int,
        image_size: int,
        batch_size: int,
        split: dict,
        split_seed: int = 0,
        normalize: str = "meanstd",
        augment: BatchAugment | None = None,
        hflip_ok: bool = True,
        eval_batch_size: int = 1024,
        root: str | None = None,
        cv_fold: int | None = None,
        cv_folds: int = 0,
        cv_seed: int = 0,
    ):
        super().__init__()
        if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size <= 0:
            raise BabysitError(f"data.batch_size={batch_size!r} must be a whole number above 0")
        check_fractions(dict(split))
        self.source, self.name, self.root = source, name, root
        self.num_classes, self.channels, self.image_size = num_classes, channels, image_size
        self.batch_size, self.eval_batch_size = batch_size, eval_batch_size
        self.split, self.split_seed = dict(split), split_seed
        self.cv_fold, self.cv_folds, self.cv_seed = cv_fold, cv_folds, cv_seed
        self.normalize_mode = normalize
        self.augment = augment if augment is not None and augment.active else None
        if self.augment is not None and not hflip_ok:
            self.augment.hflip = False
        self.splits: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}
        self.classes: list[str] = []
        self.notes: dict = {}
        self.normalizer: Normalizer | None = None

    @property
    def in_shape(self) -> tuple[int, int, int]:
        return (self.channels, self.image_size, self.image_size)

    def setup(self, stage: str | None = None) -> None:
        if self.splits:
            return
        images = self.source()
        self._check(images)
        self.classes, self.notes = images.classes, images.notes
        self.splits = self._split(images)
        self.normalizer = Normalizer(self.normalize_mode, self.splits["train"][0])

    def _split(self, images: Images) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
        """train/val/test: the source's own val and test sets where it has them, stratified
        seeded fractions otherwise; under cross-validation, fold `cv_fold` of train+val is val."""
        parts = {"train": (self._resize(images.x), images.y)}
        for name in ("val", "test"):
            given = getattr(images, name)
            if given is not None:
                self._check_finite(given[0], f"{images.origin} ({name} set)")
                parts[name] = (self._resize(given[0]), given[1])
        if "test" not in parts:
            x, y = parts["train"]
            keep, off = (torch.arange(len(y)), torch.arange(0))
            if self.split["test"] > 0:
                keep, off = split_off(y, self.split["test"], self.split_seed, "the data into train+val / test")
            parts["train"], parts["test"] = (x[keep], y[keep]), (x[off], y[off])
        if self.cv_fold is not None:
            pool = [parts.pop(k) for k in ("train", "val") if k in parts]
            x, y = torch.cat([p[0] for p in pool]), torch.cat([p[1] for p in pool])
            train, val = kfold(y, self.cv_fold, self.cv_folds, self.cv_seed, images.classes)
            parts["train"], parts["val"] = (x[train], y[train]), (x[val], y[val])
        elif "val" not in parts:
            x, y = parts["train"]
            val_share = self.split["val"] / (self.split["train"] + self.split["val"])
            keep, off = split_off(y, val_share, self.split_seed, "the training set into train / val")
            parts["train"], parts["val"] = (x[keep], y[keep]), (x[off], y[off])
        return {k: parts[k] for k in ("train", "val", "test")}

    def _check(self, images: Images) -> None:
        found = len(images.classes)
        if found != self.num_classes:
            raise BabysitError(
                f"data.num_classes={self.num_classes} but {images.origin} has {found} classes "
                f"({', '.join(map(str, images.classes[:10]))}): set data.num_classes={found}"
            )
        if images.x.shape[1] != self.channels:
            raise BabysitError(
                f"data.channels={self.channels} but {images.origin} has {images.x.shape[1]} channels"
            )
        self._check_finite(images.x, images.origin)

    @staticmethod
    def _check_finite(x: torch.Tensor, origin: str) -> None:
        bad = (~torch.isfinite(x)).flatten(1).any(1)
        if bad.any():
            raise BabysitError(
                f"{origin} holds NaN/inf values in {int(bad.sum())} image(s) (first at index "
                f"{int(bad.nonzero()[0])}): clean or drop them"
            )

    def _resize(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-1] == self.image_size and x.shape[-2] == self.image_size:
            return x
        size = (self.image_size, self.image_size)
        return F.interpolate(x, size=size, mode="bilinear", antialias=True, align_corners=False)

    def sizes(self) -> dict[str, int]:
        return {k: len(v[1]) for k, v in self.splits.items()}

    def prepare_batch(self, x: torch.Tensor, train: bool) -> torch.Tensor:
        """Augment (training batches only), then normalise with the train statistics."""
        if train and self.augment is not None:
            x = self.augment(x)
        return self.normalizer(x)

    def on_after_batch_transfer(self, batch, dataloader_idx: int):
        x, y = batch
        training = self.trainer is not None and self.trainer.training
        return self.prepare_batch(x, training), y

    def batches(self, split: str, shuffle: bool = False, batch_size: int | None = None) -> TensorBatches:
        x, y = self.splits[split]
        trainer = self.trainer
        rank, world = (trainer.global_rank, trainer.world_size) if trainer is not None else (0, 1)
        size = batch_size or (self.batch_size if shuffle else self.eval_batch_size)
        return TensorBatches(x, y, size, shuffle=shuffle, rank=rank, world_size=world)

    def train_dataloader(self):
        return self.batches("train", shuffle=True)

    def val_dataloader(self):
        return self.batches("val")

    def test_dataloader(self):
        return self.batches("test")
