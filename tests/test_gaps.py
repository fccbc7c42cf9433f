"""What the other tests left open: the fine stage's ranges of a real sweep, the regulariser over
trainable weights only (frozen layers left out), the preflight's RNG restore with dropout and
augmentation drawing random numbers."""

import csv
import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
import torch

from babysit.run import build, run
from babysit.search.space import Param, narrow
from tests.cli import ROOT
from tests.conftest import make_cfg

# -- 6. coarse-to-fine narrowing in a real sweep ----------------------------------------------------

TOP_K, SHRINK, EDGE = 3, 0.25, 0.1


def test_the_fine_stage_searches_the_range_narrowed_around_the_coarse_top_trials(tmp_path):
    sweep_dir = tmp_path / "sweep"
    result = subprocess.run(
        [sys.executable, "train.py", "-m", "hparams_search=coarse_to_fine", "data=digits", "model=fc3",
         "optimizer=sgd", "hydra.sweeper.params.optimizer.lr.low=1e-4", "hydra.sweeper.params.optimizer.lr.high=1e-1",
         "hydra.sweeper.params.reg.l2.low=1e-6", "hydra.sweeper.params.reg.l2.high=1e-1",
         "hydra.sweeper.pipeline.preflight=false", "hydra.sweeper.pruner.type=none",
         "hydra.sweeper.stages.0.trials=4", "hydra.sweeper.stages.0.epochs=1",
         "hydra.sweeper.stages.1.trials=2", "hydra.sweeper.stages.1.epochs=1",
         f"hydra.sweeper.top_k={TOP_K}", f"hydra.sweeper.shrink={SHRINK}", f"hydra.sweeper.edge_fraction={EDGE}",
         f"hydra.sweep.dir={sweep_dir}", "hydra.sweeper.study_name=narrowing"],
        cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    with (sweep_dir / "trials.csv").open() as f:
        table = list(csv.DictReader(f))
    assert [r["stage"] for r in table] == ["coarse"] * 4 + ["fine"] * 2
    stages = {s["name"]: s for s in json.loads((sweep_dir / "search.json").read_text())["stages"]}
    coarse = {name: Param.from_config(name, spec) for name, spec in stages["coarse"]["ranges"].items()}
    fine = {name: Param.from_config(name, spec) for name, spec in stages["fine"]["ranges"].items()}
    assert set(coarse) == set(fine) == {"optimizer.lr", "reg.l2"}
    assert (coarse["optimizer.lr"].low, coarse["optimizer.lr"].high) == (1e-4, 1e-1)

    # the coarse stage's top-k trials, as trials.csv lists them (best first; ties keep trial order)
    done = [r for r in table if r["stage"] == "coarse" and r["state"] == "COMPLETE"]
    assert len(done) == 4, table
    top = sorted(done, key=lambda r: float(r["value"]), reverse=True)[:TOP_K]
    for name, param in coarse.items():
        expected = narrow(param, float(top[0][name]), [float(r[name]) for r in top], SHRINK, EDGE).param
        assert (fine[name].low, fine[name].high) == pytest.approx((expected.low, expected.high), rel=1e-9), name
        # narrower than the coarse range, not the coarse range again
        assert param.position(fine[name].high) - param.position(fine[name].low) < 1 - 1e-6, (name, fine[name])
        for r in table:
            if r["stage"] == "fine":
                assert fine[name].low <= float(r[name]) <= fine[name].high, (name, r[name], fine[name])
    assert "Stage fine" in result.stdout and fine["optimizer.lr"].describe() in result.stdout


# -- 7. the regulariser: trainable weights only (the penalty itself: tests/test_verdict_and_penalty.py) --

SOURCE = ["data=faces", "model=lenet5", "model.norm=batch", "trainer.max_epochs=1", "babysit.preflight=false",
          "babysit.report=false", "babysit.test=false"]


@pytest.fixture(scope="module")
def faces_ckpt(tmp_path_factory) -> Path:
    cfg = make_cfg(SOURCE, tmp_path_factory.mktemp("source") / "run")
    run(cfg)
    return Path(cfg.paths.output_dir) / "checkpoints" / "last.ckpt"


def test_a_frozen_backbones_logged_cost_carries_the_heads_penalty_only(faces_ckpt, cfg_factory):
    l2, l1 = 100.0, 1.0
    # an lr so small that the head does not move in the epoch: the penalty stays its value at init
    args = ["data=faces", "model=lenet5", "model.norm=batch", f"transfer.checkpoint={faces_ckpt}",
            "transfer.mode=freeze", "optimizer=sgd", "optimizer.lr=1e-9", f"reg.l2={l2}", f"reg.l1={l1}",
            "trainer.max_epochs=1", "babysit.preflight=false", "babysit.report=false", "babysit.test=false"]
    _, module, _ = build(cfg_factory(*args, out="built"))  # the network the run starts from (same seed)
    weights = {n: p for n, p in module.net.named_parameters() if p.ndim > 1}
    trainable = {n for n, p in weights.items() if p.requires_grad}
    assert trainable == {"classifier.fc3.weight"}  # the new head; the loaded backbone is frozen

    def penalty(names) -> float:
        with torch.no_grad():
            return sum(0.5 * l2 * float((weights[n].double() ** 2).sum()) + l1 * float(weights[n].double().abs().sum())
                       for n in names)

    head_only, everything = penalty(trainable), penalty(weights)
    assert everything > 2 * head_only
    cfg = cfg_factory(*args, out="run")
    run(cfg)
    epoch = pd.read_csv(Path(cfg.paths.output_dir, "metrics.csv")).dropna(subset=["train/loss"]).iloc[0]
    logged = epoch["train/loss"] - epoch["train/data_loss"]  # the epoch's mean penalty
    assert logged == pytest.approx(head_only, rel=1e-5), (logged, head_only, everything)


# -- 8. the preflight restores the RNG that dropout and augmentation draw from ------------------------

def test_the_preflight_leaves_training_with_dropout_and_augmentation_alone(cfg_factory):
    """tests/test_babysitter.py and tests/test_preflight.py check this without dropout or augmentation
    (only the batch order draws random numbers there)."""
    args = ["data=faces", "model=fc3", "model.dropout=0.5", "augment=light", "trainer.max_epochs=2",
            "data.batch_size=16", "babysit.report=false", "babysit.test=false", "babysit.overfit.epochs=20",
            "babysit.range_test.steps=20", "babysit.lr_bounds.steps=5"]
    on, off = cfg_factory(*args, out="on"), cfg_factory(*args, "babysit.preflight=false", out="off")
    run(on)
    run(off)
    summary_on, summary_off = (json.loads(Path(c.paths.output_dir, "summary.json").read_text()) for c in (on, off))
    assert summary_on["preflight"]["checks"] and not summary_off.get("preflight")
    assert summary_on["final"] == summary_off["final"] and summary_on["last_epoch"] == summary_off["last_epoch"]
    metrics = [pd.read_csv(Path(c.paths.output_dir, "metrics.csv")) for c in (on, off)]
    pd.testing.assert_frame_equal(metrics[0], metrics[1])
    states = [torch.load(Path(c.paths.output_dir, "checkpoints", "last.ckpt"), weights_only=True)["state_dict"]
              for c in (on, off)]
    assert states[0].keys() == states[1].keys()
    assert all(torch.equal(states[0][k], states[1][k]) for k in states[0])
