"""Writes that lose nothing: the new content goes to a temporary file beside the target, is flushed
to disk, and replaces the target in one rename. A full disk, an error or a kill half-way leaves the
previous version as it was (and no temporary file behind, except after a kill)."""

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO


def atomic_write(path: str | Path, write: Callable[[BinaryIO], object]) -> Path:
    """`write(f)` into a temporary file in `path`'s folder, then rename it onto `path`."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_bytes(path: str | Path, data: bytes) -> Path:
    return atomic_write(path, lambda f: f.write(data))


def write_text(path: str | Path, text: str) -> Path:
    return write_bytes(path, text.encode("utf-8"))


def write_npz(path: str | Path, **arrays) -> Path:
    """numpy's compressed archive of `arrays`, written as above."""
    import numpy as np

    return atomic_write(path, lambda f: np.savez_compressed(f, **arrays))


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
