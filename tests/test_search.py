import csv
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import optuna
import pytest
import yaml

from babysit.search.coarse_to_fine import CoarseToFine, SearchSettings, Stage
from babysit.search.space import Param, narrow

ROOT = Path(__file__).resolve().parents[1]


def sweep(tmp_path: Path, *overrides: str, name: str = "t") -> subprocess.CompletedProcess:
    cmd = [sys.executable, "train.py", "-m", "hparams_search=coarse_to_fine", "data=digits", "model=fc3",
           f"hydra.sweep.dir={tmp_path / name}", f"hydra.sweeper.study_name={name}", *overrides]
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600)


def rows(tmp_path: Path, name: str = "t") -> list[dict]:
    with (tmp_path / name / "trials.csv").open() as f:
        return list(csv.DictReader(f))


LR = Param("optimizer.lr", "log", 1e-6, 1e-3)


def test_narrow_inside_shrinks_around_the_top_trials():
    n = narrow(LR, 1e-4, [1e-4, 2e-4, 5e-5], shrink=0.25, edge=0.1)
    assert n.warning is None
    assert LR.low <= n.param.low < 5e-5 and 2e-4 < n.param.high <= LR.high
    width = math.log10(n.param.high / n.param.low)
    assert width == pytest.approx(0.75)  # 0.25 × 3 decades


def test_narrow_at_an_edge_warns_and_recentres_past_it():
    n = narrow(LR, 9.5e-4, [9.5e-4, 8e-4], shrink=0.25, edge=0.1)
    assert "upper edge" in n.warning and "optimizer.lr" in n.warning
    centre = math.sqrt(n.param.low * n.param.high)
    assert centre == pytest.approx(9.5e-4, rel=1e-6)
    assert n.param.high > LR.high  # reaches past the old edge instead of clipping


def test_narrow_lower_edge_and_choices():
    assert "lower edge" in narrow(LR, 1.1e-6, [1.1e-6], 0.25, 0.1).warning
    choice = Param("model.norm", "choice", choices=("none", "batch"))
    assert narrow(choice, "batch", ["batch"], 0.25, 0.1).param == choice


def test_interrupted_trials_of_a_dead_process_are_failed_and_drawn_again(tmp_path):
    storage = f"sqlite:///{tmp_path / 's.db'}"
    study = optuna.create_study(study_name="s", storage=storage, direction="maximize")
    t = study.ask()
    t.set_user_attr("stage", "coarse")
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    import socket

    t.set_user_attr("owner", f"{socket.gethostname()}:{dead.pid}")
    search = CoarseToFine(SearchSettings(params={"x": {"type": "uniform", "low": 0, "high": 1}},
                                         stages=[Stage("coarse", 2, 1)], study_name="s", storage=storage))
    study = search.open_study()
    assert study.trials[0].state == optuna.trial.TrialState.FAIL
    assert search.stage_trials(study, Stage("coarse", 2, 1)) == []


def test_a_small_sweep_runs_coarse_then_fine_around_the_coarse_best(tmp_path):
    result = sweep(tmp_path, "hydra.sweeper.stages.0.trials=6", "hydra.sweeper.stages.0.epochs=1",
                   "hydra.sweeper.stages.1.trials=3", "hydra.sweeper.stages.1.epochs=2",
                   "hydra.sweeper.params.optimizer.lr.low=1e-4", "hydra.sweeper.params.optimizer.lr.high=1e-1",
                   "optimizer=sgd")
    assert result.returncode == 0, result.stderr[-2000:]
    table = rows(tmp_path)
    assert [r["stage"] for r in table] == ["coarse"] * 6 + ["fine"] * 3
    assert all(r["state"] in ("COMPLETE", "PRUNED") for r in table)
    coarse = [r for r in table if r["stage"] == "coarse" and r["value"]]
    best = max(coarse, key=lambda r: float(r["value"]))
    fine_lrs = [float(r["optimizer.lr"]) for r in table if r["stage"] == "fine"]
    # the fine stage samples within about a decade of the coarse best, in log space
    assert all(abs(math.log10(lr / float(best["optimizer.lr"]))) < 1.6 for lr in fine_lrs)
    assert "val acc: " in result.stdout and "(9 / 9)" in result.stdout and "[fine, " in result.stdout
    chosen = yaml.safe_load((tmp_path / "t" / "best.yaml").read_text())
    assert chosen["command"].startswith("python train.py data=digits model=fc3")
    assert any(o.startswith("optimizer.lr=") for o in chosen["overrides"])
    for fig in ("optimizer_lr.png", "reg_l2.png", "history.png"):
        assert (tmp_path / "t" / "figures" / fig).stat().st_size > 10_000
    assert_trials_skip_their_reports_and_rebuild_in_full(tmp_path / "t", table, chosen)


