"""Reports a person reads: a run's babysitting report (and a sweep's, an experiment's comparison)."""

from babysit.report.render import write_report

__all__ = ["write_report"]
