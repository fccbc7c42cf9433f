"""The preflight's protocol checks (steps 3–6) on a tiny probe: exact numbers and exact lines."""

import copy
import math

import numpy as np
import pytest
import torch
import torch.nn as nn

from babysit.preflight.initial_loss import check_initial_loss, check_reg_up, initial_losses
from babysit.preflight.lr_bounds import check_too_high, check_too_low, loss_trace
from babysit.preflight.lr_range import check_range, suggest, sweep
from babysit.preflight.overfit import overfit_tiny
from babysit.preflight.probe import Probe
from babysit.regularization import Regularizer
from babysit.verdict import FAIL, INFO, PASS, WARN

LN3 = (math.log(3), "ln(3) = 1.0986")


class TinyProbe(Probe):
    """A linear classifier on 3 separable classes of 4-d points; batches of 6."""

    def __init__(self, l2: float = 0.0, examples: int = 24, separable: bool = True):
        g = torch.Generator().manual_seed(0)
        self.y = torch.arange(examples) % 3
        self.x = torch.randn(examples, 4, generator=g) * 0.1
        if separable:
            self.x[:, :3] += 2 * nn.functional.one_hot(self.y, 3).float()
        self.reg = Regularizer(l2=l2)
        torch.manual_seed(1)
        self.model = nn.Sequential(nn.Linear(4, 3))
        self.seen_lrs: list[float] = []

    def fresh(self):
        return copy.deepcopy(self.model).train()

    def step(self, model, batch):
        scores = self.scores(model, batch)
        return nn.functional.cross_entropy(scores, batch[1]), scores

    def cost(self, model, batch):
        return self.loss(model, batch) + self.reg.penalty(model)

    def optimizer(self, model, lr):
        self.seen_lrs.append(lr)
        return torch.optim.SGD(model.parameters(), lr=lr)

    def train_batches(self, count):
        for i in range(count):
            j = (6 * i) % len(self.y)
            yield self.x[j:j + 6], self.y[j:j + 6]

    def configured_lr(self):
        return 0.1

    def examples(self, count):
        return self.x[:count], self.y[:count]

    def val_batch(self):
        return self.x[-6:], self.y[-6:]

    def class_counts(self):
        return {"train": [8, 8, 8]}, [0, 1, 2], "examples"


def by_hand_loss(probe, batches):
    model = probe.fresh()
    with torch.no_grad():
        return [float(nn.functional.cross_entropy(model(x), y)) for x, y in probe.train_batches(batches)]


def test_the_initial_losses_average_the_batches_and_add_half_reg_up_times_the_weights():
    probe = TinyProbe()
    loss, up = initial_losses(probe, batches=3, reg_up=10.0)
    assert loss == pytest.approx(np.mean(by_hand_loss(probe, 3)), rel=1e-6)
    assert up - loss == pytest.approx(0.5 * 10.0 * float((probe.model[0].weight.detach() ** 2).sum()), rel=1e-5)
    assert initial_losses(probe, batches=1, reg_up=0.0) == pytest.approx((by_hand_loss(probe, 1)[0],) * 2)


def bad_check(scale: float) -> str:
    return check_initial_loss(math.log(3) * scale, LN3, 3, 0.05).check


def stuck_check() -> str:
    return overfit_tiny(TinyProbe(separable=False), 6, 1, 1e-4, 1.0, 0.5, print_every=100, echo=lambda s: None).check


