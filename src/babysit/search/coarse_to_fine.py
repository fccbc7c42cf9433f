"""The coarse-to-fine search (protocol step 8), independent of how jobs are launched:
stages of trials drawn with Optuna in log space, each stage's range narrowed around the
previous stage's best, with a warning (and a recentred range) when the best sits at an edge."""

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import optuna
from optuna.exceptions import UpdateFinishedTrialError
from optuna.trial import TrialState

from babysit.errors import BabysitError
from babysit.search.plan import given
from babysit.search.progress import SearchProgress
from babysit.search.space import Param, narrow
from babysit.search.storage import open_storage
from babysit.search.trial_result import TrialResult
from babysit.search.workers import INTERRUPTED, fail_gone_workers_trials, heartbeats, owner
from babysit.verdict import console

# the lecture's short names in the per-trial line
SHORT = {"optimizer.lr": "lr", "reg.l2": "reg"}
Launch = Callable[[list[list[str]], int], Sequence[TrialResult]]


@dataclass
class Stage:
    name: str
    trials: int
    epochs: int | None  # None: planned from what the preflight measured (search/plan.py)
    sampler: str = "random"  # random | tpe
    overrides: list[str] = field(default_factory=list)  # for this stage's trials only (e.g. cv.folds=3)


@dataclass
class SearchSettings:
    params: dict  # nested config keys → {type, low, high} or {type: choice, choices}
    stages: list[Stage]
    study_name: str
    storage: str
    direction: str = "maximize"
    seed: int = 0
    top_k: int = 3
    shrink: float = 0.5
    edge_fraction: float = 0.1
    pruner: dict = field(default_factory=lambda: {"type": "median", "n_startup_trials": 5, "n_warmup_steps": 1})
    epochs_key: str = "trainer.max_epochs"
    batch_size: int = 1  # trials launched together (the launcher's parallelism)
    metric_name: str = "val acc"
    heartbeat: dict = field(default_factory=lambda: {"interval": 10, "grace": 60})  # seconds, RDB storage

    @property
    def params_flat(self) -> dict[str, dict]:
        return flatten_params(self.params)


def make_pruner(spec: dict) -> optuna.pruners.BasePruner:
    kind = spec.get("type", "median")
    if kind == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=spec.get("n_startup_trials", 5),
                                           n_warmup_steps=spec.get("n_warmup_steps", 1))
    if kind == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=spec.get("min_resource", 1))
    if kind == "none":
        return optuna.pruners.NopPruner()
    raise BabysitError(f"hydra.sweeper.pruner.type={kind!r} must be median, hyperband or none")


def pruner_override(spec: dict) -> str:
    """The pruner settings as a Hydra override value, e.g. {type:median,n_warmup_steps:1}."""
    return "{" + ",".join(f"{k}:{v}" for k, v in spec.items()) + "}"


def make_sampler(kind: str, seed: int) -> optuna.samplers.BaseSampler:
    if kind == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if kind == "tpe":
        return optuna.samplers.TPESampler(seed=seed, n_startup_trials=3)
    raise BabysitError(f"stage sampler={kind!r} must be random or tpe")


def launch_or_fail(launch: Launch, jobs: list[list[str]], first_index: int) -> Sequence[TrialResult]:
    """The launcher's results; when the launcher itself fails (e.g. joblib loses a worker process that
    the system killed for its memory), every trial of the batch is FAIL with the reason."""
    try:
        return launch(jobs, first_index)
    except Exception as e:  # noqa: BLE001 - whatever broke, the sweep goes on with the next trials
        reason = f"the launcher failed: {type(e).__name__}: {str(e).splitlines()[0] if str(e) else ''}"
        return [TrialResult(None, TrialState.FAIL, reason) for _ in jobs]


