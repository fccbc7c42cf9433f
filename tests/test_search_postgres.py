"""Two sweep workers on two processes share one study in PostgreSQL (.ci/postgres.sh starts
a server on loopback and CI exports BABYSIT_POSTGRES_URL; without one these tests skip, and fail in CI)."""

import csv
import os
import subprocess
import sys
import uuid
from pathlib import Path

from tests.needs import needs

ROOT = Path(__file__).resolve().parents[1]
URL = os.environ.get("BABYSIT_POSTGRES_URL")


def reachable(url: str) -> bool:
    try:
        import psycopg

        psycopg.connect(url, connect_timeout=3).close()
        return True
    except Exception:  # noqa: BLE001 - any failure means: no server to test against
        return False


NEEDS_POSTGRES = needs(bool(URL) and reachable(URL),
                       "no PostgreSQL server: run `export BABYSIT_POSTGRES_URL=$(bash .ci/postgres.sh)`")


@NEEDS_POSTGRES
def test_two_workers_share_one_study_without_duplicate_trials(tmp_path):
    name = f"shared_{uuid.uuid4().hex[:8]}"
    cmd = [sys.executable, "train.py", "-m", "hparams_search=coarse_to_fine", "data=digits", "model=fc3",
           f"hydra.sweeper.storage={URL}", f"hydra.sweeper.study_name={name}",
           "hydra.sweeper.stages=[{name: coarse, trials: 6, epochs: 1, sampler: random}]"]
    workers = [subprocess.Popen(cmd + [f"hydra.sweep.dir={tmp_path / f'worker{i}'}"], cwd=ROOT,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for i in range(2)]
    outputs = [w.communicate(timeout=600) for w in workers]
    for w, (_, err) in zip(workers, outputs, strict=True):
        assert w.returncode == 0, err[-2000:]
    ran = [out.count("val acc: ") for out, _ in outputs]
    assert all(n >= 1 for n in ran), ran  # both workers took trials
    with (tmp_path / "worker1" / "trials.csv").open() as f:
        rows = list(csv.DictReader(f))
    numbers = [int(r["number"]) for r in rows]
    assert len(numbers) == len(set(numbers)) == sum(ran)
    assert 6 <= len(numbers) <= 7  # the shared budget, give or take one trial asked in the same instant


def _running_trial_of(study_name: str, pid: int, timeout: float = 300):
    """Wait until the worker with `pid` has a trial RUNNING (it is in the middle of it)."""
    import socket
    import time

    import optuna

    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            study = optuna.load_study(study_name=study_name, storage=URL)
        except KeyError:  # not created yet
            time.sleep(0.2)
            continue
        for t in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)):
            if t.user_attrs.get("owner") == f"{socket.gethostname()}:{pid}":
                return t.number
        time.sleep(0.2)
    raise AssertionError(f"worker {pid} never ran a trial")


@NEEDS_POSTGRES
def test_a_killed_worker_is_replaced_its_trial_drawn_again_and_a_restarted_worker_joins(tmp_path):
    import signal
    import time

    import optuna

    name = f"faults_{uuid.uuid4().hex[:8]}"
    trials = 8
    # grace: the survivor is paused while the restarted worker starts; its heartbeats must not go stale
    cmd = [sys.executable, "train.py", "-m", "hparams_search=coarse_to_fine", "data=digits", "model=fc3",
           f"hydra.sweeper.storage={URL}", f"hydra.sweeper.study_name={name}", "hydra.sweeper.pruner.type=none",
           "hydra.sweeper.heartbeat.grace=900",
           f"hydra.sweeper.stages=[{{name: coarse, trials: {trials}, epochs: 2, sampler: random}}]"]

    def worker(tag: str) -> subprocess.Popen:
        return subprocess.Popen(cmd + [f"hydra.sweep.dir={tmp_path / tag}"], cwd=ROOT, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)

    doomed, survivor = worker("doomed"), worker("survivor")
    killed = _running_trial_of(name, doomed.pid)
    time.sleep(1.0)  # inside the trial's training
    doomed.send_signal(signal.SIGKILL)
    doomed.communicate(timeout=60)
    survivor.send_signal(signal.SIGSTOP)  # so the study still has trials left when the restarted worker joins
    try:
        restarted = worker("doomed")  # the same command again: its preflight and plan are done (pipeline.json)
        _running_trial_of(name, restarted.pid)
    finally:
        survivor.send_signal(signal.SIGCONT)
    outputs = {tag: w.communicate(timeout=900) for tag, w in (("survivor", survivor), ("restarted", restarted))}
    for tag, w in (("survivor", survivor), ("restarted", restarted)):
        assert w.returncode == 0, outputs[tag][1][-2000:]
    assert "preflight: done in an earlier run, not repeated" in outputs["restarted"][0]
    assert outputs["restarted"][0].count("val acc: ") >= 1  # it took trials of the study again

    study = optuna.load_study(study_name=name, storage=URL)
    states = {t.number: t.state for t in study.trials}
    assert states[killed] == optuna.trial.TrialState.FAIL
    assert study.trials[killed].user_attrs["reason"].startswith("interrupted: its worker")
    assert study.user_attrs[f"interrupted/{killed}"]
    assert optuna.trial.TrialState.RUNNING not in states.values()
    finished = [n for n, s in states.items() if s == optuna.trial.TrialState.COMPLETE]
    assert trials <= len(finished) <= trials + 1  # the budget, give or take one asked in the same instant
    numbers = [t.number for t in study.trials]
    assert len(numbers) == len(set(numbers))
    with (tmp_path / "doomed" / "trials.csv").open() as f:
        table = list(csv.DictReader(f))
    assert [r["reason"] for r in table if int(r["number"]) == killed][0].startswith("interrupted")
