"""summary.json: written at the start of a run and updated as it goes, so that a run
that stops half-way still leaves what it knew."""

import json
import math
from pathlib import Path

from babysit.atomic import write_text


def _clean(value):
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)  # JSON has no NaN/inf
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    return value


class RunSummary:
    """`write=False` keeps the fields in memory only (the other processes of a multi-process run);
    `previous`: the summary of the run so far, when it resumes."""

    def __init__(self, path: Path, write: bool = True, previous: dict | None = None, **fields):
        self.path = Path(path)
        self.write = write
        self.data: dict = dict(previous or {})
        self.update(**fields)

    def update(self, **fields) -> None:
        self.data.update(fields)
        if self.write:
            write_text(self.path, json.dumps(_clean(self.data), indent=2, default=str))