def lecture_line(metric: str, value: float | None, params: dict, position: int, total: int) -> str:
    """The lecture's trial line: `val acc: 0.412000, lr: 2.310000e-04, reg: 1.120000e-02, (12 / 100)`."""
    shown = ", ".join(f"{SHORT.get(k, k)}: {v:.6e}" if isinstance(v, float) else f"{SHORT.get(k, k)}: {v}"
                      for k, v in params.items())
    return f"{metric}: {f'{value:.6f}' if value is not None else '-'}, {shown}, ({position} / {total})"


def flatten_params(tree: dict, prefix: str = "") -> dict[str, dict]:
    """{optimizer: {lr: {type: log, …}}} → {"optimizer.lr": {type: log, …}}: nested in the config
    so that a command line can reach every bound (hydra.sweeper.params.optimizer.lr.low=1e-4)."""
    out = {}
    for key, value in tree.items():
        name = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, dict) and "type" in value:
            out[name] = dict(value)
        elif isinstance(value, dict):
            out.update(flatten_params(value, name))
        else:
            raise BabysitError(f"search param {name}: give {{type: log|uniform|int|choice, …}}, not {value!r}")
    return out


def best_value(study: optuna.Study) -> float | None:
    done = [t.value for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))]
    if not done:
        return None
    return max(done) if study.direction == optuna.study.StudyDirection.MAXIMIZE else min(done)


