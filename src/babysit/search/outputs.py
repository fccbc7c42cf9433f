"""What a sweep leaves in its directory: trials.csv, best.yaml, search.json and figures."""

import csv
import io
import json
from pathlib import Path

import optuna
import yaml
from optuna.trial import TrialState

from babysit.atomic import write_text
from babysit.search.figures import plot_history, plot_param_scatter
from babysit.verdict import console


def trial_rows(study: optuna.Study) -> list[dict]:
    names = sorted({k for t in study.trials for k in t.params})
    rows = []
    for t in study.trials:
        rows.append({
            "number": t.number,
            "stage": t.user_attrs.get("stage", ""),
            **{n: t.params.get(n) for n in names},
            "value": t.value,
            "state": t.state.name,
            "epochs": t.user_attrs.get("epochs", ""),
            "reason": t.user_attrs.get(
                "reason", "interrupted" if study.user_attrs.get(f"interrupted/{t.number}") else ""),
            "run_dir": t.user_attrs.get("run_dir", ""),
        })
    return rows


def best_trial(study: optuna.Study) -> optuna.trial.FrozenTrial | None:
    done = [t for t in study.trials if t.state == TrialState.COMPLETE]
    if not done:
        return None
    return (max if study.direction == optuna.study.StudyDirection.MAXIMIZE else min)(done, key=lambda t: t.value)


def write_outputs(study: optuna.Study, search, sweep_dir: Path, arguments: list[str]) -> dict:
    sweep_dir = Path(sweep_dir)
    rows = trial_rows(study)
    table = io.StringIO(newline="")
    writer = csv.DictWriter(table, fieldnames=list(rows[0]) if rows else ["number"])
    writer.writeheader()
    writer.writerows(rows)
    write_text(sweep_dir / "trials.csv", table.getvalue())
    best = best_trial(study)
    stages = {st.name: st for st in search.s.stages}
    result = {
        "study": study.study_name,
        "storage": search.s.storage,
        "stages": [{"name": st.name, "trials": st.trials, "epochs": st.epochs, "sampler": st.sampler,
                    "ranges": study.user_attrs.get(f"ranges/{st.name}"),
                    "best": max((r["value"] for r in rows if r["stage"] == st.name and r["value"] is not None),
                                default=None)}
                   for st in search.s.stages],
        "warnings": [{"key": k, "message": v} for k, v in study.user_attrs.items() if k.startswith("warning/")],
        "best": None,
    }
    if best is not None:
        stage = stages.get(best.user_attrs.get("stage"))
        own = [f"{k}={v}" for k, v in best.params.items()]
        if stage is not None:
            own += [f"{search.s.epochs_key}={stage.epochs}", *stage.overrides]
        keys = {o.split("=", 1)[0] for o in own}
        overrides = [a for a in arguments if not a.startswith("hparams_search=") and a.split("=", 1)[0] not in keys]
        overrides += own
        write_text(sweep_dir / "best.yaml", yaml.safe_dump(
            {"value": best.value, "trial": best.number, "stage": best.user_attrs.get("stage"),
             "params": best.params, "overrides": overrides, "command": "python train.py " + " ".join(overrides),
             "run_dir": best.user_attrs.get("run_dir")}, sort_keys=False))
        result["best"] = {"value": best.value, "trial": best.number, "params": best.params, "overrides": overrides}
        console.print(f"[bold]Best[/bold]: {search.s.metric_name} {best.value:.6f} (trial {best.number}, "
                      f"{best.user_attrs.get('stage')}) — re-run it with:\n  python train.py {' '.join(overrides)}",
                      markup=True, highlight=False)
    write_text(sweep_dir / "search.json", json.dumps(result, indent=2, default=str))
    figures = sweep_dir / "figures"
    figures.mkdir(exist_ok=True)
    for p in search.params:
        if p.type != "choice":
            plot_param_scatter(rows, p, search.s.metric_name, figures / f"{p.name.replace('.', '_')}.png")
    plot_history(rows, search.s.metric_name, figures / "history.png", search.s.direction)
    from babysit.report.sweep import write_sweep_report, write_trial_report

    if best is not None and best.user_attrs.get("run_dir"):
        write_trial_report(best.user_attrs["run_dir"])
    console.print(f"Sweep report: {write_sweep_report(sweep_dir)}")
    return result
