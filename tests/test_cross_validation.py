import csv
import json
import statistics
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from hydra.utils import instantiate

from babysit.errors import BabysitError
from babysit.run import run

ROOT = Path(__file__).resolve().parents[1]
FAST = ["data=digits", "model=fc3", "trainer.max_epochs=1", "babysit.preflight=false"]


def _rows(x: torch.Tensor) -> set[bytes]:
    return {r.numpy().tobytes() for r in x.flatten(1)}


def test_folds_partition_train_plus_val_stratified_and_keep_the_test_set(cfg_factory):
    cfg = cfg_factory(*FAST)
    plain = instantiate(cfg.data)
    plain.setup()
    pool = _rows(torch.cat([plain.splits["train"][0], plain.splits["val"][0]]))
    vals, tests = [], []
    for k in range(4):
        dm = instantiate(cfg.data, cv_fold=k, cv_folds=4, cv_seed=0)
        dm.setup()
        val_x, val_y = dm.splits["val"]
        train_rows, val_rows = _rows(dm.splits["train"][0]), _rows(val_x)
        assert not train_rows & val_rows
        assert train_rows | val_rows == pool
        counts = torch.bincount(val_y, minlength=10).float()
        expected = torch.bincount(torch.cat([plain.splits["train"][1], plain.splits["val"][1]]), minlength=10) / 4
        assert (counts - expected).abs().max() <= 1
        vals.append(val_rows)
        tests.append(_rows(dm.splits["test"][0]))
    assert set().union(*vals) == pool and sum(len(v) for v in vals) == len(pool)
    assert all(t == tests[0] for t in tests)
    reseeded = instantiate(cfg.data, cv_fold=0, cv_folds=4, cv_seed=1)
    reseeded.setup()
    assert _rows(reseeded.splits["val"][0]) != vals[0]  # cv.seed shuffles the folds


def test_cv_trains_one_model_per_fold_and_reports_mean_and_std(cfg_factory):
    cfg = cfg_factory(*FAST, "cv.folds=3")
    value = run(cfg)
    out = Path(cfg.paths.output_dir)
    summary = json.loads((out / "summary.json").read_text())
    assert summary["kind"] == "cv" and summary["status"] == "finished"
    assert [f["fold"] for f in summary["folds"]] == [1, 2, 3]
    vals = [json.loads((out / f"fold_{k}" / "summary.json").read_text())["final"]["val/acc"] for k in (1, 2, 3)]
    stats = summary["cv"]["metrics"]["val/acc"]
    assert stats["mean"] == pytest.approx(statistics.fmean(vals))
    assert stats["std"] == pytest.approx(statistics.stdev(vals))
    assert value == pytest.approx(stats["mean"])
    assert summary["epochs_run"] == 3
    report = (out / "cv_report.md").read_text()
    assert "mean ± std" in report and (out / "figures" / "cv_curves.png").stat().st_size > 0
    for k in (1, 2, 3):
        assert (out / f"fold_{k}" / "report.html").is_file()
    (out / "cv_report.md").unlink()
    rebuilt = subprocess.run([sys.executable, "-m", "babysit.report", str(out)], cwd=ROOT, capture_output=True,
                             text=True, timeout=120)
    assert rebuilt.returncode == 0, rebuilt.stderr
    assert (out / "cv_report.md").read_text() == report


def test_an_exploding_fold_stops_the_cross_validation(cfg_factory):
    cfg = cfg_factory(*FAST, "cv.folds=3", "optimizer=sgd", "optimizer.lr=1e6")
    assert run(cfg) is None
    summary = json.loads(Path(cfg.paths.output_dir, "summary.json").read_text())
    assert summary["status"] == "exploded" and summary["exploded"]
    assert len(summary["folds"]) == 1


@pytest.mark.parametrize("folds", [1, -2])
def test_impossible_fold_counts_are_refused(cfg_factory, folds):
    from babysit.schema import check_config
    from tests.conftest import CONF

    with pytest.raises(BabysitError, match=f"cv.folds={folds} must be 0 .* or a whole number ≥ 2"):
        check_config(cfg_factory(*FAST, f"cv.folds={folds}"), CONF)


def test_more_folds_than_the_smallest_class_is_refused(cfg_factory):
    with pytest.raises(BabysitError, match=r"cv.folds=200 is larger than the smallest class"):
        run(cfg_factory("data=faces", "model=fc3", "trainer.max_epochs=1", "babysit.preflight=false",
                        "cv.folds=200"))


def test_a_sweep_can_use_the_cross_validated_mean_as_its_objective(tmp_path):
    cmd = [sys.executable, "train.py", "-m", "hparams_search=random", *FAST, "cv.folds=2",
           f"hydra.sweep.dir={tmp_path / 's'}", "hydra.sweeper.study_name=s",
           "hydra.sweeper.stages=[{name: random, trials: 2, epochs: 1, sampler: random}]"]
    result = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-2000:]
    with (tmp_path / "s" / "trials.csv").open() as f:
        table = list(csv.DictReader(f))
    assert len(table) == 2 and all(r["state"] == "COMPLETE" for r in table)
    for r in table:
        summary = json.loads(Path(r["run_dir"], "summary.json").read_text())
        assert float(r["value"]) == pytest.approx(summary["cv"]["metrics"]["val/acc"]["mean"])


def test_a_failing_fold_keeps_the_finished_folds_and_says_it_failed(cfg_factory, monkeypatch):
    import babysit.run as runner

    calls = []
    real = runner.run_one

    def second_fold_fails(cfg, fold=None):
        calls.append(fold)
        if fold == 1:
            raise RuntimeError("disk full")
        return real(cfg, fold)

    monkeypatch.setattr(runner, "run_one", second_fold_fails)
    cfg = cfg_factory(*FAST, "cv.folds=3", "optimized_metric=train/loss")
    with pytest.raises(RuntimeError, match="disk full"):
        run(cfg)
    out = Path(cfg.paths.output_dir)
    summary = json.loads((out / "summary.json").read_text())
    assert calls == [0, 1] and summary["status"] == "failed" and "fold 2" in summary["reason"]
    assert summary["cv"]["completed"] == 1 and "train/loss" in summary["final"]
    assert "(fold 2: RuntimeError: disk full)" in (out / "cv_report.md").read_text()
