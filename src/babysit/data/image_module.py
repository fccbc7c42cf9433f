"""What every image DataModule of babysit shares: the settings of a split image data set, the
batched augmentation and normalisation after a batch reaches the device, and the three loaders."""

import lightning.pytorch as pl
import torch

from babysit.data.augment import BatchAugment
from babysit.data.normalize import Normalizer
from babysit.data.split import check_fractions
from babysit.errors import BabysitError


class ImageDataModule(pl.LightningDataModule):
    """Subclasses load and split the images in `setup` (setting `classes`, `normalizer`) and serve
    them with `batches`, `labels`, `examples` and `sizes`."""

    def __init__(self, name: str, num_classes: int | None, channels: int | None, image_size: int, batch_size: int,
                 split: dict, split_seed: int, normalize: str, augment: BatchAugment | None, hflip_ok: bool,
                 eval_batch_size: int):
        super().__init__()
        if not isinstance(batch_size, int) or isinstance(batch_size, bool) or batch_size <= 0:
            raise BabysitError(f"data.batch_size={batch_size!r} must be a whole number above 0")
        check_fractions(dict(split))
        self.name = name
        self.num_classes, self.channels, self.image_size = num_classes, channels, image_size
        self.batch_size, self.eval_batch_size = batch_size, eval_batch_size
        self.split, self.split_seed = dict(split), split_seed
        self.normalize_mode = normalize
        self.augment = augment if augment is not None and augment.active else None
        if self.augment is not None and not hflip_ok:
            self.augment.hflip = False
        self.classes: list[str] = []
        self.notes: dict = {}
        self.normalizer: Normalizer | None = None

    @property
    def in_shape(self) -> tuple[int, int, int]:
        return (self.channels, self.image_size, self.image_size)

    def prepare_batch(self, x: torch.Tensor, train: bool) -> torch.Tensor:
        """Augment (training batches only), then normalise with the train statistics."""
        if train and self.augment is not None:
            x = self.augment(x)
        return self.normalizer(x)

    def on_after_batch_transfer(self, batch, dataloader_idx: int):
        x, y = batch
        training = self.trainer is not None and self.trainer.training
        return self.prepare_batch(x, training), y

    def train_dataloader(self):
        return self.batches("train", shuffle=True)

    def val_dataloader(self):
        return self.batches("val")

    def test_dataloader(self):
        return self.batches("test")
