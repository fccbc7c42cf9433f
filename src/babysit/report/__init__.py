"""Reports a person reads: a run's babysitting report (and a sweep's, an experiment's comparison)."""

import sys
from collections.abc import Callable
from pathlib import Path

from babysit.report.render import write_report

__all__ = ["write_report", "write_report_safely", "write_report_safely_to"]


def write_report_safely(cfg, out: Path, build: Callable[[Path], Path] = write_report) -> Path | None:
    """`build(out)` unless babysit.report=false."""
    if not cfg.babysit.get("report", True):
        return None
    return write_report_safely_to(out, build)


def write_report_safely_to(out: Path, build: Callable[[Path], Path] = write_report) -> Path | None:
    """A report that cannot be drawn must not hide the run's own outcome: its failure is one line
    naming the command that retries it."""
    try:
        return build(out)
    except Exception as e:  # noqa: BLE001
        print(f"report not written ({type(e).__name__}: {e}); retry with: python -m babysit.report {out}",
              file=sys.stderr)
        return None
