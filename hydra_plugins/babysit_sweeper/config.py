"""The sweeper's config schema, registered as `hydra/sweeper=coarse_to_fine`."""

from dataclasses import dataclass, field
from typing import Any

from hydra.core.config_store import ConfigStore


@dataclass
class StageConf:
    name: str = "coarse"
    trials: int = 20
    epochs: Any = None  # None: planned from the preflight (the steps the overfit check needed)
    sampler: str = "random"  # random | tpe
    overrides: list[str] = field(default_factory=list)  # for this stage's trials only


@dataclass
class CoarseToFineSweeperConf:
    _target_: str = "hydra_plugins.babysit_sweeper.sweeper.CoarseToFineSweeper"
    study_name: str = "coarse_to_fine"
    storage: Any = None  # None: sqlite in the sweep dir; or journal:<file>, postgresql://…, sqlite:///…
    direction: str = "maximize"
    seed: int = 0
    params: dict[str, Any] = field(default_factory=dict)
    stages: list[StageConf] = field(default_factory=lambda: [StageConf()])
    top_k: int = 3
    shrink: float = 0.5
    edge_fraction: float = 0.1
    pruner: dict[str, Any] = field(default_factory=lambda: {"type": "median", "n_startup_trials": 5,
                                                             "n_warmup_steps": 1})
    epochs_key: str = "trainer.max_epochs"
    batch_size: int = 1
    # what the search takes from the preflight (conf/hparams_search/coarse_to_fine.yaml explains each)
    plan: dict[str, Any] = field(default_factory=lambda: {
        "widen": 3.0, "reg": {"decades": 4, "top_share": 1.0}, "budget": {"factor": 4, "min_epochs": 3},
        "small_val": {"examples": 200, "folds": 3}})
    pipeline: dict[str, Any] = field(default_factory=lambda: {
        "preflight": True, "final": False, "baseline": False, "final_epochs": None})
    verbose: bool = False  # True: every trial's own output (epoch lines, verdicts) on the console too
    # RDB storage (PostgreSQL, SQLite): each worker records its running trials' heartbeats every
    # `interval` s; a trial without one for `grace` s is taken for interrupted and drawn again
    heartbeat: dict[str, Any] = field(default_factory=lambda: {"interval": 10, "grace": 60})


ConfigStore.instance().store(group="hydra/sweeper", name="coarse_to_fine", node=CoarseToFineSweeperConf,
                             provider="babysit")
