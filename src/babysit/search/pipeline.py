"""The protocol as one pipeline: preflight → plan → coarse-to-fine search → final training → the
default configuration as a baseline → write-up. Each step records what it found in
<sweep dir>/pipeline.json, so a rerun of the same command skips what is done (the search itself
resumes from its Optuna study), and the write-up is built from the records."""

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from babysit.atomic import write_text
from babysit.errors import BabysitError
from babysit.search.coarse_to_fine import CoarseToFine
from babysit.search.outputs import best_trial
from babysit.search.plan import make_plan
from babysit.search.space import Param
from babysit.verdict import FAIL, console

STATE = "pipeline.json"
# a job of the pipeline: (overrides, run dir name) → the run dir's summary.json as a dict
LaunchOne = Callable[[list[str], str], dict]


class PreflightFailed(Exception):
    """The preflight found a broken setup: searching it would waste the budget."""


@dataclass
class PipelineSettings:
    plan: dict  # widen, reg {decades, top_share}, budget {factor, min_epochs}, small_val {examples, folds}
    final: bool = False  # train the best configuration at the full budget and test it
    baseline: bool = False  # train the default configuration the same way, for comparison
    final_epochs: int | None = None  # None: the run's trainer.max_epochs
    preflight: bool = True  # False: trust the configured ranges and epochs (nothing measured)


class Pipeline:
    def __init__(self, search: CoarseToFine, settings: PipelineSettings, sweep_dir: Path, base: list[str],
                 default_epochs: int, launch_one: LaunchOne):
        self.search, self.s, self.sweep_dir, self.base = search, settings, Path(sweep_dir), list(base)
        self.final_epochs = settings.final_epochs or default_epochs
        self.launch_one = launch_one
        path = self.sweep_dir / STATE
        self.state = json.loads(path.read_text()) if path.is_file() else {"steps": {}}

    def step(self, name: str, run: Callable[[], dict]) -> dict:
        """The recorded result of step `name`, running it first when a rerun finds none (a step that
        failed is recorded too, for the write-up, and runs again next time)."""
        done = self.state["steps"].get(name)
        if done is not None and done.get("status") != "failed":
            console.print(f"[dim]{name}: done in an earlier run, not repeated[/dim]")
            return done
        self.state["steps"][name] = run()
        write_text(self.sweep_dir / STATE, json.dumps(self.state, indent=2, default=str))
        return self.state["steps"][name]

    def run(self, launch_trials, trial_overrides):
        summary = {}
        if self.s.preflight:
            record = self.step("preflight", self._preflight)
            summary = record["summary"]
            failed = [c for c in (summary.get("preflight") or {}).get("checks", []) if c["status"] == FAIL]
            if failed:
                raise PreflightFailed(self._failure(failed, record["run_dir"]))
        plan = self.step("plan", lambda: self._plan(summary))
        self._apply(plan)
        study = self.search.run(self.base, launch_trials, trial_overrides)
        best = best_trial(study)
        if self.s.final and best is not None:
            params = [_override(k, v) for k, v in best.params.items()]
            self.step("final", lambda: self._train("final", params))
        if self.s.baseline:
            self.step("baseline", lambda: self._train("baseline", []))
        return study

    def _preflight(self) -> dict:
        console.print("[bold]Preflight[/bold]: the babysitting checks once, before any trial")
        summary = self.launch_one(self.base + ["preflight_only=true", "babysit.preflight=true",
                                               "babysit.report=true"], "preflight")
        if not summary.get("preflight"):
            raise BabysitError(f"the preflight job wrote no verdicts ({summary.get('reason', 'no summary.json')})")
        checks = summary["preflight"]["checks"]
        console.print(f"Preflight: {summary['preflight']['status']} ({len(checks)} checks; "
                      + ", ".join(f"{c['check']} {c['status']}" for c in checks if c["status"] != "PASS") + ")"
                      if any(c["status"] != "PASS" for c in checks) else
                      f"Preflight: PASS ({len(checks)} checks)")
        return {"summary": summary, "run_dir": "preflight"}

    @staticmethod
    def _failure(failed: list[dict], run_dir: str) -> str:
        lines = ["the preflight failed, so no trial ran (a search over a broken setup wastes its budget):"]
        lines += [f"  [FAIL] {c['message']}\n         → {c.get('advice', '')}" for c in failed]
        lines.append(f"  its report: {run_dir}/report.html; fix the setup and run the same command again")
        return "\n".join(lines)

    def _plan(self, summary: dict) -> dict:
        stages = [st.name for st in self.search.s.stages]
        if not summary:  # nothing measured: the configured ranges and epochs as they are
            return {"params": self.search.s.params_flat, "sources": dict.fromkeys(self.search.s.params_flat,
                                                                                  "configured"),
                    "epochs": {st.name: st.epochs for st in self.search.s.stages}, "budget": "configured",
                    "cv_folds": 0, "scoring": "on the val split", "warnings": []}
        plan = make_plan(summary, self.search.s.params_flat, self.s.plan, stages, self.final_epochs)
        for st in self.search.s.stages:  # epochs given in the config win
            if st.epochs is not None:
                plan.epochs[st.name] = st.epochs
        for key, source in plan.sources.items():
            console.print(f"  {self.search.describe(key, plan.params[key])} — {source}")
        console.print(f"  epochs per trial: {plan.epochs} — {plan.budget}")
        console.print(f"  scoring: {plan.scoring}")
        for warning in plan.warnings:
            console.print(f"[yellow][WARN] {warning}[/yellow]")
        return plan.as_dict()

    def _apply(self, plan: dict) -> None:
        self.search.params = [Param.from_config(name, spec) for name, spec in plan["params"].items()]
        for index, stage in enumerate(self.search.s.stages):
            stage.epochs = plan["epochs"][stage.name]
            if index > 0 and plan["cv_folds"] and not any(o.startswith("cv.folds=") for o in stage.overrides):
                stage.overrides = [*stage.overrides, f"cv.folds={plan['cv_folds']}"]

    def _train(self, name: str, params: list[str]) -> dict:
        what = "the best configuration" if params else "the default configuration (the baseline)"
        console.print(f"[bold]{name.capitalize()}[/bold]: {what} for {self.final_epochs} epochs, every monitor on, "
                      "tested once")
        own = params + [f"trainer.max_epochs={self.final_epochs}", "babysit.report=true", "babysit.test=true"]
        keys = {o.split("=", 1)[0] for o in own}
        overrides = [o for o in self.base if o.split("=", 1)[0] not in keys] + own
        summary = self.launch_one(overrides, name)
        final = summary.get("final") or {}
        shown = ", ".join(f"{k} {final[k]:.4f}" for k in ("train/acc", "val/acc", "test/acc") if k in final)
        console.print(f"{name.capitalize()}: {summary.get('status', '?')}, {shown or 'no final metrics'}")
        own = [o for o in overrides if not o.startswith("hparams_search=")]
        failed = {"reason": summary.get("reason")} if summary.get("status") == "failed" else {}
        return {"run_dir": name, "overrides": overrides, "status": summary.get("status"), "final": final,
                "epochs_run": summary.get("epochs_run"), "command": "python train.py " + " ".join(own), **failed}


def _override(key: str, value) -> str:
    return f"{key}={value!r}" if isinstance(value, str) else f"{key}={value}"
