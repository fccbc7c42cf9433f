"""The preflight's protocol checks at their boundaries: exact thresholds, exact lines and numbers."""

import math

import pytest
import torch

from babysit.preflight.initial_loss import check_initial_loss
from babysit.preflight.lr_bounds import check_too_low
from babysit.preflight.lr_range import sweep
from babysit.preflight.overfit import overfit_tiny
from babysit.verdict import FAIL, INFO, PASS, WARN
from tests.test_preflight_logic import TinyProbe

TWO = (2.0, "two")  # an expected loss for which the relative errors below are exact in floating point
INIT_ADVICE = ("the loss at init should be close to the chance level: check the init scale (model.init, "
               "model.head_std), the label encoding (labels 0..C−1), and that the loss gets raw scores (logits), "
               "not probabilities")
SUMMED_ADVICE = ("use the mean over the batch (reduction='mean'): a summed loss scales the gradients, and so the "
                 "learning rate, with the batch size")


class SplitProbe(TinyProbe):
    """TinyProbe with a backbone parameter group at a tenth of the head's lr, and an optional short
    supply of batches or no validation data."""

    def __init__(self, batches: int | None = None, val: bool = True, **kwargs):
        super().__init__(**kwargs)
        self.batches, self.val = batches, val
        self.made: list[torch.optim.Optimizer] = []

    def optimizer(self, model, lr):
        weight, bias = model[0].weight, model[0].bias
        self.made.append(torch.optim.SGD([{"params": [weight], "lr": lr / 10}, {"params": [bias], "lr": lr}]))
        return self.made[-1]

    def train_batches(self, count):
        yield from super().train_batches(count if self.batches is None else self.batches)

    def val_batch(self):
        return super().val_batch() if self.val else None


def quiet(**kwargs):
    return overfit_tiny(echo=lambda s: None, print_every=100, **kwargs)


@pytest.mark.parametrize(("loss", "status"), [(2.5, PASS), (2.51, WARN), (3.5, WARN), (3.51, FAIL)])
def test_the_initial_loss_grades_are_inclusive_at_the_tolerance_and_at_three_times_it(loss, status):
    verdict = check_initial_loss(loss, TWO, 3, rel_tolerance=0.25)
    assert verdict.status == status and verdict.advice == INIT_ADVICE
    assert verdict.numbers == {"loss": loss, "expected": 2.0, "relative_error": pytest.approx((loss - 2) / 2),
                               "num_classes": 3}


def test_a_summed_loss_is_named_for_any_batch_of_two_or_more_up_to_three_tolerances_off():
    two = check_initial_loss(4.0, TWO, 3, 0.25, batch_size=2)  # 2 × the expected loss
    assert (two.check, two.status, two.message) == (
        "initial_loss", FAIL, "initial loss 4.0000 ≈ batch size 2 × two (reg off): the loss is summed over the batch, "
                              "not averaged")
    assert two.advice == SUMMED_ADVICE
    assert two.numbers == {"loss": 4.0, "expected": 2.0, "relative_error": 1.0, "num_classes": 3, "batch_size": 2}
    edge = check_initial_loss(14.0, TWO, 3, 0.25, batch_size=4)  # 14 / (4 × 2) − 1 = 0.75, exactly 3 tolerances
    assert edge.status == FAIL and "summed over the batch" in edge.message
    one = check_initial_loss(3.0, TWO, 3, 0.25, batch_size=1)  # a batch of one sums nothing
    assert (one.status, one.message) == (WARN, "initial loss 3.0000 vs two (reg off), 50.0% off (tolerance 25%)")
    assert "batch_size" not in one.numbers


def test_a_tiny_lr_moving_the_cost_exactly_by_the_bound_has_moved():
    edge = check_too_low([2.0, 2.5], 1e-6, barely=0.25)
    assert edge.status == WARN and edge.numbers["relative_change"] == 0.25
    fell = check_too_low([2.0, 1.0], 1e-6, barely=0.6)  # the change is relative to the first cost
    assert fell.status == PASS and fell.numbers["relative_change"] == -0.5 and "(-50.00%)" in fell.message


