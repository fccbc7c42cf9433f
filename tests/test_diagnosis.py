"""A fast subset of the bug zoo (bench/zoo): one planted bug per check, each must get the verdict that
names its cause; and a healthy run must get none."""

import json
from pathlib import Path

import pytest

from babysit.run import run
from babysit.verdict import FAIL, INFO, PASS, WARN
from bench.zoo.cases import BUGS, fired

SHORT = ["trainer.max_epochs=1", "babysit.report=false"]


def verdicts_of(cfg_factory, *overrides: str) -> tuple[dict, dict]:
    cfg = cfg_factory(*overrides, *SHORT)
    run(cfg)
    summary = json.loads(Path(cfg.paths.output_dir, "summary.json").read_text())
    checks = {c["check"]: c for c in summary["preflight"]["checks"]}
    return summary, checks


def case(name: str):
    return next(c for c in BUGS if c.name == name)


@pytest.mark.parametrize(("name", "check", "status", "words"), [
    ("softmax before the loss (fc3, digits)", "raw_scores", FAIL, "probabilities"),
    ("reshape over the batch (lenet5, faces)", "batch_independence", FAIL, "depend on"),
    ("batch statistics at evaluation (fc3, digits)", "batch_independence", FAIL, "depend on"),
    ("second layer frozen (fc3, digits)", "parameters_learn", WARN, "layers.fc2.weight"),
    ("constant 0.05 init (fc3, faces)", "parameters_learn", FAIL, "symmetric units"),
    ("all-zero init (fc3, digits)", "parameters_learn", FAIL, "get no gradient"),
    ("forward uses zeros (lenet5, faces)", "input_dependence", FAIL, "does not come to depend"),
    ("dropout at evaluation (lenet5, faces)", "eval_determinism", FAIL, "differ"),
    ("shuffled labels (lenet5, faces)", "label_sanity", WARN, "no better than the majority baseline"),
    ("every image twice (lenet5, faces)", "duplicates", WARN, "also appear in train"),
    ("raw 0-255 pixels (fc3, digits)", "input_statistics", WARN, "not normalised"),
    ("faces 9:1 (lenet5)", "class_balance", WARN, "accuracy flatters"),
    ("reg.l2=100 (fc3, digits)", "reg_balance", WARN, "× the data loss"),
    ("summed loss (fc3, digits)", "initial_loss", FAIL, "summed over the batch"),
])
def test_a_planted_bug_gets_the_verdict_naming_its_cause(cfg_factory, name, check, status, words):
    bug = case(name)
    summary, checks = verdicts_of(cfg_factory, *bug.overrides)
    assert checks[check]["status"] == status, checks[check]["message"]
    assert words in checks[check]["message"]
    assert check in bug.causes and any(v["check"] in bug.causes for v in fired(summary))


def test_imbalanced_classes_put_the_baseline_next_to_the_accuracy(cfg_factory, capsys):
    summary, checks = verdicts_of(cfg_factory, *case("faces 9:1 (lenet5)").overrides)
    assert checks["class_balance"]["numbers"]["majority_baseline"]["train"] > 0.85
    assert 0 <= summary["final"]["test/balanced_acc"] <= 1
    assert "(majority baseline 0.9" in capsys.readouterr().out


def test_a_healthy_run_is_quiet_and_its_report_shows_data_and_mistakes(cfg_factory):
    cfg = cfg_factory("model=lenet5", "data=faces")
    run(cfg)
    out = Path(cfg.paths.output_dir)
    summary = json.loads((out / "summary.json").read_text())
    assert fired(summary) == [], [v["message"] for v in fired(summary)]
    checks = {c["check"] for c in summary["preflight"]["checks"]}
    assert {"batch_independence", "parameters_learn", "input_dependence", "eval_determinism", "label_sanity",
            "duplicates", "class_balance", "input_statistics", "raw_scores", "reg_balance"} <= checks
    report = (out / "report.md").read_text()
    for figure in ("data_first_batch.png", "test_confusion.png"):
        assert figure in report and (out / "figures" / figure).stat().st_size > 1000
    assert "balanced accuracy" in report and "## What to try next" in report
    assert "raise capacity" not in report  # no advice from a warning that no longer holds


def test_transfer_freeze_is_frozen_on_purpose(cfg_factory):
    source = cfg_factory("data=faces", "model=lenet5", "trainer.max_epochs=1", "babysit.preflight=false",
                         "babysit.report=false", out="source")
    run(source)
    ckpt = Path(source.paths.output_dir, "checkpoints", "last.ckpt")
    _, checks = verdicts_of(cfg_factory, "data=faces", "model=lenet5", f"transfer.checkpoint={ckpt}",
                            "transfer.mode=freeze", "babysit.overfit.enabled=false")
    learn = checks["parameters_learn"]
    assert learn["status"] == PASS and "frozen on purpose" in learn["message"]
    assert learn["numbers"]["frozen"] == []


def test_lr_a_little_below_the_range_is_information_not_a_warning():
    import math

    from babysit.preflight.lr_range import check_range

    lrs = [10 ** (-7 + 8 * i / 59) for i in range(60)]
    # flat until 1e-4, falling until 1e-2, then blowing up
    loss = [1.0 if lr < 1e-4 else max(0.2, 1.0 - 0.4 * math.log10(lr / 1e-4)) if lr <= 1e-2 else 0.2 * (lr / 1e-2) ** 2
            for lr in lrs]
    trace = {"lr": lrs, "loss": loss, "smoothed": loss}
    low, high = check_range(trace, 1e-3).numbers["low"], check_range(trace, 1e-3).numbers["high"]
    assert check_range(trace, low * 2, 10.0).status == PASS
    assert check_range(trace, low / 3, 10.0).status == INFO
    assert check_range(trace, low / 30, 10.0).status == WARN
    assert check_range(trace, high * 3, 10.0).status == WARN