def test_the_initial_loss_verdict_grades_the_distance_from_ln_c():
    ok = check_initial_loss(1.10, LN3, 3, rel_tolerance=0.05)
    assert (ok.status, ok.message) == (PASS, "initial loss 1.1000 vs ln(3) = 1.0986 (reg off), 0.1% off (tolerance 5%)")
    assert ok.check == bad_check(1.2) == "initial_loss"
    assert ok.numbers == {"loss": 1.10, "expected": math.log(3), "relative_error": pytest.approx(0.00126, rel=1e-2),
                          "num_classes": 3}
    assert check_initial_loss(math.log(3) * 1.049, LN3, 3, 0.05).status == PASS
    assert check_initial_loss(math.log(3) * 1.06, LN3, 3, 0.05).status == WARN
    assert check_initial_loss(math.log(3) * 0.85, LN3, 3, 0.05).status == WARN  # 3 × the tolerance warns
    bad = check_initial_loss(math.log(3) * 1.2, LN3, 3, 0.05)
    assert bad.status == FAIL and bad.message.endswith("(reg off), 20.0% off (tolerance 5%)")
    assert "model.init" in bad.advice and "logits" in bad.advice


def test_a_loss_summed_over_the_batch_is_named_as_such():
    summed = check_initial_loss(32 * math.log(3), LN3, 3, 0.05, batch_size=32)
    assert (summed.check, summed.status) == ("initial_loss", FAIL)
    assert summed.message == ("initial loss 35.1556 ≈ batch size 32 × ln(3) = 1.0986 (reg off): the loss is summed "
                              "over the batch, not averaged")
    assert "reduction='mean'" in summed.advice and summed.numbers["batch_size"] == 32
    assert check_initial_loss(32 * math.log(3) * 1.14, LN3, 3, 0.05, batch_size=32).numbers["batch_size"] == 32
    assert "batch_size" not in check_initial_loss(32 * math.log(3) * 1.16, LN3, 3, 0.05, batch_size=32).numbers
    assert "summed" not in check_initial_loss(math.log(3), LN3, 3, 0.05, batch_size=32).message  # a PASS stays
    assert "summed" not in check_initial_loss(math.log(3) * 1.2, LN3, 3, 0.05, batch_size=1).message


def test_reg_up_must_raise_the_loss():
    up = check_reg_up(1.1, 3.1, 10.0)
    assert (up.status, up.message) == (PASS, "reg.l2=10 raises the initial loss: 1.1000 → 3.1000")
    assert up.numbers == {"loss_reg_off": 1.1, "loss_reg_up": 3.1, "reg_up": 10.0, "weights_sq": pytest.approx(0.4)}
    assert up.check == "reg_up" and check_reg_up(1.1, 1.2, 10.0).status == PASS
    same = check_reg_up(1.1, 1.1 * (1 + 1e-6), 10.0)  # the threshold itself has not risen
    assert (same.check, same.status, same.message) == (
        "reg_up", FAIL, "reg.l2=10 does not raise the initial loss: 1.1000 → 1.1000")
    assert same.advice == "the regulariser does not reach the cost: check reg.l2 and that the model has weight matrices"
    assert check_reg_up(1.1, 1.1, 0.0).numbers["weights_sq"] is None


def test_the_loss_trace_takes_optimiser_steps_on_one_batch_and_ends_with_the_cost_after_them():
    probe = TinyProbe()
    costs = loss_trace(probe, lr=0.5, steps=4)
    model, (x, y) = probe.fresh(), probe.first_batch()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.5)
    by_hand = []
    for _ in range(5):
        loss = nn.functional.cross_entropy(model(x), y)
        by_hand.append(float(loss.detach()))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert costs == pytest.approx(by_hand, rel=1e-5) and probe.seen_lrs == [0.5]
    assert costs[-1] < costs[0]


def test_the_loss_trace_stops_at_the_first_non_finite_cost():
    costs = loss_trace(TinyProbe(l2=1.0), lr=1e6, steps=30)  # each step multiplies the weights by -1e6
    assert 2 <= len(costs) < 31 and not math.isfinite(costs[-1]) and all(map(math.isfinite, costs[:-1]))


