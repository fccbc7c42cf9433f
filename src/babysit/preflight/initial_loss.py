"""Protocol steps 3 and 4: the loss at init is ≈ ln C with reg off, and rises with reg up."""

import torch

from babysit.preflight.probe import Probe
from babysit.regularization import Regularizer
from babysit.verdict import FAIL, PASS, WARN, Verdict


@torch.no_grad()
def initial_losses(probe: Probe, batches: int, reg_up: float) -> tuple[float, float]:
    """(data loss with reg off, the same plus ½·reg_up·‖W‖²) at init, averaged over batches."""
    model = probe.fresh()
    penalty = float(Regularizer(l2=reg_up).penalty(model)) if reg_up else 0.0
    losses = [float(probe.loss(model, b)) for b in probe.train_batches(batches)]
    loss = sum(losses) / len(losses)
    return loss, loss + penalty


def check_initial_loss(loss: float, expected: tuple[float, str], num_classes: int, rel_tolerance: float,
                       batch_size: int = 0) -> Verdict:
    expected, label = expected
    rel = abs(loss - expected) / expected
    status = PASS if rel <= rel_tolerance else WARN if rel <= 3 * rel_tolerance else FAIL
    if status != PASS and batch_size > 1 and abs(loss / (expected * batch_size) - 1) <= 3 * rel_tolerance:
        return Verdict(
            "initial_loss", FAIL,
            f"initial loss {loss:.4f} ≈ batch size {batch_size} × {label} (reg off): the loss is summed over the "
            "batch, not averaged",
            advice="use the mean over the batch (reduction='mean'): a summed loss scales the gradients, and so the "
                   "learning rate, with the batch size",
            numbers={"loss": loss, "expected": expected, "relative_error": rel, "num_classes": num_classes,
                     "batch_size": batch_size})
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
        numbers={"loss_reg_off": loss, "loss_reg_up": cost_up, "reg_up": reg_up,
                 "weights_sq": 2 * (cost_up - loss) / reg_up if reg_up else None},  # Σw² of the trainable weights
    )
