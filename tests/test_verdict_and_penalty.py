"""The verdict line everything prints, the worst status of a run, and the explicit regulariser."""

import io

import pytest
import torch
import torch.nn as nn
from rich.console import Console

import babysit.verdict
from babysit.regularization import Regularizer, weight_tensors
from babysit.verdict import FAIL, INFO, PASS, WARN, Verdict, show, worst


def test_a_verdict_prints_its_line_and_advice_unless_it_passes(capsys):
    warn = Verdict("update_ratio", WARN, "ratio 0.1 in fc1", advice="lower the lr", numbers={"r": 0.1}, epoch=2)
    assert warn.text() == "[WARN] ratio 0.1 in fc1\n       → lower the lr"
    assert Verdict("x", PASS, "fine", advice="ignored").text() == "[PASS] fine"
    assert Verdict("x", INFO, "a reading").text() == "[INFO] a reading"
    assert warn.as_dict() == {"check": "update_ratio", "status": WARN, "message": "ratio 0.1 in fc1",
                              "advice": "lower the lr", "numbers": {"r": 0.1}, "epoch": 2, "step": None}
    show(warn)
    show(Verdict("x", PASS, "fine [1, 2]", advice="ignored"))
    assert capsys.readouterr().out == "[WARN] ratio 0.1 in fc1\n       → lower the lr\n[PASS] fine [1, 2]\n"


def test_each_status_has_its_colour_on_a_terminal(monkeypatch):
    terminal = Console(file=io.StringIO(), force_terminal=True, color_system="standard", highlight=False)
    monkeypatch.setattr(babysit.verdict, "console", terminal)
    for status in (PASS, INFO, WARN, FAIL, "ODD"):
        show(Verdict("x", status, "m"))
    lines = terminal.file.getvalue().splitlines()
    assert lines == ["\x1b[32m[PASS]\x1b[0m m", "\x1b[36m[INFO]\x1b[0m m", "\x1b[33m[WARN]\x1b[0m m",
                     "\x1b[1;31m[FAIL]\x1b[0m m", "\x1b[37m[ODD]\x1b[0m m"]


def test_the_worst_status_ignores_information():
    verdicts = [Verdict("a", s, "") for s in (PASS, INFO)]
    assert worst([]) == PASS and worst(verdicts) == PASS and worst([Verdict("a", INFO, "")]) == PASS
    assert worst(verdicts + [Verdict("b", WARN, "")]) == WARN
    assert worst([Verdict("b", WARN, ""), Verdict("c", FAIL, ""), Verdict("d", PASS, "")]) == FAIL


def frozen_net() -> nn.Sequential:
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(4, 5), nn.BatchNorm1d(5), nn.Linear(5, 3))
    net[0].weight.requires_grad_(False)  # transfer.mode=freeze
    return net


def test_the_penalty_is_half_l2_plus_l1_over_trainable_weights_only():
    net = frozen_net()
    trainable = net[2].weight.detach()
    assert [w is net[2].weight for w in weight_tensors(net)] == [True]  # not biases, norm gains, frozen weights
    by_hand = 0.5 * 0.3 * float((trainable ** 2).sum()) + 0.1 * float(trainable.abs().sum())
    assert float(Regularizer(l2=0.3, l1=0.1).penalty(net)) == pytest.approx(by_hand, rel=1e-6)
    assert float(Regularizer(l2=0.3).penalty(net)) == pytest.approx(0.15 * float((trainable ** 2).sum()), rel=1e-6)
    assert float(Regularizer(l1=0.1).penalty(net)) == pytest.approx(0.1 * float(trainable.abs().sum()), rel=1e-6)
    assert Regularizer().penalty(net) == 0.0
    net[0].weight.requires_grad_(True)
    assert float(Regularizer(l2=0.3).penalty(net)) > 0.15 * float((trainable ** 2).sum()) * 1.01


def test_max_norm_clamps_each_trainable_unit_and_leaves_the_rest():
    net = frozen_net()
    with torch.no_grad():
        net[2].weight.mul_(100)
        net[0].weight.mul_(100)
    frozen, small = net[0].weight.clone(), net[2].weight[0].clone() / 1000
    with torch.no_grad():
        net[2].weight[0] = small
    Regularizer(max_norm=2.0).apply_max_norm(net)
    assert net[2].weight[1:].norm(dim=1).tolist() == pytest.approx([2.0, 2.0], rel=1e-4)
    assert torch.equal(net[2].weight[0], small) and torch.equal(net[0].weight, frozen)
    untouched = net[2].weight.clone()
    Regularizer().apply_max_norm(net)
    assert torch.equal(net[2].weight, untouched)
