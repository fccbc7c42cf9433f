"""Protocol steps 3 and 4: the loss at init is ≈ ln C with reg off, and rises with reg up."""

import math

import torch
import torch.nn as nn

from babysit.preflight.probe import fresh_copy, train_batches
from babysit.regularization import Regularizer
from babysit.verdict import FAIL, PASS, WARN, Verdict


def expected_initial_loss(criterion: nn.Module, num_classes: int) -> tuple[float, str]:
    """The loss of a network whose scores are all ≈ 0, and how to say it."""
    if isinstance(criterion, nn.MultiMarginLoss):
        value = (num_classes - 1) / num_classes * criterion.margin
        return value, f"(C−1)/C·margin = {value:.4f}"
    value = math.log(num_classes)
    return value, f"ln({num_classes}) = {value:.4f}"


@torch.no_grad()
def initial_losses(net, criterion, dm, batches: int, reg_up: float) -> tuple[float, float]:
    """(data loss with reg off, cost with reg.l2 = reg_up) at init, averaged over batches."""
    probe = fresh_copy(net)
    penalty = float(Regularizer(l2=reg_up).penalty(probe)) if reg_up else 0.0
    losses = [float(criterion(probe(x), y)) for x, y in train_batches(dm, batches)]
    loss = sum(losses) / len(losses)
    return loss, loss + penalty


def check_initial_loss(loss: float, criterion, num_classes: int, rel_tolerance: float) -> Verdict:
    expected, label = expected_initial_loss(criterion, num_classes)
    rel = abs(loss - expected) / expected
    status = PASS if rel <= rel_tolerance else WARN if rel <= 3 * rel_tolerance else FAIL
    return Verdict(
        "initial_loss",
        status,
        f"initial loss {loss:.4f} vs {label} (reg off), {rel:.1%} off (tolerance {rel_tolerance:.0%})",
        advice=(
            "the loss at init should be close to the chance level: check the init scale "
            "(model.init, model.head_std), the label encoding (labels 0..C−1), and that the loss "
            "gets raw scores (logits), not probabilities"
        ),
        numbers={"loss": loss, "expected": expected, "relative_error": rel, "num_classes": num_classes},
    )


def check_reg_up(loss: float, cost_up: float, reg_up: float) -> Verdict:
    rose = cost_up > loss * (1 + 1e-6)
    return Verdict(
        "reg_up",
        PASS if rose else FAIL,
        f"reg.l2={reg_up:g} {'raises' if rose else 'does not raise'} the initial loss: {loss:.4f} → {cost_up:.4f}",
        advice="the regulariser does not reach the cost: check reg.l2 and that the model has weight matrices",
        numbers={"loss_reg_off": loss, "loss_reg_up": cost_up, "reg_up": reg_up},
    )
