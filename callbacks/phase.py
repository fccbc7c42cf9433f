"""When a monitor's reading means something. Training has phases: the first steps (a small
output layer still growing, statistics warming up), the learning phase (the cost falls), and
convergence (the cost flat, updates and gradients shrinking on purpose). A reading is judged in
the phase where it tells something about the settings."""

import math
import statistics


def learning_phase(costs: list[float], barely: float = 0.01, done: float = 0.9) -> list[int]:
    """Positions of the measurements taken while the cost still fell: after the first one (the
    weights at init) and before `done` of the run's decrease was behind it. A cost that barely
    moved (< `barely` of its start) never left the learning phase: every position but the first."""
    if len(costs) < 2:
        return list(range(len(costs)))
    finite = [c for c in costs if math.isfinite(c)]
    if not finite:
        return list(range(1, len(costs)))
    start = finite[0]
    end = statistics.median(finite[-3:])
    if start <= 0 or (start - end) / start < barely:
        return list(range(1, len(costs)))
    target = end + (1 - done) * (start - end)
    reached = next((i for i, c in enumerate(costs) if i > 0 and math.isfinite(c) and c <= target), len(costs))
    return list(range(1, max(2, reached + 1)))


def settled_phase(count: int, learning: list[int]) -> list[int]:
    """The measurements after the learning phase: the weights have grown to their working size. Empty
    while the run never got there (the cost still falling at its end)."""
    start = (max(learning) + 1) if learning else 0
    return list(range(start, count)) if count - start >= 2 else []