def test_a_tiny_lr_barely_moves_and_a_moving_one_is_told():
    low = check_too_low([1.0, 0.999, 0.9995], 1e-6, barely=0.01)
    assert (low.status, low.message) == (
        PASS, "lr 1e-06: cost 1.0000 → 0.9995 after 2 steps (-0.05%): barely changes → too low, as expected")
    assert low.numbers == {"lr": 1e-6, "first": 1.0, "last": 0.9995, "relative_change": pytest.approx(-5e-4),
                           "trace": [1.0, 0.999, 0.9995]}
    moved = check_too_low([1.0, 0.5], 1e-6, barely=0.01)
    assert (moved.status, moved.message) == (
        WARN, "lr 1e-06: cost 1.0000 → 0.5000 after 1 steps (-50.00%): moves even at this lr")
    assert moved.advice == "the loss is very sensitive to the learning rate: start the search lower than usual"
    assert low.check == moved.check == "lr_too_low"
    assert check_too_low([1.0, 1.0099], 1e-6, barely=0.01).status == PASS
    assert check_too_low([1.0, 1.0101], 1e-6, barely=0.01).status == WARN
    assert check_too_low([0.0, 0.0], 1e-6, barely=0.01).status == WARN  # a zero start: change unknown


def test_a_huge_lr_must_explode_past_the_factor_or_to_nan():
    nan = check_too_high([1.0, 2.0, math.nan], 1e6, factor=3.0)
    assert (nan.status, nan.message) == (PASS, "lr 1e+06: cost nan at step 2 (initial 1.0000) → too high: explodes, "
                                               "as expected")
    assert nan.numbers["exploded_at_step"] == 2 and nan.numbers["first"] == 1.0 and nan.numbers["lr"] == 1e6
    assert nan.check == "lr_too_high"
    up = check_too_high([2.0, 6.0, 6.28318, 1.0], 1e6, factor=3.0)
    assert up.message == "lr 1e+06: cost 6.283 at step 2 (initial 2.0000) → too high: explodes, as expected"
    calm = check_too_high([1.0, 3.0, 2.0], 1e6, factor=3.0)
    assert (calm.check, calm.status, calm.message) == (
        "lr_too_high", WARN, "lr 1e+06: cost 1.0000 → 2.0000 after 2 steps without exploding")
    assert "optimiser updates the weights" in calm.advice and calm.numbers["exploded_at_step"] is None
    assert calm.numbers["trace"] == [1.0, 3.0, 2.0]


def falling_trace(lrs, loss_of):
    smoothed = [loss_of(lr) for lr in lrs]
    return {"lr": list(lrs), "loss": smoothed, "smoothed": smoothed}


LRS = list(10 ** np.linspace(-6, 0, 25))  # 4 points a decade


def valley(lr):  # flat until 1e-4, falls slowly until 1e-3, fast until 1e-2, rises after
    d = math.log10(lr)
    return 1.0 if d < -4 else 1.0 - 0.1 * (d + 4) if d <= -3 else 0.9 - 0.5 * (d + 3) if d <= -2 else 0.4 + (d + 2)


def test_the_usable_range_starts_one_step_before_the_fall_and_ends_at_the_minimum():
    found = suggest(falling_trace(LRS, valley))
    assert found["low"] == pytest.approx(1e-4) and found["high"] == pytest.approx(1e-2)
    assert found["min_loss_lr"] == found["high"] and 1e-4 < found["suggested"] < 1e-2
    assert found["suggested"] == pytest.approx(10 ** -2.75)  # the first point inside the fast fall


def test_no_range_when_the_loss_never_falls_or_the_trace_is_short():
    assert suggest(falling_trace(LRS, lambda lr: 1.0 + lr)) is None
    assert suggest(falling_trace(LRS[:4], valley)) is None
    assert suggest(falling_trace(LRS[:5], lambda lr: 1.0 - 1e4 * lr)) is not None
    assert suggest(falling_trace(LRS, lambda lr: 1.0 - 0.005 * (lr > 1e-3))) is None  # falls < 1 %
    assert suggest(falling_trace(LRS, lambda lr: 1.0 - 0.02 * (lr > 1e-3)), falls_by=0.05) is None
    dips_at_once = falling_trace(LRS, lambda lr: 0.5 if lr < 10 ** -5.6 else 1.0)  # minimum at index 1
    assert suggest(dips_at_once) is None


