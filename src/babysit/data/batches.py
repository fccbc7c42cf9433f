"""Mini-batches of in-memory tensors by index slicing (no per-sample collation)."""

import torch


class TensorBatches:
    """An iterable of (x, y) mini-batches, reshuffled each pass with the global torch RNG.

    Under DDP every rank draws the same permutation (same seed) and takes its own stride of it,
    so the ranks see disjoint batches: batch b of all ranks together is batch b of a single
    process with world_size × batch_size. Shuffled (training) passes give every rank the same
    number of samples, leaving out the last len % world_size of the permutation, as
    DistributedSampler(drop_last=True) does; unshuffled (evaluation) passes cover every sample
    exactly once, so ranks may differ by one sample.
    """

    def __init__(self, x, y, batch_size: int, shuffle: bool, drop_last: bool = False,
                 rank: int = 0, world_size: int = 1):
        self.x, self.y = x, y
        self.batch_size = batch_size
        self.shuffle, self.drop_last = shuffle, drop_last
        self.rank, self.world_size = rank, world_size
        self._order: torch.Tensor | None = None  # the current pass's permutation (before sharding)
        self._given = 0  # batches handed out in the current pass
        self._resume: dict | None = None

    def _shard_size(self) -> int:
        n = len(self.y)
        if self.world_size == 1:
            return n
        if self.shuffle:
            return n // self.world_size
        return len(range(self.rank, n, self.world_size))

    def __len__(self) -> int:
        n = self._shard_size()
        if self.drop_last:
            return n // self.batch_size
        return -(-n // self.batch_size)

    def state_dict(self) -> dict:
        """A pass in progress (Lightning saves it in a checkpoint taken mid-epoch): its order and how
        many batches it handed out. Lightning knows len(), so it fetches no batch ahead of training."""
        if self._order is None or self._given >= len(self):
            return {}
        return {"order": self._order, "given": self._given}

    def load_state_dict(self, state: dict) -> None:
        """The next pass continues the saved one instead of drawing a new order."""
        self._resume = dict(state) if state else None

    def __iter__(self):
        n = len(self.y)
        start = 0
        if self._resume is not None:
            order, start, self._resume = self._resume["order"], self._resume["given"], None
        else:
            order = torch.randperm(n) if self.shuffle else None
        self._order, self._given = order, start
        if self.world_size > 1:
            full = order if order is not None else torch.arange(n)
            order = full[self.rank::self.world_size][:self._shard_size()]
        for b in range(start, len(self)):
            self._given = b + 1
            sl = slice(b * self.batch_size, (b + 1) * self.batch_size)
            if order is None:
                yield self.x[sl], self.y[sl]
            else:
                idx = order[sl]
                yield self.x[idx], self.y[idx]
