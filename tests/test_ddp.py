"""One run on two CPU processes (Lightning DDP, gloo): the numbers of one process over the same global
batches, one preflight, one result line, one writer; the ranks stop together."""

import json
import math
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from omegaconf import OmegaConf

from babysit.data.batches import TensorBatches
from babysit.distributed import check_devices
from babysit.errors import BabysitError
from babysit.run import run
from babysit.run_files import PREDICTIONS
from tests.cli import ROOT, train
from tests.conftest import make_cfg

# 120 training patches: 2 ranks × 16 per step = one process × 32 per step, 4 steps an epoch
COMMON = ["data=faces", "model=lenet5", "trainer.max_epochs=3", "babysit.overfit.enabled=false",
          "babysit.range_test.enabled=false", "babysit.lr_bounds.enabled=false", "babysit.monitors.interval=2"]
DDP = [*COMMON, "trainer=ddp", "data.batch_size=16"]
ONE = [*COMMON, "trainer=cpu", "data.batch_size=32", "babysit.report=false"]
# float32 rounding: a rank's mean over 16 samples averaged over 2 ranks, against one mean over 32
# (and gradients summed by all-reduce), differ by ~1e-7 relative per step. Measured after 12 Adam
# steps: losses and accuracies within 2e-7, update ratios and gradient norms within 2e-7, the mean
# |gradient| of classifier.fc1 (many tiny entries that nearly cancel) within 1.2e-5. 1e-4 leaves
# room for other machines' kernels; a wrong batch, a missing reduction or a per-rank mean is off by
# far more (a sample more or less moves an accuracy by 1/40).
RTOL = 1e-4


def summary(run_dir: Path) -> dict:
    return json.loads((run_dir / "summary.json").read_text())


