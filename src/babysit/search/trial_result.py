"""What became of one trial's job, read from its run directory."""

import json
from dataclasses import dataclass
from pathlib import Path

import optuna


@dataclass
class TrialResult:
    value: float | None
    state: optuna.trial.TrialState
    reason: str = ""
    epochs: int = 0
    run_dir: str = ""


def read_result(run_dir: str | Path | None, value, error: BaseException | None) -> TrialResult:
    """COMPLETE with the returned value; PRUNED when Optuna pruned it or the cost exploded;
    FAIL when the job raised."""
    summary = {}
    path = Path(run_dir, "summary.json") if run_dir else None
    if path is not None and path.is_file():
        summary = json.loads(path.read_text())
    epochs = int(summary.get("epochs_run") or 0)
    run_dir = str(run_dir or "")
    if isinstance(error, optuna.TrialPruned):
        return TrialResult(None, optuna.trial.TrialState.PRUNED, f"pruned: {error}", epochs, run_dir)
    if error is not None:
        return TrialResult(None, optuna.trial.TrialState.FAIL, failure_reason(error), epochs, run_dir)
    if summary.get("exploded"):
        reason = "exploded: " + ((summary.get("explosion") or {}).get("reason") or "cost > factor × initial")
        return TrialResult(None, optuna.trial.TrialState.PRUNED, reason, epochs, run_dir)
    if value is None:
        return TrialResult(None, optuna.trial.TrialState.FAIL, "the job returned no value", epochs, run_dir)
    return TrialResult(float(value), optuna.trial.TrialState.COMPLETE, "", epochs, run_dir)


def failure_reason(error: BaseException) -> str:
    """The innermost cause, which says what went wrong (Hydra wraps errors raised while building
    objects: "Error in call to target …" from a RuntimeError "… can't allocate memory …")."""
    seen = {id(error)}
    while error.__cause__ is not None and id(error.__cause__) not in seen:
        error = error.__cause__
        seen.add(id(error))
    text = str(error).strip()
    return f"{type(error).__name__}: {text.splitlines()[0] if text else ''}"
