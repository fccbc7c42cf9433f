"""Where a batch keeps its inputs and targets, whatever its shape: a tuple/list (x, y, …) or a
dict ({"image": x, "label": y, …}). The checks read, replace and regroup examples through it."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import torch

from babysit.errors import BabysitError

INPUT_NAMES = ("x", "input", "inputs", "image", "images")
TARGET_NAMES = ("y", "target", "targets", "label", "labels")


@dataclass(frozen=True)
class BatchFormat:
    input_key: str | int | None = None  # None: item 0 of a tuple, or the first of INPUT_NAMES in a dict
    target_key: str | int | None = None

    def _key(self, batch, given, names: tuple[str, ...], position: int, what: str):
        if isinstance(batch, Mapping):
            if given is not None:
                if given not in batch:
                    raise BabysitError(f"the batches are dicts without the key {given!r} (keys: {_keys(batch)}): "
                                       f"set babysit.batch.{what}_key to the key of the {what}s")
                return given
            found = next((n for n in names if n in batch), None)
            if found is None:
                raise BabysitError(f"cannot tell which key of the batch dicts holds the {what}s (keys: "
                                   f"{_keys(batch)}): set babysit.batch.{what}_key, e.g. Babysitter(batch="
                                   f"{{'{what}_key': '{next(iter(batch))}'}})")
            return found
        if isinstance(batch, Sequence) and not isinstance(batch, str) and len(batch) >= 2:
            key = position if given is None else given
            if not isinstance(key, int) or not -len(batch) <= key < len(batch):
                raise BabysitError(f"the batches are {type(batch).__name__}s of {len(batch)} items: "
                                   f"babysit.batch.{what}_key must be a position in them, not {given!r}")
            return key
        raise BabysitError(f"a batch is a {type(batch).__name__}: the preflight needs (inputs, targets, …) tuples or "
                           "dicts holding inputs and targets")

    def inputs(self, batch) -> torch.Tensor:
        return _tensor(batch[self._key(batch, self.input_key, INPUT_NAMES, 0, "input")], "inputs")

    def targets(self, batch) -> torch.Tensor:
        return _tensor(batch[self._key(batch, self.target_key, TARGET_NAMES, 1, "target")], "targets")

    def with_inputs(self, batch, x: torch.Tensor):
        """The same batch with other inputs."""
        key = self._key(batch, self.input_key, INPUT_NAMES, 0, "input")
        if isinstance(batch, Mapping):
            return {**batch, key: x}
        items = list(batch)
        items[key] = x
        return type(batch)(items) if isinstance(batch, tuple) else items

    def size(self, batch) -> int:
        return len(self.targets(batch))

    def take(self, batch, idx: torch.Tensor):
        """The examples at `idx`: every per-example field (a tensor or list as long as the batch) is indexed."""
        n = self.size(batch)
        return _map(batch, lambda v: _index(v, idx, n))

    def concat(self, batches: list):
        """One batch of all the examples of `batches` (per-example fields joined, others from the first)."""
        first = batches[0]
        sizes = [self.size(b) for b in batches]

        def join(values):
            if isinstance(values[0], torch.Tensor) and all(len(v) == s for v, s in zip(values, sizes, strict=True)):
                return torch.cat(values)
            if isinstance(values[0], list) and all(len(v) == s for v, s in zip(values, sizes, strict=True)):
                return [item for v in values for item in v]
            return values[0]

        if isinstance(first, Mapping):
            return {k: join([b[k] for b in batches]) for k in first}
        joined = [join([b[i] for b in batches]) for i in range(len(first))]
        return tuple(joined) if isinstance(first, tuple) else joined


def _keys(batch: Mapping) -> str:
    return ", ".join(map(str, list(batch)[:8]))


def _tensor(value, what: str) -> torch.Tensor:
    if not isinstance(value, torch.Tensor):
        raise BabysitError(f"the batch's {what} are a {type(value).__name__}, not a tensor: set babysit.batch."
                           f"{what[:-1]}_key to the field that holds them")
    return value


def _index(value, idx: torch.Tensor, n: int):
    if isinstance(value, torch.Tensor) and value.ndim and len(value) == n:
        return value[idx.to(value.device)]
    if isinstance(value, list) and len(value) == n:
        return [value[int(i)] for i in idx]
    return value


def _map(batch, fn):
    if isinstance(batch, Mapping):
        return {k: fn(v) for k, v in batch.items()}
    items = [fn(v) for v in batch]
    return tuple(items) if isinstance(batch, tuple) else items