def assert_trials_skip_their_reports_and_rebuild_in_full(sweep_dir: Path, table: list[dict], chosen: dict):
    """The sweep writes the best trial's report once, at the end, and links it; any other trial's
    report builds later from its directory, as complete as a run's own."""
    from babysit.report.__main__ import main as report_main

    best_dir = Path(chosen["run_dir"])
    assert (best_dir / "report.html").is_file()
    assert os.path.relpath(best_dir / "report.html", sweep_dir) in (sweep_dir / "sweep_report.md").read_text()
    others = [Path(r["run_dir"]) for r in table if r["run_dir"] and Path(r["run_dir"]) != best_dir]
    assert others and not any((d / "report.html").exists() for d in others)
    others = [Path(r["run_dir"]) for r in table if r["state"] == "COMPLETE" and Path(r["run_dir"]) != best_dir]
    summary = json.loads((others[0] / "summary.json").read_text())
    assert "fit" in summary["timings"] and not any(k.startswith("test/") for k in summary.get("final", {}))
    report_main([str(others[0])])
    text = (others[0] / "report.md").read_text()
    assert "## Training" in text and "## Monitoring verdicts" in text
    assert {"train_cost.png", "train_accuracy.png", "train_update_ratio.png"} <= {
        p.name for p in (others[0] / "figures").glob("*.png")}


def test_an_exploding_trial_is_pruned_and_the_sweep_goes_on(tmp_path):
    result = sweep(tmp_path, "optimizer=sgd", "hydra.sweeper.params.optimizer.lr.type=choice",
                   "+hydra.sweeper.params.optimizer.lr.choices=[1000000.0,0.05]",
                   "hydra.sweeper.stages=[{name: coarse, trials: 4, epochs: 1, sampler: random}]",
                   "hydra.sweeper.pruner.type=none", name="2024")  # a study name that reads as a number
    assert result.returncode == 0, result.stderr[-2000:]
    table = rows(tmp_path, "2024")
    exploded = [r for r in table if float(r["optimizer.lr"]) == 1e6]
    assert exploded and all(r["state"] == "PRUNED" and r["reason"].startswith("exploded") for r in exploded)
    assert any(r["state"] == "COMPLETE" for r in table)


def test_rerunning_the_same_sweep_resumes_without_repeating_trials(tmp_path):
    args = ["hydra.sweeper.stages=[{name: coarse, trials: 3, epochs: 1, sampler: random}]"]
    assert sweep(tmp_path, *args).returncode == 0
    first = rows(tmp_path)
    args = ["hydra.sweeper.stages=[{name: coarse, trials: 5, epochs: 1, sampler: random}]"]
    result = sweep(tmp_path, *args)
    assert result.returncode == 0, result.stderr[-2000:]
    second = rows(tmp_path)
    assert second[:3] == first  # the finished trials stay as they were …
    assert [r["number"] for r in second] == ["0", "1", "2", "3", "4"]  # … and only two new ones ran
    assert "3 already done" in result.stdout
    assert result.stdout.count("val acc: ") == 2
    assert sorted(os.listdir(tmp_path / "t")).count("trial_3") == 1


