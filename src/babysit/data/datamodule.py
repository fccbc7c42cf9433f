"""One LightningDataModule for every source: data kept in memory as tensors."""

from collections.abc import Callable

import torch
import torch.nn.functional as F

from babysit.data.augment import BatchAugment
from babysit.data.batches import TensorBatches
from babysit.data.image_module import ImageDataModule
from babysit.data.normalize import Normalizer
from babysit.data.sources import Images
from babysit.data.split import kfold, split_indices, split_off
from babysit.errors import BabysitError


class InMemoryDataModule(ImageDataModule):
    """Loads a source once, resizes, splits (stratified, seeded), normalises with train
    statistics, and serves batches by slicing; augmentation runs batched on the device."""

    def __init__(
        self,
        source: Callable[[], Images],
        name: str,
        num_classes: int | None,
        channels: int | None,
        image_size: int,
        batch_size: int,
        split: dict,
        split_seed: int = 0,
        normalize: str = "meanstd",
        augment: BatchAugment | None = None,
        hflip_ok: bool = True,
        eval_batch_size: int = 1024,
        root: str | None = None,
        download: bool = False,
        cv_fold: int | None = None,
        cv_folds: int = 0,
        cv_seed: int = 0,
    ):
        super().__init__(name, num_classes, channels, image_size, batch_size, split, split_seed, normalize, augment,
                         hflip_ok, eval_batch_size)
        # data.root and data.download are read by the source's config (${data.root}); kept for the record
        self.source, self.root, self.download = source, root, download
        self.cv_fold, self.cv_folds, self.cv_seed = cv_fold, cv_folds, cv_seed
        self.splits: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}

    def setup(self, stage: str | None = None) -> None:
        if self.splits:
            return
        images = self.source()
        self._check(images)
        self.classes, self.notes = images.classes, images.notes
        self.splits = self._split(images)
        self.normalizer = Normalizer.of(self.normalize_mode, self.splits["train"][0])

    def _split(self, images: Images) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
        """train/val/test: the source's own val and test sets where it has them, stratified
        seeded fractions otherwise; under cross-validation, fold `cv_fold` of train+val is val.
        Samples of one group (patches of one photo) stay on one side of every split."""
        x, y, groups = self._resize(images.x), images.y, images.groups
        given = {}
        for name in ("val", "test"):
            part = getattr(images, name)
            if part is not None:
                self._check_finite(part[0], f"{images.origin} ({name} set)")
                given[name] = (self._resize(part[0]), part[1])
        if not given:
            cv = (self.cv_fold, self.cv_folds, self.cv_seed) if self.cv_fold is not None else None
            parts = split_indices(y, self.split, self.split_seed, images.classes, groups.get("train"), cv)
            return {k: (x[parts[k]], y[parts[k]]) for k in ("train", "val", "test")}
        idx, out = torch.arange(len(y)), {}
        if "test" in given:
            out["test"] = given["test"]
        else:
            off = torch.arange(0)
            if self.split["test"] > 0:
                idx, off = split_off(y, idx, self.split["test"], self.split_seed, "the data into train+val / test",
                                     groups.get("train"))
            out["test"] = _take(x, y, off)
        if self.cv_fold is not None:
            pool_x, pool_y, pool_g = x[idx], y[idx], groups["train"][idx] if "train" in groups else None
            if "val" in given:
                pool_x, pool_y = torch.cat([pool_x, given["val"][0]]), torch.cat([pool_y, given["val"][1]])
                pool_g = torch.cat([pool_g, groups["val"]]) if pool_g is not None and "val" in groups else None
            train, val = kfold(pool_y, self.cv_fold, self.cv_folds, self.cv_seed, images.classes, pool_g)
            out["train"], out["val"] = _take(pool_x, pool_y, train), _take(pool_x, pool_y, val)
        elif "val" in given:
            out["train"], out["val"] = _take(x, y, idx), given["val"]
        else:
            val_share = self.split["val"] / (self.split["train"] + self.split["val"])
            keep, off = split_off(y, idx, val_share, self.split_seed, "the training set into train / val",
                                  groups.get("train"))
            out["train"], out["val"] = _take(x, y, keep), _take(x, y, off)
        return {k: out[k] for k in ("train", "val", "test")}

    def _check(self, images: Images) -> None:
        self.num_classes, self.channels = check_counts(self.num_classes, self.channels, images.classes,
                                                       images.x.shape[1], images.origin)
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

    def labels(self, split: str) -> torch.Tensor:
        return self.splits[split][1]

    def examples(self, split: str, idx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The raw (unnormalised) images and labels at positions `idx` of a split."""
        x, y = self.splits[split]
        return x[idx], y[idx]

    def sizes(self) -> dict[str, int]:
        return {k: len(v[1]) for k, v in self.splits.items()}

    def batches(self, split: str, shuffle: bool = False, batch_size: int | None = None) -> TensorBatches:
        x, y = self.splits[split]
        trainer = self.trainer
        rank, world = (trainer.global_rank, trainer.world_size) if trainer is not None else (0, 1)
        size = batch_size or (self.batch_size if shuffle else self.eval_batch_size)
        return TensorBatches(x, y, size, shuffle=shuffle, rank=rank, world_size=world)


def check_counts(num_classes: int | None, channels: int | None, classes: list, found_channels: int,
                 origin: str) -> tuple[int, int]:
    """The data's classes and channels; given ones (not null) must agree with what the data holds."""
    if num_classes is not None and num_classes != len(classes):
        raise BabysitError(
            f"data.num_classes={num_classes} but {origin} has {len(classes)} classes "
            f"({', '.join(map(str, classes[:10]))}): set data.num_classes={len(classes)} or null"
        )
    if channels is not None and channels != found_channels:
        raise BabysitError(f"data.channels={channels} but {origin} has {found_channels} channels: set "
                           f"data.channels={found_channels} or null")
    return len(classes), found_channels


def _take(x: torch.Tensor, y: torch.Tensor, idx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The samples at `idx`, in their original order."""
    idx = idx.sort().values
    return x[idx], y[idx]
