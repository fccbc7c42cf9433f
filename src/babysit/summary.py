"""summary.json: written at the start of a run and updated as it goes, so that a run
that stops half-way still leaves what it knew."""

import json
import math
import os
from pathlib import Path


def _clean(value):
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)  # JSON has no NaN/inf
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    return value


class RunSummary:
    def __init__(self, path: Path, **fields):
        self.path = Path(path)
        self.data: dict = {}
        self.update(**fields)

    def update(self, **fields) -> None:
        self.data.update(fields)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(_clean(self.data), indent=2, default=str))
        os.replace(tmp, self.path)