def test_best_so_far_follows_the_direction_of_the_metric():
    from babysit.search.figures import best_so_far

    rows = [{"number": 0, "epochs": 3, "value": 0.5}, {"number": 1, "epochs": 3, "value": None},
            {"number": 2, "epochs": 2, "value": 0.2}, {"number": 3, "epochs": 1, "value": 0.9}]
    assert best_so_far(rows) == ([3, 6, 8, 9], [0.5, 0.5, 0.5, 0.9])
    assert best_so_far(rows, "minimize") == ([3, 6, 8, 9], [0.5, 0.5, 0.2, 0.2])


def test_a_trial_that_runs_out_of_memory_is_failed_with_the_reason_and_the_sweep_goes_on(tmp_path):
    # two hidden layers of 10^5 units ask for a 40 GB weight matrix: the allocation fails as memory runs out
    result = sweep(tmp_path, "model.hidden=[50,100000]", "hydra.sweeper.pipeline.preflight=false",
                   "hydra.sweeper.params.optimizer.lr.low=1e-5", "hydra.sweeper.params.optimizer.lr.high=1e-4",
                   "hydra.sweeper.params.reg.l2.low=1e-5", "hydra.sweeper.params.reg.l2.high=1e-3",
                   "+hydra.sweeper.params.model.hidden.0={type: choice, choices: [100000, 50]}",
                   "hydra.sweeper.stages=[{name: coarse, trials: 4, epochs: 1, sampler: random}]",
                   "hydra.sweeper.pruner.type=none")
    assert result.returncode == 0, result.stderr[-2000:]
    table = rows(tmp_path)
    huge = [r for r in table if r["model.hidden.0"] == "100000"]
    assert huge and all(r["state"] == "FAIL" and "can't allocate memory" in r["reason"] for r in huge)
    assert any(r["state"] == "COMPLETE" for r in table) and len(table) == 4


def test_a_launcher_that_fails_fails_its_trials_and_the_sweep_goes_on(tmp_path):
    from babysit.search.trial_result import TrialResult

    calls = []

    def launch(jobs, first):
        calls.append(first)
        if first == 1:
            raise RuntimeError("A worker process managed by the executor was unexpectedly terminated")
        return [TrialResult(0.5, optuna.trial.TrialState.COMPLETE) for _ in jobs]

    search = CoarseToFine(SearchSettings(params={"x": {"type": "uniform", "low": 0, "high": 1}},
                                         stages=[Stage("coarse", 3, 1)], study_name="s",
                                         storage=f"sqlite:///{tmp_path / 's.db'}"))
    study = search.run([], launch, lambda study, trial_id: [])
    states = [t.state.name for t in study.trials]
    assert states == ["COMPLETE", "FAIL", "COMPLETE"] and calls == [0, 1, 2]
    assert study.trials[1].user_attrs["reason"].startswith("the launcher failed: RuntimeError: A worker process")


def test_a_trial_whose_heartbeats_stop_is_failed_as_interrupted(tmp_path):
    """A worker on another machine that dies: only its heartbeats tell."""
    import time

    settings = SearchSettings(params={"x": {"type": "uniform", "low": 0, "high": 1}}, stages=[Stage("coarse", 2, 1)],
                              study_name="s", storage=f"sqlite:///{tmp_path / 's.db'}",
                              heartbeat={"interval": 1, "grace": 2})
    search = CoarseToFine(settings)
    study = search.open_study()
    trial = study.ask()
    trial.set_user_attr("stage", "coarse")
    trial.set_user_attr("owner", "elsewhere:1234")
    search.storage.record_heartbeat(trial._trial_id)
    time.sleep(3.5)
    study = search.open_study()  # any worker that looks
    assert study.trials[0].state == optuna.trial.TrialState.FAIL
    assert search.stage_trials(study, Stage("coarse", 2, 1)) == []
