"""The garbage collector and the imported libraries.

A full collection scans every object alive: with torch, Lightning, Hydra and matplotlib imported
that is half a million objects and 0.2–0.6 s, and it comes whenever enough new objects have
piled up, in the middle of a run or every few trials of a sweep. Frozen once, after the imports,
those objects are never scanned again; collection itself (and so every number) is unchanged.
"""

import gc

_frozen = False


def freeze_imports() -> None:
    """Move every object alive now out of the collector's sight, once per process: later calls
    would freeze what earlier runs left behind, garbage included."""
    global _frozen
    if not _frozen:
        _frozen = True
        gc.freeze()