def test_the_sweep_stops_at_the_first_smoothed_loss_above_the_factor_times_its_best():
    trace = sweep(TinyProbe(l2=1.0), 1e-4, 1e3, 29, stop_factor=2.0, smoothing=0.5)
    smooth = trace["smoothed"]
    assert all(s <= 2.0 * min(smooth[:k + 1]) for k, s in enumerate(smooth[:-1]))
    assert smooth[-1] > 2.0 * min(smooth) and len(smooth) < 29
    falling = sweep(TinyProbe(), 1e-4, 1e3, 29, stop_factor=1.0, smoothing=1.0)  # stops at the first rise only
    assert len(falling["loss"]) == 3 and falling["loss"][0] > falling["loss"][1] < falling["loss"][2]


def test_the_sweep_returns_the_finite_part_of_a_trace_that_blows_up():
    trace = sweep(TinyProbe(l2=1.0), 1e-4, 1e12, 29, stop_factor=1e300, smoothing=0.5)
    assert 5 < len(trace["lr"]) < 29 and all(map(math.isfinite, trace["loss"]))


def test_the_sweep_keeps_each_parameter_groups_share_of_the_lr():
    probe = SplitProbe()
    trace = sweep(probe, 1e-4, 1e-2, 5, stop_factor=4.0, smoothing=0.5)
    groups = probe.made[-1].param_groups
    assert (groups[0]["lr"], groups[1]["lr"]) == pytest.approx((trace["lr"][-1] / 10, trace["lr"][-1]))


def test_the_sweep_refuses_a_probe_that_hands_out_fewer_batches_than_asked():
    with pytest.raises(ValueError):
        sweep(SplitProbe(batches=3), 1e-4, 1e-2, 5, stop_factor=4.0, smoothing=0.5)


def test_overfitting_without_validation_data_reports_no_val_examples():
    lines = []
    verdict = overfit_tiny(SplitProbe(val=False), examples=6, epochs=2, lr=1.0, target_acc=1.0, max_final_cost=0.5,
                           print_every=100, echo=lines.append)
    assert verdict.numbers["val_examples"] == 0 and math.isnan(verdict.numbers["val_acc"])
    assert all(", val nan, " in line for line in lines) and len(lines) == 2


def test_the_epoch_lines_show_the_validation_accuracy():
    lines = []
    overfit_tiny(TinyProbe(), examples=6, epochs=2, lr=1.0, target_acc=1.0, max_final_cost=0.5, print_every=100,
                 echo=lines.append)
    assert len(lines) == 2 and lines[-1].startswith("  Finished epoch 2 / 2: ") and ", val 1.000000, " in lines[-1]


def test_a_final_cost_exactly_at_the_bound_is_tiny_enough():
    cost = quiet(probe=TinyProbe(), examples=6, epochs=3, lr=1.0, target_acc=1.0, max_final_cost=0.5)
    cost = cost.numbers["final_cost"]
    assert quiet(probe=TinyProbe(), examples=6, epochs=3, lr=1.0, target_acc=1.0, max_final_cost=cost).status == PASS
    slow = quiet(probe=TinyProbe(), examples=6, epochs=3, lr=1.0, target_acc=1.0, max_final_cost=cost / 2)
    assert slow.status == INFO and slow.numbers["final_cost"] == cost and slow.numbers["reached_epoch"] == 1
    assert slow.advice == ("the model learns slowly at babysit.overfit.lr=1, or the loss cannot get near 0 "
                           "(probabilities into it, bounded scores)")


def test_an_accuracy_reached_only_after_the_last_step_is_not_overfitting():
    # non-separable: 1/3 of the 6 examples right before the one step, 1/2 after it
    late = quiet(probe=TinyProbe(separable=False), examples=6, epochs=1, lr=3.0, target_acc=0.5, max_final_cost=10.0)
    assert late.numbers["reached_epoch"] is None and late.numbers["final_train_acc"] == 0.5
    assert late.status == FAIL and late.advice == (
        "a model that cannot learn 20 examples will not learn the data: check capacity, the loss and the labels, "
        "or change babysit.overfit.lr (lower if the cost blew up)")