@pytest.fixture(scope="module")
def ddp_run(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("ddp") / "run"
    result = train(*DDP, run_dir=run_dir, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    return run_dir, result


def test_two_processes_give_the_numbers_of_one_process_over_the_same_global_batches(ddp_run, tmp_path):
    run_dir, result = ddp_run
    single = make_cfg(ONE, tmp_path / "single")
    run(single)
    one, two = summary(tmp_path / "single"), summary(run_dir)
    assert set(one["final"]) == set(two["final"])
    for key, value in one["final"].items():
        if key.endswith("/acc"):
            assert two["final"][key] == value, key  # every split evaluated once, not once per rank
        else:
            assert math.isclose(two["final"][key], value, rel_tol=RTOL), (key, value, two["final"][key])
    assert two["data"]["sizes"] == one["data"]["sizes"]
    assert [v["message"] for v in two["monitors"]["verdicts"]] == [v["message"] for v in one["monitors"]["verdicts"]]
    # every logged value of every step and epoch: epoch means over both ranks, monitors of the synchronised model
    a, b = pd.read_csv(tmp_path / "single" / "metrics.csv"), pd.read_csv(run_dir / "metrics.csv")
    assert list(a.columns) == list(b.columns) and a.shape == b.shape
    pd.testing.assert_frame_equal(a, b, rtol=RTOL, atol=1e-9)
    # the test predictions of the whole split, in its order, written once
    with np.load(tmp_path / "single" / PREDICTIONS) as one, np.load(run_dir / PREDICTIONS) as two:
        for key in ("labels", "predicted", "confusion"):
            np.testing.assert_array_equal(one[key], two[key])
        np.testing.assert_allclose(one["confidence"], two["confidence"], rtol=RTOL)
        assert sorted(one["mistake_index"]) == sorted(two["mistake_index"])


def test_two_processes_print_and_write_once(ddp_run):
    run_dir, result = ddp_run
    out = result.stdout
    assert out.count("Preflight (babysit.preflight=false skips it)") == 1
    assert len(re.findall(r"^\[PASS\] initial loss", out, flags=re.M)) == 1
    assert re.findall(r"^Finished epoch (\d) / 3", out, flags=re.M) == ["1", "2", "3"]
    assert len(re.findall(r"^Finished: ", out, flags=re.M)) == 1
    assert len(re.findall(r"^Report: ", out, flags=re.M)) == 1
    assert "sync_dist" not in result.stderr  # every epoch metric is reduced over the ranks
    s = summary(run_dir)
    assert s["status"] == "finished" and s["preflight"]["checks"]  # rank 0's summary: the one that ran it
    assert (run_dir / "report.html").is_file() and (run_dir / "checkpoints" / "last.ckpt").is_file()
    assert not list(run_dir.rglob("*.tmp"))


def test_a_sigterm_to_the_launching_process_stops_both_and_resumes_exactly(ddp_run, tmp_path):
    run_dir = tmp_path / "run"
    stop = ["+callbacks.stop._target_=tests.interrupt.SignalAt", "+callbacks.stop.step=5",
            "+callbacks.stop.signal_name=SIGTERM", "+callbacks.stop.rank=0"]
    stopped = train(*DDP, *stop, run_dir=run_dir, timeout=600)
    assert stopped.returncode == 143, stopped.stderr[-3000:]
    assert "Interrupted at epoch 2, step 6" in stopped.stdout  # inside epoch 2, both ranks after the same step
    resumed = subprocess.run([sys.executable, "train.py", f"resume={run_dir}", "callbacks.stop.step=-1"], cwd=ROOT,
                             capture_output=True, text=True, timeout=600)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert summary(run_dir)["final"] == summary(ddp_run[0])["final"]
    pd.testing.assert_frame_equal(pd.read_csv(run_dir / "metrics.csv"), pd.read_csv(ddp_run[0] / "metrics.csv"))


def test_an_exploding_cost_stops_both_processes_at_the_same_step(tmp_path):
    result = train(*DDP, "optimizer=sgd", "optimizer.lr=1e4", "babysit.preflight=false", run_dir=tmp_path / "run",
                   timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]  # no rank left waiting for the other
    s = summary(tmp_path / "run")
    assert s["status"] == "exploded" and s["explosion"]["epoch"] == 1
    assert len(re.findall(r"^Exploded: ", result.stdout, flags=re.M)) == 1
    assert result.stdout.count("[FAIL] training stopped") == 1


def test_more_processes_than_cores_is_one_line(tmp_path):
    devices = len(os.sched_getaffinity(0)) + 1
    if devices > 64:
        pytest.skip("the schema caps trainer.devices at 64")
    result = train("trainer=ddp", f"trainer.devices={devices}", run_dir=tmp_path / "run")
    err = result.stderr.strip()
    assert result.returncode == 2 and len(err.splitlines()) == 1 and "Traceback" not in err, err
    assert f"trainer.devices={devices} CPU processes but this machine has" in err and "or fewer" in err


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_gpus_that_are_not_there_are_named():
    with pytest.raises(BabysitError, match="trainer.accelerator=gpu but this machine has no GPU"):
        check_devices(OmegaConf.create({"accelerator": "gpu", "devices": 2}))
    with pytest.raises(BabysitError, match="sync_batchnorm=true needs GPUs"):
        check_devices(OmegaConf.create({"accelerator": "cpu", "devices": 2, "sync_batchnorm": True}))
    check_devices(OmegaConf.create({"accelerator": "cpu", "devices": 1}))


def test_ranks_together_see_the_batches_of_one_process():
    x = torch.arange(23).float().view(23, 1)
    torch.manual_seed(0)
    one = [b.flatten().tolist() for b, _ in TensorBatches(x, x, 6, shuffle=True)]
    shards = []
    for rank in (0, 1):
        torch.manual_seed(0)
        shards.append([b.flatten().tolist() for b, _ in TensorBatches(x, x, 3, shuffle=True, rank=rank,
                                                                         world_size=2)])
    assert len(shards[0]) == len(shards[1]) == 4  # 11 samples each; the permutation's last sample waits
    for b, (a, c) in enumerate(zip(*shards, strict=True)):
        assert sorted(a + c) == sorted(one[b][: len(a + c)])


def test_evaluation_shards_cover_every_sample_exactly_once():
    x = torch.arange(23).float().view(23, 1)
    seen = [v for rank in range(3) for b, _ in TensorBatches(x, x, 4, shuffle=False, rank=rank, world_size=3)
            for v in b.flatten().tolist()]
    assert sorted(seen) == list(range(23))
