from babysit.data.augment import BatchAugment
from babysit.data.datamodule import InMemoryDataModule

__all__ = ["BatchAugment", "InMemoryDataModule"]
