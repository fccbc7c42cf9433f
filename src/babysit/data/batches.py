"""Mini-batches of in-memory tensors by index slicing (no per-sample collation)."""

import torch


class TensorBatches:
    """An iterable of (x, y) mini-batches, reshuffled each pass with the global torch RNG.

    Under DDP every rank draws the same permutation (same seed) and takes its own
    stride of it, so the ranks see disjoint batches.
    """

    def __init__(self, x, y, batch_size: int, shuffle: bool, drop_last: bool = False,
                 rank: int = 0, world_size: int = 1):
        self.x, self.y = x, y
        self.batch_size = batch_size
        self.shuffle, self.drop_last = shuffle, drop_last
        self.rank, self.world_size = rank, world_size

    def _shard_size(self) -> int:
        n = len(self.y)
        return n // self.world_size if self.world_size > 1 else n

    def __len__(self) -> int:
        n = self._shard_size()
        if self.drop_last:
            return n // self.batch_size
        return -(-n // self.batch_size)

    def __iter__(self):
        n = len(self.y)
        order = torch.randperm(n) if self.shuffle else None
        if self.world_size > 1:
            full = order if order is not None else torch.arange(n)
            order = full[self.rank : self._shard_size() * self.world_size : self.world_size]
        for b in range(len(self)):
            sl = slice(b * self.batch_size, (b + 1) * self.batch_size)
            if order is None:
                yield self.x[sl], self.y[sl]
            else:
                idx = order[sl]
                yield self.x[idx], self.y[idx]
