"""Where the time of `python train.py model=lenet5 data=faces` goes: each repeat is that command in
a fresh process (bench/runner.py), and the table shows the median and spread of each phase of its
summary.json `timings` (startup = imports and config, then setup, preflight, fit, test, report),
and of everything but startup and fit, which conf/bench/targets.yaml bounds.

    python bench/run_phases.py [--repeats 5] [-- extra overrides ...]
"""

import json
import runpy
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import ROOT, tmpdir  # noqa: E402
from runner import main, parser, spread, targets  # noqa: E402

COMMAND = ["model=lenet5", "data=faces"]
CASE = "python train.py " + " ".join(COMMAND)
OUTSIDE_FIT = ("setup", "preflight", "test", "report")


def default_run(args):
    run_dir = tmpdir()

    def work():
        sys.argv = [str(ROOT / "train.py"), *COMMAND, *args.overrides, f"hydra.run.dir={run_dir}"]
        try:
            runpy.run_path(str(ROOT / "train.py"), run_name="__main__")
        except SystemExit as e:
            if e.code:
                raise
        timings = json.loads((Path(run_dir) / "summary.json").read_text())["timings"]
        return {**{f"{k} s": v for k, v in timings.items()}, "outside fit s": sum(timings[k] for k in OUTSIDE_FIT)}

    return work


def summarise(results: dict) -> list[str]:
    limit = targets("run_phases")["outside_fit_s"]
    lines = []
    for key in ("startup s", "setup s", "preflight s", "fit s", "test s", "report s", "outside fit s"):
        med, lo, hi = spread([r[key] for r in results[CASE]])
        lines.append(f"  {key[:-2]:<12} median {med:6.2f} s   ({lo:.2f} – {hi:.2f})")
    med, lo, hi = spread([r["outside fit s"] for r in results[CASE]])
    verdict = "met" if med <= limit else "missed"
    return lines + [f"target everything but startup and fit ≤ {limit:g} s: {med:.2f} s (rounds {lo:.2f} – {hi:.2f})"
                    f" — {verdict}"]


if __name__ == "__main__":
    p = parser(__doc__.splitlines()[0])
    p.add_argument("overrides", nargs="*", help="extra overrides for the command")
    args = p.parse_args()
    main({CASE: default_run}, CASE, args, args.overrides, summarise)
