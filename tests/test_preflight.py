import json
import math
from pathlib import Path

import pytest
import torch
import torch.nn as nn

from babysit.preflight import run_preflight
from babysit.preflight.classifier_probe import ClassifierProbe
from babysit.preflight.initial_loss import check_initial_loss, initial_losses
from babysit.preflight.lr_bounds import check_too_high, check_too_low, loss_trace
from babysit.preflight.lr_range import suggest
from babysit.preflight.overfit import overfit_tiny
from babysit.preflight.probe import balanced_order
from babysit.run import build, run
from babysit.settings import settings
from babysit.verdict import FAIL, INFO, PASS, WARN


def built(cfg_factory, *overrides):
    cfg = cfg_factory(*overrides)
    dm, module, _ = build(cfg)
    return cfg, ClassifierProbe(module, dm)


@pytest.mark.parametrize(("data", "classes"), [("faces", 2), ("digits", 10)])
@pytest.mark.parametrize("model", ["lenet5", "fc3"])
def test_initial_loss_is_ln_c_and_reg_up_raises_it(cfg_factory, data, classes, model):
    cfg, probe = built(cfg_factory, f"data={data}", f"model={model}")
    loss, cost_up = initial_losses(probe, 4, 1e3)
    tol = cfg.babysit.initial_loss.rel_tolerance
    assert loss == pytest.approx(math.log(classes), rel=tol)
    verdict = check_initial_loss(loss, probe.expected_initial_loss(), classes, tol)
    assert verdict.status == PASS and f"ln({classes})" in verdict.message
    assert cost_up > 10 * loss


class ScaledLogits(nn.Module):
    def __init__(self, net, scale):
        super().__init__()
        self.net, self.scale = net, scale

    def forward(self, x):
        return self.net(x) * self.scale


def test_broken_init_fails_with_advice(cfg_factory):
    cfg, probe = built(cfg_factory, "data=digits", "model=fc3")
    probe.net = ScaledLogits(probe.net, 1000.0)
    loss, _ = initial_losses(probe, 4, 0)
    verdict = check_initial_loss(loss, probe.expected_initial_loss(), 10, cfg.babysit.initial_loss.rel_tolerance)
    assert verdict.status == FAIL
    assert "init scale" in verdict.advice and "logits" in verdict.advice
    assert verdict.numbers["loss"] > 3 * math.log(10)


def test_hinge_expects_c_minus_one_over_c_margin(cfg_factory):
    _, probe = built(cfg_factory, "data=digits", "model=fc3", "loss=hinge")
    loss, _ = initial_losses(probe, 4, 0)
    verdict = check_initial_loss(loss, probe.expected_initial_loss(), 10, 0.05)
    assert verdict.status == PASS and verdict.numbers["expected"] == pytest.approx(0.9)


@pytest.mark.parametrize(("data", "model"), [("faces", "lenet5"), ("digits", "lenet5"), ("faces", "fc3"),
                                             ("digits", "fc3")])
def test_overfit_tiny_reaches_train_acc_one(cfg_factory, data, model):
    cfg, probe = built(cfg_factory, f"data={data}", f"model={model}")
    o = cfg.babysit.overfit
    lines = []
    verdict = overfit_tiny(probe, o.examples, o.epochs, o.lr, o.target_acc, o.max_final_cost, o.print_every,
                           echo=lines.append)
    assert verdict.status == PASS, verdict.message
    assert verdict.numbers["final_train_acc"] == 1.0 and verdict.numbers["examples"] == 20
    assert verdict.numbers["final_cost"] < 0.05
    assert lines[-1].strip().startswith("Finished epoch 200 / 200: cost ")


def test_tiny_subset_holds_every_class(cfg_factory):
    _, probe = built(cfg_factory, "data=digits")
    y = probe.dm.labels("train")
    assert len(torch.unique(y[balanced_order(y, 20)])) == 10
    assert len(torch.unique(probe.examples(20)[1])) == 10


