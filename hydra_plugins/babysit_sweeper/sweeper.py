"""Hydra glue for the coarse-to-fine search and the autopilot: every trial and every step of the
pipeline (preflight, final, baseline) is a Hydra job."""

import json
import sys
from pathlib import Path

from hydra.core.plugins import Plugins
from hydra.core.utils import JobStatus
from hydra.plugins.sweeper import Sweeper
from omegaconf import OmegaConf

from babysit.errors import BabysitError
from hydra_plugins.babysit_sweeper.config import CoarseToFineSweeperConf  # noqa: F401  (registers the config)


class CoarseToFineSweeper(Sweeper):
    def __init__(self, **settings):
        self.settings = settings
        self.config = None
        self.launcher = None

    def setup(self, *, hydra_context, task_function, config) -> None:
        self.config = config
        self.launcher = Plugins.instance().instantiate_launcher(
            hydra_context=hydra_context, task_function=task_function, config=config
        )

    def sweep(self, arguments: list[str]):
        from babysit.search.pipeline import PreflightFailed
        from babysit.verdict import console

        try:
            return self._sweep(arguments)
        except PreflightFailed as e:
            console.print(f"[bold red]Stopped[/bold red]: {e}", markup=True, highlight=False)
            sys.exit(1)
        except BabysitError as e:
            print(f"error: {e}", file=sys.stderr, flush=True)
            sys.exit(2)

    def _sweep(self, arguments: list[str]):
        # Hydra imports every plugin when it starts, for a single run too: the search's own imports
        # (Optuna, the sweep's figures) wait until a sweep starts
        import optuna

        from babysit.heap import freeze_imports
        from babysit.search.coarse_to_fine import CoarseToFine, SearchSettings, Stage
        from babysit.search.outputs import write_outputs
        from babysit.search.pipeline import Pipeline, PipelineSettings
        from babysit.search.storage import storage_url
        from babysit.search.trial_result import failure_reason, read_result
        from babysit.verdict import console

        freeze_imports()  # every trial runs in this process: full collections skip the imported objects
        optuna.logging.set_verbosity(optuna.logging.WARNING)  # the search prints its own line per trial
        sweep_dir = Path(self.config.hydra.sweep.dir).resolve()
        sweep_dir.mkdir(parents=True, exist_ok=True)
        s = OmegaConf.to_container(OmegaConf.create(self.settings), resolve=True)
        storage = storage_url(s.get("storage"), sweep_dir, s["study_name"])
        settings = SearchSettings(
            params=s["params"], stages=[Stage(**st) for st in s["stages"]], study_name=s["study_name"],
            storage=storage, direction=s["direction"], seed=s["seed"], top_k=s["top_k"], shrink=s["shrink"],
            edge_fraction=s["edge_fraction"], pruner=s["pruner"], epochs_key=s["epochs_key"],
            batch_size=s["batch_size"], heartbeat=s["heartbeat"],
            metric_name=str(self.config.get("optimized_metric", "val/acc")).replace("/", " "),
        )
        search = CoarseToFine(settings)
        if storage.startswith("sqlite:///"):
            console.print(f"Watch the study live: optuna-dashboard {storage}  (pip install -e '.[dashboard]')",
                          markup=False)
        quiet = [] if s["verbose"] else ["console_log=true"]
        base = list(arguments)  # with hparams_search=…: the jobs need the search's config too

        def launch(jobs: list[list[str]], first_index: int):
            returns = self.launcher.launch([job + quiet for job in jobs], initial_job_idx=first_index)
            results = []
            for ret in returns:
                run_dir = ret.hydra_cfg.hydra.runtime.output_dir if ret.hydra_cfg else None
                error = ret._return_value if ret.status == JobStatus.FAILED else None
                value = ret._return_value if ret.status == JobStatus.COMPLETED else None
                results.append(read_result(run_dir, value, error))
            return results

        def launch_one(overrides: list[str], name: str) -> dict:
            """The job's summary.json; a job that raised, or a launcher that failed under it, gives
            status "failed" with the reason (what the job wrote before is kept)."""
            try:
                (ret,) = self.launcher.launch([overrides + quiet + [f"hydra.sweep.subdir={name}"]], initial_job_idx=0)
            except Exception as e:  # noqa: BLE001 - e.g. joblib lost the worker process the system killed
                return {"status": "failed", "reason": f"the launcher failed: {failure_reason(e)}"}
            path = sweep_dir / name / "summary.json"
            summary = json.loads(path.read_text()) if path.is_file() else {}
            if ret.status == JobStatus.FAILED:
                reason = failure_reason(ret._return_value)
                console.print(f"[red]{name}: failed ({reason})[/red]: see {sweep_dir / name}", markup=True)
                summary.update(status="failed", reason=reason)
            return summary

        def trial_overrides(study, trial_id: int) -> list[str]:
            # quoted: a study named 123 or true stays a string in the job
            return [f"trial.study='{study.study_name}'", f"trial.storage='{storage}'", f"trial.id={trial_id}"]

        p = s["pipeline"]
        pipeline = Pipeline(search, PipelineSettings(plan=s["plan"], final=p["final"], baseline=p["baseline"],
                                                     final_epochs=p["final_epochs"], preflight=p["preflight"]),
                            sweep_dir, base, int(self.config.trainer.max_epochs), launch_one)
        study = pipeline.run(launch, trial_overrides)
        result = write_outputs(study, search, sweep_dir, arguments)
        if p["final"] or p["baseline"]:
            from babysit.report.autopilot import write_autopilot_report

            console.print(f"Autopilot report: {write_autopilot_report(sweep_dir)}")
        return result
