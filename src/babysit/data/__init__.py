from babysit.data.augment import BatchAugment
from babysit.data.datamodule import InMemoryDataModule
from babysit.data.folder_module import folder_datamodule
from babysit.data.streaming import StreamingDataModule

__all__ = ["BatchAugment", "InMemoryDataModule", "StreamingDataModule", "folder_datamodule"]
