"""cv_report.md / .html: the folds of one cross-validated run side by side, with mean ± std."""

import json
from pathlib import Path

from babysit.errors import BabysitError
from babysit.report import comparison_figures
from babysit.report.load import load_run
from babysit.report.render import write_markdown_and_html
from babysit.report.variants import Variant

COLUMNS = ("train/acc", "val/acc", "test/acc")


def _num(value) -> str:
    return f"{value:.4f}" if isinstance(value, (int, float)) else "–"


def build_cv_markdown(run_dir: Path) -> str:
    summary = json.loads((run_dir / "summary.json").read_text())
    folds, stats = summary.get("folds", []), summary.get("cv", {}).get("metrics", {})
    k = summary.get("cv", {}).get("folds", len(folds))
    reason = f" ({summary['reason']})" if summary.get("reason") else ""
    done = sum(1 for f in folds if f.get("final"))
    lines = [f"# Cross-validation: {k} folds ({run_dir.name})", "",
             f"Status: **{summary.get('status')}**{reason} · stratified folds of train+val, shuffled with seed "
             f"{summary.get('cv', {}).get('seed')}; the test set is the same for every fold.", "",
             "| fold | train acc | val acc | test acc | epochs | status | report |", "|---|---|---|---|---|---|---|"]
    for f in folds:
        final = f.get("final", {})
        lines.append(f"| {f['fold']} | " + " | ".join(_num(final.get(c)) for c in COLUMNS)
                     + f" | {f.get('epochs_run')} | {f.get('status')} | [report]({f['run_dir']}/report.html) |")
    if stats:
        cells = [f"{stats[c]['mean']:.4f} ± {stats[c]['std']:.4f}" if c in stats else "–" for c in COLUMNS]
        lines.append(f"| **mean ± std** ({done} of {k}) | " + " | ".join(cells) + " | | | |")
    figure_path = _curves(run_dir, folds)
    if figure_path is not None:
        lines += ["", f"![cv_curves](figures/{figure_path.name})"]
    lines += ["", "A wide spread between folds means the validation estimate is noisy for this data size: "
              "compare hyperparameters by the mean, and trust differences larger than the std."]
    return "\n".join(lines) + "\n"


def _curves(run_dir: Path, folds: list[dict]) -> Path | None:
    """Train cost and val accuracy per epoch, one line per fold (the comparison reports' figure)."""
    variants = [Variant(f"fold {f['fold']}", f"fold {f['fold']}", {"fold": str(f["fold"])},
                        load_run(run_dir / f["run_dir"]))
                for f in folds if (run_dir / f["run_dir"]).is_dir()]
    if not variants:
        return None
    (run_dir / "figures").mkdir(exist_ok=True)
    return comparison_figures.curves(variants, run_dir / "figures" / "cv_curves.png")


def write_cv_report(run_dir: str | Path) -> Path:
    run_dir = Path(run_dir)
    if not (run_dir / "summary.json").is_file():
        raise BabysitError(f"{run_dir} holds no summary.json: give the directory of a cross-validated run")
    return write_markdown_and_html(run_dir, "cv_report", build_cv_markdown(run_dir))
