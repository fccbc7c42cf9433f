"""One LightningDataModule for every source: data kept in memory as tensors."""

from collections.abc import Callable

import lightning.pytorch as pl
import torch
import torch.nn.functional as F

from babysit.data.augment import BatchAugment
from babysit.data.batches import TensorBatches
from babysit.data.normalize import Normalizer
from babysit.data.sources import Images
from babysit.data.split import carve_val, check_fractions, stratified_split
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
    ):
        super().__init__()
        if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size <= 0:
            raise BabysitError(f"data.batch_size={batch_size!r} must be a whole number above 0")
        check_fractions(dict(split))
        self.source, self.name, self.root = source, name, root
        self.num_classes, self.channels, self.image_size = num_classes, channels, image_size
        self.batch_size, self.eval_batch_size = batch_size, eval_batch_size
        self.split, self.split_seed = dict(split), split_seed
        self.normalize_mode = normalize
        self.augment = augment if augment is not None and augment.active else None
        if self.augment is not None and not hflip_ok:
            self.augment.hflip = False
        self.splits: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}
        self.classes: list[str] = []
        self.normalizer: Normalizer | None = None

    @property
    def in_shape(self) -> tuple[int, int, int]:
        return (self.channels, self.image_size, self.image_size)

    def setup(self, stage: str | None = None) -> None:
        if self.splits:
            return
        images = self.source()
        self._check(images)
        x = self._resize(images.x)
        split = stratified_split if images.test is None else carve_val
        idx = split(images.y, self.split, self.split_seed)
        self.splits = {k: (x[i], images.y[i]) for k, i in idx.items()}
        if images.test is not None:
            tx, ty = images.test
            self._check_finite(tx, images.origin + " (test set)")
            self.splits["test"] = (self._resize(tx), ty)
        self.classes = images.classes
        self.normalizer = Normalizer(self.normalize_mode, self.splits["train"][0])

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