def decade_trace(smoothed):
    return {"lr": [1e-6 * 10 ** k for k in range(len(smoothed))], "smoothed": smoothed}


@pytest.mark.parametrize(("smoothed", "falls_by", "low", "high"), [
    ([1.0, 0.9, 0.5, 0.8, 0.9], 0.01, 1e-6, 1e-4),  # the minimum at the third lr; the fall from the first
    ([1.0, 1.0, 1.0, 1.0, 0.5, 1.5, 2.0], 0.01, 1e-3, 1e-2),  # it falls at the minimum itself
    ([1.0, 1.0, 0.5, 0.25, 0.2, 0.3, 0.5], 0.5, 1e-4, 1e-2),  # exactly half is not yet a fall by half
    ([1.0, 2.0, 1.9, 1.5, 0.5, 1.0], 0.01, 1e-3, 1e-2),  # a fall is measured from the first loss
])
def test_the_range_bounds_in_corner_cases(smoothed, falls_by, low, high):
    found = suggest(decade_trace(smoothed), falls_by=falls_by)
    assert (found["low"], found["high"]) == pytest.approx((low, high))


def test_the_steepest_descent_is_measured_per_decade_of_lr():
    uneven = {"lr": [1e-5, 1e-4, 1e-3, 1.1e-3, 1e-2, 1e-1], "smoothed": [1.0, 0.9, 0.8, 0.75, 0.5, 0.9]}
    assert suggest(uneven)["suggested"] == 1.1e-3  # -0.05 in 0.04 decades is steeper than -0.25 in one


def test_the_range_verdict_places_the_runs_lr():
    trace = falling_trace(LRS, valley)
    inside = check_range(trace, 1e-3)
    assert inside.status == PASS and inside.message == (
        "lr range test: the loss falls from lr 1.0e-04 to 1.0e-02 (steepest at 1.8e-03) → search lr in "
        "[1.0e-04, 1.0e-02]; optimizer.lr=0.001 is inside")
    assert inside.advice == "set optimizer.lr=2e-03 (or search [1e-04, 1e-02] coarse-to-fine)"
    assert inside.check == "lr_range" and inside.numbers["configured_lr"] == 1e-3 and inside.numbers["slack"] == 10.0
    assert inside.numbers["low"] == pytest.approx(1e-4) and inside.numbers["trace"] is trace
    assert check_range(trace, 1e-4).status == PASS and check_range(trace, 1e-2).status == PASS
    little = check_range(trace, 2e-5)
    assert little.status == INFO and little.message.endswith(
        "optimizer.lr=2e-05 is a little below it (within ÷10): it learns, more slowly than it could")
    assert check_range(trace, 1e-5).status == INFO and check_range(trace, 0.9e-5).status == WARN
    assert check_range(trace, 2e-5, slack=1.5).status == WARN
    assert check_range(trace, 1e-6).message.endswith("optimizer.lr=1e-06 is below it")
    above = check_range(trace, 0.1)
    assert above.status == WARN and above.message.endswith("is above it, where the loss rises")


def test_a_range_test_where_nothing_falls_warns():
    flat = check_range(falling_trace(LRS, lambda lr: 1.0), 1e-3)
    assert (flat.status, flat.message) == (WARN, "lr range test: the loss never fell over 25 learning rates")
    assert flat.check == "lr_range" and flat.advice == ("the model does not learn at any lr in the sweep: widen "
                                                        "babysit.range_test or check the data, the loss and the init")
    assert flat.numbers["configured_lr"] == 1e-3 and "low" not in flat.numbers


