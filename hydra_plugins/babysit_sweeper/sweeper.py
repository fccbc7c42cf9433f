"""Hydra glue for the coarse-to-fine search: launches each trial as a Hydra job."""

from pathlib import Path

import optuna
from hydra.core.plugins import Plugins
from hydra.core.utils import JobStatus
from hydra.plugins.sweeper import Sweeper
from omegaconf import OmegaConf

from babysit.search.coarse_to_fine import CoarseToFine, SearchSettings, Stage
from babysit.search.outputs import write_outputs
from babysit.search.storage import storage_url
from babysit.search.trial_result import read_result
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

        def launch(jobs: list[list[str]], first_index: int):
            returns = self.launcher.launch(jobs, initial_job_idx=first_index)
            results = []
            for ret in returns:
                run_dir = ret.hydra_cfg.hydra.runtime.output_dir if ret.hydra_cfg else None
                error = ret._return_value if ret.status == JobStatus.FAILED else None
                value = ret._return_value if ret.status == JobStatus.COMPLETED else None
                results.append(read_result(run_dir, value, error))
            return results

        def trial_overrides(study: optuna.Study, trial_id: int) -> list[str]:
            return [f"trial.study={study.study_name}", f"trial.storage='{storage}'", f"trial.id={trial_id}"]

        study = search.run(list(arguments), launch, trial_overrides)
        return write_outputs(study, search, sweep_dir, arguments)
