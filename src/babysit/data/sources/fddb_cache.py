"""The FDDB patch cache: one .npz per setting holding the patches of all folds.

Besides the patches it keeps the pictures that were missing or unreadable when it was
made (paths relative to the root; size and mtime of the unreadable ones), so that a
picture put back or replaced later makes the cache stale instead of silently short."""

import hashlib
import json
import os
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np


@dataclass
class Patches:
    """Patches of all folds: (N, size, size, channels) uint8 `x`, labels `y`, fold numbers,
    picture ids (`groups`), extraction counts and the pictures that gave nothing (`absent`:
    {"missing": [path], "unreadable": {path: [size, mtime_ns]}})."""

    x: np.ndarray
    y: np.ndarray
    folds: np.ndarray
    groups: np.ndarray
    counts: dict
    absent: dict = field(default_factory=lambda: {"missing": [], "unreadable": {}})


def file_state(file: Path) -> list[int] | None:
    """[size, mtime_ns] of a file, None when it cannot be looked at."""
    try:
        st = file.stat()
    except OSError:
        return None
    return [st.st_size, st.st_mtime_ns]


def cache_key(root: Path, lists: dict[int, Path], settings: list) -> str:
    """Hash of the settings that shape the patches, the root and the ellipse lists' bytes."""
    h = hashlib.sha256(json.dumps([str(root.resolve()), settings], sort_keys=True).encode())
    for fold, file in lists.items():
        h.update(f"{fold}:".encode() + file.read_bytes())
    return h.hexdigest()[:16]


def save_cache(path: Path, p: Patches) -> None:
    """Written to a temporary file and renamed, so an interrupted run leaves no half cache."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez_compressed(f, x=p.x, y=p.y, folds=p.folds, groups=p.groups,
                                counts=np.array(json.dumps(p.counts)), absent=np.array(json.dumps(p.absent)))
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def changed_pictures(root: Path, absent: dict) -> list[str]:
    """What changed among the pictures that were missing (now a file) or unreadable (another
    size or mtime) when the cache was made."""
    now_there = [f"{rel} now exists" for rel in absent["missing"] if (root / rel).is_file()]
    replaced = [f"{rel} (unreadable then) changed" for rel, state in absent["unreadable"].items()
                if file_state(root / rel) != state]
    return now_there + replaced


def load_cache(path: Path, root: Path) -> Patches | None:
    """The cached patches; None (saying why on one line) when the file is absent,
    unreadable, or some picture missing or unreadable at extraction has changed since."""
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as z:
            p = Patches(z["x"], z["y"], z["folds"], z["groups"], json.loads(str(z["counts"])),
                        json.loads(str(z["absent"])))
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as e:
        print(f"FDDB: cache {path} is unreadable ({e}); extracting again")
        return None
    changed = changed_pictures(root, p.absent)
    if changed:
        more = f" (and {len(changed) - 1} more)" if len(changed) > 1 else ""
        print(f"FDDB: {changed[0]}{more} since cache {path} was made; extracting again")
        return None
    return p
