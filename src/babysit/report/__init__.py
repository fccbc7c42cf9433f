"""Reports a person reads: a run's babysitting report (and a sweep's, an ablation's)."""

from babysit.report.render import write_report

__all__ = ["write_report"]