def test_the_sweep_raises_the_lr_exponentially_one_batch_each_and_stops_when_the_loss_blows_up():
    probe = TinyProbe(l2=1.0)
    trace = sweep(probe, start=1e-4, end=1e3, steps=29, stop_factor=4.0, smoothing=0.5)
    n = len(trace["lr"])
    assert probe.seen_lrs == [1e-4] and trace["lr"] == pytest.approx(list(1e-4 * 10 ** (np.arange(n) / 4)))
    assert 5 < n < 29 and len(trace["loss"]) == len(trace["smoothed"]) == n
    assert trace["smoothed"][0] == trace["loss"][0]
    for k in range(1, n):
        assert trace["smoothed"][k] == pytest.approx(0.5 * trace["loss"][k] + 0.5 * trace["smoothed"][k - 1])
    last = trace["smoothed"][-1]
    assert last > 4.0 * min(trace["smoothed"]) or not math.isfinite(last) or n < 29
    assert trace["loss"][0] == pytest.approx(float(probe.cost(probe.fresh(), probe.first_batch()).detach()), rel=1e-6)
    quiet = sweep(TinyProbe(), start=1e-6, end=1e-5, steps=6, stop_factor=4.0, smoothing=1.0)
    assert len(quiet["lr"]) == 6 and quiet["smoothed"] == quiet["loss"] and quiet["lr"][-1] == pytest.approx(1e-5)
    assert sweep(TinyProbe(), 1e-3, 1e-3, 1, 4.0, 0.5)["lr"] == [1e-3]
    assert sweep(TinyProbe(), 1e-4, 1e-2, 2, 4.0, 0.5)["lr"] == pytest.approx([1e-4, 1e-2])


def test_overfitting_the_tiny_subset_passes_with_the_epoch_it_got_there():
    lines = []
    verdict = overfit_tiny(TinyProbe(), examples=6, epochs=40, lr=1.0, target_acc=1.0, max_final_cost=0.5,
                           print_every=10, echo=lines.append)
    assert (verdict.check, verdict.status) == ("overfit_tiny", PASS)
    assert verdict.message.startswith("overfit 6 examples: train acc 1.00 (first at epoch")
    n = verdict.numbers
    assert n["examples"] == 6 and n["classes_seen"] == 3 and n["epochs"] == 40 and n["lr"] == 1.0
    assert n["final_train_acc"] == 1.0 and n["final_cost"] < 0.5 and n["val_examples"] == 6 and n["val_acc"] == 1.0
    assert n["trace"]["epoch"] == list(range(1, 41)) and n["reached_epoch"] == n["trace"]["train_acc"].index(1.0) + 1
    assert n["trace"]["cost"][-1] == n["final_cost"] and verdict.message.endswith(
        f"final cost {n['final_cost']:.6f} after 40 epochs")
    assert [line.split(":")[0] for line in lines] == [f"  Finished epoch {k} / 40" for k in (1, 10, 20, 30, 40)]


def test_a_tiny_subset_learned_slowly_is_information_and_one_not_learned_fails():
    slow = overfit_tiny(TinyProbe(), 6, 40, 1.0, 1.0, max_final_cost=1e-6, print_every=100, echo=lambda s: None)
    assert slow.check == stuck_check() == "overfit_tiny" and slow.status == INFO
    assert "the cost still" in slow.message and "(tiny is below 1e-06)" in slow.message
    assert "babysit.overfit.lr=1" in slow.advice
    stuck = overfit_tiny(TinyProbe(separable=False), 6, 3, 1e-4, 1.0, 0.5, print_every=100, echo=lambda s: None)
    assert stuck.status == FAIL and stuck.message.startswith("could not overfit 6 examples: train acc")
    assert stuck.message.endswith("after 3 epochs (lr 0.0001)") and "babysit.overfit.lr" in stuck.advice
    overflowing = TinyProbe()
    overflowing.x[:] = math.nan  # the cost is NaN from the first epoch
    exploded = overfit_tiny(overflowing, 6, 50, 1.0, 1.0, 0.5, print_every=100, echo=lambda s: None)
    assert exploded.status == FAIL and len(exploded.numbers["trace"]["cost"]) == 1
