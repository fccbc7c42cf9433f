"""data=folder: the images in memory (the default, for data that fits), or streamed from disk."""

from babysit.data.datamodule import InMemoryDataModule
from babysit.data.streaming import StreamingDataModule


def folder_datamodule(in_memory: bool = True, workers: int = 2, **settings):
    if in_memory:
        return InMemoryDataModule(**settings)
    settings.pop("source", None)  # the streaming module lists and reads the files itself
    return StreamingDataModule(workers=workers, **settings)
