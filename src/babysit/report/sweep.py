"""sweep_report.md / .html: the stages, the best trials in the lecture's words, the
hyper-parameter scatter plots, the edge warnings and the best configuration."""

import csv
import json
import os
import sys
from pathlib import Path

import yaml

from babysit.errors import BabysitError
from babysit.report.render import write_markdown_and_html
from babysit.search.coarse_to_fine import lecture_line


def _rows(sweep_dir: Path) -> list[dict]:
    with (sweep_dir / "trials.csv").open() as f:
        return list(csv.DictReader(f))


def _param_names(rows: list[dict]) -> list[str]:
    fixed = {"number", "stage", "value", "state", "epochs", "reason", "run_dir"}
    return [k for k in (rows[0] if rows else {}) if k not in fixed]


def _lecture_line(row: dict, names: list[str], total: int) -> str:
    params = {n: float(row[n]) if _is_number(row[n]) else row[n] for n in names}
    return lecture_line("val acc", float(row["value"]), params, int(row["number"]) + 1, total)


def _is_number(text: str) -> bool:
    try:
        float(text)
        return True
    except (TypeError, ValueError):
        return False


def build_sweep_markdown(sweep_dir: Path) -> str:
    search = json.loads((sweep_dir / "search.json").read_text())
    rows = _rows(sweep_dir)
    names = _param_names(rows)
    done = [r for r in rows if r["value"]]
    lines = [f"# Sweep report: {search['study']}", "",
             f"{len(rows)} trials ({len(done)} complete, "
             f"{sum(r['state'] == 'PRUNED' for r in rows)} pruned or exploded, "
             f"{sum(r['state'] == 'FAIL' for r in rows)} failed), "
             f"{sum(int(r['epochs'] or 0) for r in rows)} training epochs in all. "
             f"Study storage: `{search['storage']}`.",
             "", "## Stages", "", "| stage | trials | epochs | sampler | ranges | best |", "|---|---|---|---|---|---|"]
    for st in search["stages"]:
        ranges = "; ".join(f"{k}: " + (f"[{v['low']:.3g}, {v['high']:.3g}] ({v['type']})" if "low" in v
                                       else str(v.get("choices")))
                           for k, v in (st.get("ranges") or {}).items())
        best = f"{st['best']:.4f}" if st.get("best") is not None else "—"
        lines.append(f"| {st['name']} | {st['trials']} | {st['epochs']} | {st['sampler']} | {ranges} | {best} |")
    lines += ["", "## Edge warnings", ""]
    warnings = [f"- {w['message']}" for w in search.get("warnings", [])]
    lines += warnings or ["None: every stage's best lay inside its range."]
    lines += ["", "## Best trials", "", "```"]
    top = sorted(done, key=lambda r: float(r["value"]), reverse=True)[:10]
    lines += [_lecture_line(r, names, len(rows)) + f"  [{r['stage']}]" for r in top] + ["```"]
    lines += ["", "## Figures", ""]
    lines += [f"![{p.stem}](figures/{p.name})\n" for p in sorted((sweep_dir / "figures").glob("*.png"))]
    best_file = sweep_dir / "best.yaml"
    lines += ["", "## Best configuration", ""]
    if best_file.is_file():
        best = yaml.safe_load(best_file.read_text())
        lines += [f"val acc {best['value']:.4f} (trial {best['trial']}, stage {best['stage']}). Re-run it with:", "",
                  "```", best["command"], "```"]
        run_dir = best.get("run_dir")
        own = [Path(run_dir, name) for name in ("report.html", "cv_report.html") if run_dir]
        own = [p for p in own if p.is_file()]
        if own:
            link = os.path.relpath(own[0], sweep_dir)
            lines += ["", f"The best trial's own report: [{link}]({link})"]
        lines += ["", "Any other trial's report: `python -m babysit.report <run dir>` (run dirs in trials.csv)."]
    else:
        lines.append("No trial completed.")
    return "\n".join(lines) + "\n"


def write_trial_report(run_dir: str | Path) -> Path | None:
    """The report of one trial (its cross-validation report when it ran folds), unless it has one:
    trials of a sweep skip theirs (babysit.report=false) and the sweep builds the best one's at the end.
    A report that cannot be built is one line on stderr, not the end of the sweep's outputs."""
    run_dir = Path(run_dir)
    summary = run_dir / "summary.json"
    if not summary.is_file() or any((run_dir / n).is_file() for n in ("report.html", "cv_report.html")):
        return None
    cv = json.loads(summary.read_text()).get("kind") == "cv"
    try:
        if cv:
            from babysit.report.cross_validation import write_cv_report

            return write_cv_report(run_dir)
        from babysit.report.render import write_report

        return write_report(run_dir)
    except Exception as e:  # noqa: BLE001
        print(f"report of {run_dir} not written ({type(e).__name__}: {e}); retry with: "
              f"python -m babysit.report {run_dir}", file=sys.stderr)
        return None


def write_sweep_report(sweep_dir: str | Path) -> Path:
    sweep_dir = Path(sweep_dir)
    if not (sweep_dir / "search.json").is_file():
        raise BabysitError(f"{sweep_dir} holds no search.json: give the directory of a coarse-to-fine sweep")
    return write_markdown_and_html(sweep_dir, "sweep_report", build_sweep_markdown(sweep_dir))
