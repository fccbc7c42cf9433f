"""What a report is built from: a run directory's summary.json and metrics.csv."""

import json
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from babysit.errors import BabysitError


@dataclass
class RunData:
    run_dir: Path
    summary: dict
    metrics: pd.DataFrame  # one row per logging event; NaN where a metric was not logged

    def series(self, column: str, by: str = "step") -> pd.DataFrame:
        """Rows where `column` was logged, as (by, value)."""
        if column not in self.metrics:
            return pd.DataFrame(columns=[by, column])
        return self.metrics[[by, column]].dropna().reset_index(drop=True)

    def columns(self, prefix: str) -> list[str]:
        return sorted(c for c in self.metrics.columns if c.startswith(prefix))

    def check(self, name: str) -> dict | None:
        for c in (self.summary.get("preflight") or {}).get("checks", []):
            if c["check"] == name:
                return c
        return None

    def monitor_verdicts(self) -> list[dict]:
        return (self.summary.get("monitors") or {}).get("verdicts", [])


# a babysit run's files, and what the Babysitter callback writes into a Lightning project's log dir
FILES = (("summary.json", "metrics.csv"), ("babysit.json", "babysit_metrics.csv"))


def load_run(run_dir: str | Path) -> RunData:
    run_dir = Path(run_dir)
    found = next(((s, m) for s, m in FILES if (run_dir / s).is_file()), None)
    if found is None:
        raise BabysitError(f"{run_dir} holds no summary.json or babysit.json: give the directory of a babysit run "
                           "or the log dir of a fit with the Babysitter callback")
    summary = json.loads((run_dir / found[0]).read_text())
    csv = run_dir / found[1]
    metrics = pd.read_csv(csv) if csv.is_file() and csv.stat().st_size else pd.DataFrame()
    return RunData(run_dir, summary, metrics)
