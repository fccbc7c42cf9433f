"""python -m babysit.report <dir>: (re)build the report of a run directory (finished or not),
of a search's sweep directory (it holds search.json; an autopilot's also gets its write-up), or the
comparison report of an experiment's sweep directory (ablation, norm_init_study).
python -m babysit.report --compare <run dir> <run dir> …: runs side by side."""

import json
import sys
from pathlib import Path

from babysit.cli import fail, report_user_errors
from babysit.report import write_report
from babysit.report.ablation import write_ablation_report
from babysit.report.cross_validation import write_cv_report
from babysit.report.norm_init import write_norm_init_report
from babysit.report.sweep import write_sweep_report
from babysit.report.variants import experiment_of
from babysit.search.pipeline import STATE


def _kind(run_dir: Path) -> str | None:
    try:
        return json.loads((run_dir / "summary.json").read_text()).get("kind")
    except (OSError, ValueError):
        return None


def main(argv: list[str]) -> None:
    if argv and argv[0] == "--compare":
        from babysit.report.compare import write_compare_report

        for d in argv[1:]:
            if not Path(d).is_dir():
                fail(f"{d} is not a directory: give run directories under outputs/")
        print(f"report: {report_user_errors(lambda: write_compare_report(argv[1:]))}")
        return
    if len(argv) != 1:
        fail("usage: python -m babysit.report <run_dir | sweep_dir>, or --compare <run_dir> <run_dir> …")
    target = Path(argv[0])
    if not target.is_dir():
        fail(f"{target} is not a directory: give a run or sweep directory under outputs/")
    if (target / STATE).is_file() and any(s in json.loads((target / STATE).read_text()).get("steps", {})
                                          for s in ("final", "baseline")):
        from babysit.report.autopilot import write_autopilot_report

        if (target / "search.json").is_file():
            write_sweep_report(target)
        build = write_autopilot_report
    elif (target / "search.json").is_file():
        build = write_sweep_report
    elif _kind(target) == "cv":
        build = write_cv_report
    elif (target / "norm_init.json").is_file() or experiment_of(target) == "norm_init_study":
        build = write_norm_init_report
    elif (target / "ablation.json").is_file() or not (target / "summary.json").is_file():
        build = write_ablation_report
    else:
        build = write_report
    path = report_user_errors(lambda: build(target))
    print(f"report: {path}")


if __name__ == "__main__":
    main(sys.argv[1:])