def test_tiny_lr_barely_moves_and_huge_lr_explodes(cfg_factory):
    cfg, probe = built(cfg_factory, "data=faces", "optimizer=sgd")
    low = loss_trace(probe, 1e-6, 20)
    v = check_too_low(low, 1e-6, 0.01)
    assert v.status == PASS and "too low" in v.message and abs(v.numbers["relative_change"]) < 0.01
    high = loss_trace(probe, 1e6, 20)
    v = check_too_high(high, 1e6, 3.0)
    assert v.status == PASS and "too high" in v.message and v.numbers["exploded_at_step"] <= 2


def test_a_moderate_lr_is_not_called_too_low_or_too_high(cfg_factory):
    _, probe = built(cfg_factory, "data=faces", "optimizer=sgd")
    trace = loss_trace(probe, 0.01, 20)
    assert check_too_low(trace, 0.01, 0.01).status == WARN
    assert check_too_high(trace, 0.01, 3.0).status == WARN


def test_range_suggestion_lies_where_the_loss_falls():
    lrs = list(10 ** torch.linspace(-7, 1, 60).numpy())
    # flat until 1e-4, falling until 1e-2, then blowing up
    loss = [1.0 if lr < 1e-4 else max(0.2, 1.0 - 0.4 * math.log10(lr / 1e-4)) if lr <= 1e-2 else 0.2 * (lr / 1e-2) ** 2
            for lr in lrs]
    found = suggest({"lr": lrs, "smoothed": loss, "loss": loss})
    assert 5e-5 <= found["low"] <= 2e-4
    assert 5e-3 <= found["high"] <= 2e-2
    assert found["low"] <= found["suggested"] <= found["high"]


ALL_CHECKS = {"initial_loss", "reg_up", "overfit_tiny", "lr_too_low", "lr_too_high", "lr_range", "class_balance",
              "duplicates", "input_statistics", "raw_scores", "reg_balance", "batch_independence",
              "parameters_learn", "eval_determinism", "label_sanity", "input_dependence"}


def test_preflight_verdicts_land_in_summary_with_numbers(cfg_factory):
    cfg = cfg_factory("data=faces", "model=lenet5", "trainer.max_epochs=1")
    run(cfg)
    summary = json.loads(Path(cfg.paths.output_dir, "summary.json").read_text())
    checks = {c["check"]: c for c in summary["preflight"]["checks"]}
    assert set(checks) == ALL_CHECKS
    assert checks["initial_loss"]["numbers"]["expected"] == pytest.approx(math.log(2))
    assert checks["reg_up"]["numbers"]["loss_reg_up"] > checks["reg_up"]["numbers"]["loss_reg_off"]
    assert len(checks["overfit_tiny"]["numbers"]["trace"]["cost"]) == 200
    assert checks["lr_range"]["numbers"]["low"] < checks["lr_range"]["numbers"]["high"]
    assert all(c["status"] in (PASS, INFO, WARN, FAIL) and c["message"] for c in checks.values())


def test_preflight_does_not_change_the_training_numbers(cfg_factory):
    on = cfg_factory("data=digits", "model=fc3", "trainer.max_epochs=1", out="on")
    off = cfg_factory("data=digits", "model=fc3", "trainer.max_epochs=1", "babysit.preflight=false", out="off")
    assert run(on) == run(off)
    final = [json.loads(Path(c.paths.output_dir, "summary.json").read_text())["final"] for c in (on, off)]
    assert final[0] == final[1]


def test_switching_checks_off(cfg_factory):
    cfg, probe = built(cfg_factory, "data=faces", "babysit.overfit.enabled=false", "babysit.range_test.enabled=false")
    verdicts = run_preflight(settings(cfg.babysit), probe, cfg.optimizer.lr)
    assert {v.check for v in verdicts} == ALL_CHECKS - {"overfit_tiny", "label_sanity", "lr_range"}
