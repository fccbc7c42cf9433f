"""Reports a person reads: a run's babysitting report (and a sweep's, an experiment's comparison)."""

import sys
from collections.abc import Callable
from pathlib import Path

from babysit.report.render import write_report

__all__ = ["write_report", "write_report_safely"]


def write_report_safely(cfg, out: Path, build: Callable[[Path], Path] = write_report) -> Path | None:
    """`build(out)` unless babysit.report=false; a report that cannot be drawn must not hide the
    run's own outcome, so its failure is one line naming the command that retries it."""
    if not cfg.babysit.get("report", True):
        return None
    try:
        return build(out)
    except Exception as e:  # noqa: BLE001
        print(f"report not written ({type(e).__name__}: {e}); retry with: python -m babysit.report {out}",
              file=sys.stderr)
        return None
