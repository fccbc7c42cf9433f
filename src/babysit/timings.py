"""Where a run's time went: seconds per phase (setup, preflight, fit, test, report) and in all,
for summary.json and one line at the end of the run."""

import os
import time
from contextlib import contextmanager

PHASES = ("startup", "setup", "preflight", "fit", "test", "report")
_first_run = True


def process_age() -> float | None:
    """Seconds since this process started (imports, config), where the OS tells (Linux /proc)."""
    try:
        with open("/proc/self/stat") as f:
            started_ticks = int(f.read().rsplit(")", 1)[1].split()[19])
        with open("/proc/uptime") as f:
            uptime = float(f.read().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    return max(0.0, uptime - started_ticks / os.sysconf("SC_CLK_TCK"))


class PhaseTimer:
    def __init__(self):
        global _first_run
        self.started = time.perf_counter()
        self.seconds: dict[str, float] = {}
        self.carried_wall = 0.0  # of the earlier part of a resumed run
        # the imports and config composition before the first run of a process are part of what the
        # user waited for; later runs of the same process (sweep trials) start without them
        if _first_run:
            _first_run = False
            age = process_age()
            if age is not None:
                self.seconds["startup"] = age

    def carry(self, earlier: dict | None) -> None:
        """A resumed run's timings go on from those of its earlier part (`earlier`: its as_dict())."""
        for name, seconds in (earlier or {}).items():
            if name == "wall":
                self.carried_wall += seconds
            elif name in PHASES:
                self.seconds[name] = self.seconds.get(name, 0.0) + seconds

    @contextmanager
    def phase(self, name: str):
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] = self.seconds.get(name, 0.0) + time.perf_counter() - start

    def split(self, phase: str, part: str, seconds: float) -> None:
        """`seconds` of `phase` were spent on `part` (the preflight runs at the start of fit)."""
        if seconds:
            self.seconds[phase] = self.seconds.get(phase, 0.0) - seconds
            self.seconds[part] = self.seconds.get(part, 0.0) + seconds

    def as_dict(self) -> dict[str, float]:
        """Each phase's seconds and `wall`: from the start of the run (after startup) until now."""
        phases = {k: round(self.seconds[k], 3) for k in PHASES if k in self.seconds}
        return {**phases, "wall": round(self.carried_wall + time.perf_counter() - self.started, 3)}

    def line(self) -> str:
        """e.g. `Time: startup 7.9 s, setup 0.3 s, preflight 1.1 s, fit 2.4 s, test 0.1 s, report 1.2 s (run 5.1 s)`."""
        t = self.as_dict()
        parts = ", ".join(f"{k} {t[k]:.1f} s" for k in PHASES if k in t)
        return f"Time: {parts} (run {t['wall']:.1f} s)"
