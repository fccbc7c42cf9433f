"""Shared bench helpers: compose the project's config and time things interleaved."""

import contextlib
import gc
import io
import statistics
import sys
import tempfile
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
warnings.filterwarnings("ignore")  # library deprecation chatter would drown the figures


def compose_cfg(overrides: list[str], out_dir: str):
    from tests.conftest import make_cfg

    return make_cfg(overrides, Path(out_dir))


def timed(fn) -> float:
    # A full collection scans every object alive (~0.3 s here, with torch and Lightning loaded) and
    # comes when the heap has grown enough, so it lands in whichever run crosses the line: the
    # garbage of earlier runs is collected, and the objects alive frozen, before the clock starts.
    gc.collect()
    gc.freeze()
    start = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()):
        fn()
    elapsed = time.perf_counter() - start
    gc.unfreeze()
    return elapsed


def interleave(cases: dict, repeats: int) -> dict[str, list[float]]:
    """Run every case once per round, `repeats` rounds, so drifts hit all cases alike.

    A case is a function that prepares a run (untimed) and returns the callable to time.
    """
    times: dict[str, list[float]] = {name: [] for name in cases}
    for _ in range(repeats):
        for name, prepare in cases.items():
            with contextlib.redirect_stdout(io.StringIO()):
                fn = prepare()
            times[name].append(timed(fn))
    return times


def report(times: dict[str, list[float]], baseline: str) -> None:
    base = statistics.median(times[baseline])
    for name, ts in times.items():
        med = statistics.median(ts)
        print(f"{name:<28} median {med:7.3f} s   ratio {med / base:5.2f} × {baseline}")


def tmpdir() -> str:
    return tempfile.mkdtemp(prefix="babysit-bench-")
