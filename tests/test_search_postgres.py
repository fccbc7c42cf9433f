"""Two sweep workers on two processes share one study in PostgreSQL (.ci/postgres.sh starts
a server on loopback and CI exports BABYSIT_POSTGRES_URL; without one this test skips)."""

import csv
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
URL = os.environ.get("BABYSIT_POSTGRES_URL")


def reachable(url: str) -> bool:
    try:
        import psycopg

        psycopg.connect(url, connect_timeout=3).close()
        return True
    except Exception:  # noqa: BLE001 - any failure means: no server to test against
        return False


@pytest.mark.skipif(not URL or not reachable(URL),
                    reason="no PostgreSQL server: run `export BABYSIT_POSTGRES_URL=$(bash .ci/postgres.sh)`")
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