class CoarseToFine:
    def __init__(self, settings: SearchSettings):
        self.s = settings
        if not settings.stages:
            raise BabysitError("hydra.sweeper.stages is empty: give at least one stage")
        for stage in settings.stages:
            make_sampler(stage.sampler, 0)  # an unknown sampler is one line now, not after the first stage
        flat = settings.params_flat
        # ranges left open (low/high null) are planned from the preflight's measurements (search/plan.py)
        self.params = [Param.from_config(n, s) for n, s in flat.items()] if all(map(given, flat.values())) else None
        self.warnings: list[dict] = []

    @staticmethod
    def describe(name: str, spec: dict) -> str:
        return Param.from_config(name, spec).describe()

    def open_study(self) -> optuna.Study:
        self.storage = open_storage(self.s.storage, self.s.heartbeat)
        study = optuna.create_study(study_name=self.s.study_name, storage=self.storage,
                                    direction=self.s.direction, load_if_exists=True,
                                    pruner=make_pruner(self.s.pruner))
        fail_gone_workers_trials(study)
        return study

    def stage_trials(self, study: optuna.Study, stage: Stage) -> list[optuna.trial.FrozenTrial]:
        """The stage's trials, finished or running, without those whose worker died (drawn again)."""
        interrupted = study.user_attrs
        return [t for t in study.get_trials(deepcopy=False)
                if t.user_attrs.get("stage") == stage.name and not interrupted.get(INTERRUPTED.format(t.number))]

    def ranges_for(self, study: optuna.Study, index: int) -> list[Param]:
        """The ranges of stage `index`: the configured ones for the first stage, narrowed
        from the previous stage's results for the others (computed once, kept in the study)."""
        key = f"ranges/{self.s.stages[index].name}"
        if key in study.user_attrs:
            return [Param.from_config(name, spec) for name, spec in study.user_attrs[key].items()]
        if index == 0:
            if self.params is None:
                raise BabysitError("the search ranges are not set: give hydra.sweeper.params.<key>.low and high")
            ranges = self.params
        else:
            ranges = self._narrowed(study, index)
        study.set_user_attr(key, {p.name: p.as_dict() for p in ranges})
        return ranges

    def _narrowed(self, study: optuna.Study, index: int) -> list[Param]:
        prev = self.s.stages[index - 1]
        previous = self.ranges_for(study, index - 1)
        done = [t for t in self.stage_trials(study, prev) if t.state == TrialState.COMPLETE]
        if not done:
            console.print(f"[yellow]no trial of stage {prev.name} completed: stage "
                          f"{self.s.stages[index].name} keeps its ranges[/yellow]")
            return previous
        done.sort(key=lambda t: t.value, reverse=self.s.direction == "maximize")
        top = done[: self.s.top_k]
        ranges = []
        for p in previous:
            n = narrow(p, top[0].params[p.name], [t.params[p.name] for t in top], self.s.shrink, self.s.edge_fraction)
            if n.warning:
                console.print(f"[yellow][WARN] {n.warning}[/yellow]")
                self.warnings.append({"stage": prev.name, "param": p.name, "message": n.warning})
                study.set_user_attr(f"warning/{prev.name}/{p.name}", n.warning)
            ranges.append(n.param)
        return ranges

    def run(self, base_overrides: list[str], launch: Launch, trial_overrides: Callable[[optuna.Study, int], list[str]]):
        study = self.open_study()
        total = sum(st.trials for st in self.s.stages)
        progress = SearchProgress(total, sum(len(self.stage_trials(study, st)) for st in self.s.stages),
                                  self.s.metric_name)
        try:
            for index, stage in enumerate(self.s.stages):
                self._run_stage(study, index, stage, base_overrides, launch, trial_overrides, progress, total)
        finally:
            progress.stop()
        return study

    def _run_stage(self, study, index: int, stage: Stage, base_overrides, launch, trial_overrides, progress,
                   total: int) -> None:
        if not isinstance(stage.epochs, int) or isinstance(stage.epochs, bool) or stage.epochs < 1:
            raise BabysitError(f"stage {stage.name} has epochs={stage.epochs!r}: give a whole number ≥ 1 "
                               f"(hydra.sweeper.stages), or null to plan it from the preflight")
        ranges = self.ranges_for(study, index)
        done = len(self.stage_trials(study, stage))
        extra = f" with {' '.join(stage.overrides)}" if stage.overrides else ""
        console.print(f"[bold]Stage {stage.name}[/bold]: {stage.trials} trials × {stage.epochs} epochs{extra}, "
                      f"{stage.sampler} sampler; " + "; ".join(p.describe() for p in ranges)
                      + (f" — {done} already done" if done else ""))
        study.sampler = make_sampler(stage.sampler, self.s.seed + index)
        while done < stage.trials:
            n = min(self.s.batch_size, stage.trials - done)
            trials = [study.ask({p.name: p.distribution() for p in ranges}) for _ in range(n)]
            for t in trials:
                t.set_user_attr("stage", stage.name)
                t.set_user_attr("owner", owner())
            jobs = [base_overrides + [f"{k}={v!r}" if isinstance(v, str) else f"{k}={v}"
                                      for k, v in t.params.items()]
                    + [f"{self.s.epochs_key}={stage.epochs}", f"trial.pruner={pruner_override(self.s.pruner)}"]
                    + stage.overrides + trial_overrides(study, t._trial_id)
                    for t in trials]
            with heartbeats(self.storage, [t._trial_id for t in trials]):
                results = launch_or_fail(launch, jobs, trials[0].number)
            for t, r in zip(trials, results, strict=True):
                self._tell(study, t, r, stage, total)
            fail_gone_workers_trials(study)  # another worker sharing the study may have died
            done = len(self.stage_trials(study, stage))
            finished = sum(len(self.stage_trials(study, st)) for st in self.s.stages)
            best = best_value(study)
            progress.update(stage.name, finished, best)

    def _tell(self, study, trial, result: TrialResult, stage: Stage, total: int) -> None:
        try:
            trial.set_user_attr("epochs", result.epochs)
            trial.set_user_attr("run_dir", result.run_dir)
            if result.reason:
                trial.set_user_attr("reason", result.reason)
            if result.state == TrialState.COMPLETE:
                study.tell(trial, result.value)
            else:
                study.tell(trial, state=result.state)
        except (UpdateFinishedTrialError, ValueError):
            console.print(f"trial {trial.number}: another worker took it for interrupted (no heartbeat within "
                          f"{self.s.heartbeat.get('grace')} s) and drew it again; its result is left out", markup=False)
            return
        state = result.state.name + (f" ({result.reason})" if result.reason else "")
        line = lecture_line(self.s.metric_name, result.value, trial.params, trial.number + 1, total)
        console.print(f"{line}  [{stage.name}, {state}]", markup=False)
