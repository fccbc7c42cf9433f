"""Checks of the model itself, before training: the examples of a batch do not mix, every parameter
gets a gradient and moves, evaluation is deterministic, and the output depends on the input."""

import torch

from babysit.preflight.probe import Probe
from babysit.verdict import FAIL, INFO, PASS, WARN, Verdict


def _names(names: list[str], shown: int = 4) -> str:
    return ", ".join(names[:shown]) + (f" and {len(names) - shown} more" if len(names) > shown else "")


def check_batch_independence(probe: Probe, examples: int) -> Verdict:
    """In eval mode, the scores of one example must not depend on the other examples of its batch:
    the gradient of example 0's scores with respect to every other input is exactly zero."""
    model = probe.fresh().eval()
    batch = probe.first_batch()
    x = probe.fmt.inputs(batch)[:examples].detach().clone()
    if not torch.is_floating_point(x) or len(x) < 2:
        return Verdict("batch_independence", INFO, "batch independence not checked: "
                       + ("the inputs are not floating point" if len(x) >= 2 else "batches of one example"))
    x.requires_grad_(True)
    small = probe.fmt.take(batch, torch.arange(len(x)))
    scores = probe.scores(model, probe.fmt.with_inputs(small, x))
    scores[0].sum().backward()
    if x.grad is None:  # no score depends on any input: nothing to mix (input_dependence tells the rest)
        return Verdict("batch_independence", PASS, "batch independence: the scores depend on no input at all, so "
                       "on no other example either", numbers={"examples": len(x), "own_gradient": 0.0})
    grad = x.grad.flatten(1).abs().amax(1)
    own, others = float(grad[0]), float(grad[1:].max())
    mixed = int((grad[1:] > 0).sum())
    numbers = {"examples": len(x), "own_gradient": own, "max_other_gradient": others, "mixed": mixed}
    if mixed:
        return Verdict(
            "batch_independence", FAIL,
            f"batch independence: the scores of example 0 depend on {mixed} of the other {len(x) - 1} examples of "
            f"its batch in eval mode (max |∂s₀/∂xⱼ| {others:.2e}, its own input {own:.2e})",
            advice="the model mixes examples across the batch: a view/reshape over the batch dimension (use "
                   "x.flatten(1), not x.view(-1, …) with the batch size in the wrong place), a reduction over dim 0, "
                   "or batch norm left in training mode at evaluation",
            numbers=numbers)
    return Verdict("batch_independence", PASS,
                   f"batch independence: in eval mode the scores of example 0 depend on no other example of its batch "
                   f"(checked against {len(x) - 1})", numbers=numbers)


def _identical_rows(w: torch.Tensor) -> bool:
    return w.ndim >= 2 and len(w) >= 2 and bool((w == w[:1]).all())


def check_parameters_learn(probe: Probe, lr: float) -> Verdict:
    """One optimiser step of the run's optimiser at the run's lr: every trainable tensor must get a
    non-zero gradient and move, and the units of a layer must not stay identical (symmetric init);
    tensors frozen without being frozen on purpose are named."""
    model = probe.fresh()
    named = dict(model.named_parameters())
    frozen = [n for n, p in named.items() if not p.requires_grad and n not in probe.frozen_on_purpose]
    trainable = {n: p for n, p in named.items() if p.requires_grad}
    before = {n: p.detach().clone() for n, p in trainable.items()}
    optimizer = probe.optimizer(model, lr)
    optimizer.zero_grad(set_to_none=True)
    probe.cost(model, probe.first_batch()).backward()
    no_grad = [n for n, p in trainable.items() if p.grad is None or not bool(p.grad.abs().sum() > 0)]
    optimizer.step()
    still = [n for n, p in trainable.items() if n not in no_grad and torch.equal(p.detach(), before[n])]
    twins = [n for n, p in trainable.items() if _identical_rows(before[n]) and _identical_rows(p.detach())]
    numbers = {"trainable": len(trainable), "no_gradient": no_grad, "not_updated": still, "frozen": frozen,
               "identical_units": twins, "frozen_on_purpose": len(probe.frozen_on_purpose), "lr": lr}
    if twins:  # the root cause; tensors without a gradient are its consequence (a constant output layer)
        starved = f"; {len(no_grad)} trainable tensor(s) get no gradient ({_names(no_grad)})" if no_grad else ""
        return Verdict("parameters_learn", FAIL,
                       f"symmetric units: every unit of {_names(twins)} starts identical and is still identical "
                       f"after a step, so they compute the same feature forever{starved}",
                       advice="initialise the weights randomly (model.init=kaiming or xavier), not with a constant",
                       numbers=numbers)
    if no_grad or still:
        parts = []
        if no_grad:
            parts.append(f"{len(no_grad)} trainable tensor(s) get no gradient ({_names(no_grad)})")
        if still:
            parts.append(f"{len(still)} get a gradient but the optimiser does not move them ({_names(still)})")
        return Verdict("parameters_learn", FAIL, "after one step: " + "; ".join(parts),
                       advice="a layer the forward pass never uses, an output computed under torch.no_grad() or "
                              ".detach(), or parameters missing from the optimiser (configure_optimizers must pass "
                              "self.parameters())",
                       numbers=numbers)
    if frozen:
        return Verdict("parameters_learn", WARN,
                       f"{len(frozen)} tensor(s) are frozen (requires_grad=False): {_names(frozen)}; the other "
                       f"{len(trainable)} get a gradient and move",
                       advice="a layer left frozen by mistake never learns: set requires_grad=True, or freeze on "
                              "purpose with transfer.mode=freeze",
                       numbers=numbers)
    extra = f" ({len(probe.frozen_on_purpose)} frozen on purpose)" if probe.frozen_on_purpose else ""
    return Verdict("parameters_learn", PASS,
                   f"every parameter learns: all {len(trainable)} trainable tensors got a gradient and moved in one "
                   f"step{extra}", numbers=numbers)


@torch.no_grad()
def check_raw_scores(probe: Probe) -> Verdict:
    """The loss must get raw scores (logits): rows that are all ≥ 0 and sum to 1 are probabilities,
    a softmax before a loss that applies its own."""
    scores = probe.scores(probe.fresh().eval(), probe.first_batch()).float()
    sums = scores.sum(1)
    probabilities = bool((scores >= 0).all()) and bool(((sums - 1).abs() < 1e-4).all())
    numbers = {"min_score": float(scores.min()), "max_row_sum_error": float((sums - 1).abs().max())}
    if probabilities:
        return Verdict("raw_scores", FAIL, "the model outputs probabilities (every row ≥ 0 and sums to 1), "
                                           "not raw scores, to a loss that applies its own softmax",
                       advice="remove the softmax from forward() and give the logits to the loss (softmax only "
                              "for reading predictions)", numbers=numbers)
    return Verdict("raw_scores", PASS, "the model outputs raw scores (logits), as the loss expects", numbers=numbers)


@torch.no_grad()
def check_reg_balance(probe: Probe, batches: int, max_ratio: float) -> Verdict:
    """At init, the run's regularisation term must not dwarf the data loss: if it does, training
    mostly shrinks the weights and the data loss cannot move."""
    model = probe.fresh()
    pairs = [(float(probe.loss(model, b)), float(probe.cost(model, b))) for b in probe.train_batches(batches)]
    loss = sum(p[0] for p in pairs) / len(pairs)
    penalty = sum(p[1] - p[0] for p in pairs) / len(pairs)
    numbers = {"data_loss": loss, "penalty": penalty, "max_ratio": max_ratio}
    if penalty > max_ratio * loss:
        return Verdict("reg_balance", WARN,
                       f"the regularisation term ({penalty:.4g}) is {penalty / loss:.0f}× the data loss ({loss:.4f}) "
                       f"at init: training will mostly shrink the weights and the data loss can hardly move",
                       advice="lower the regularisation (e.g. reg.l2 ÷ 100; search it in log space, coarse-to-fine)",
                       numbers=numbers)
    return Verdict("reg_balance", PASS, f"regularisation {penalty:.3g} vs data loss {loss:.4f} at init "
                                        f"({penalty / loss:.2%} of it)", numbers=numbers)


@torch.no_grad()
def check_eval_determinism(probe: Probe, rel_tolerance: float) -> Verdict:
    """Two evaluation passes over the same batch give the same scores (no dropout at evaluation)."""
    model = probe.fresh().eval()
    batch = probe.first_batch()
    first, second = probe.scores(model, batch), probe.scores(model, batch)
    diff = float((first - second).abs().max())
    scale = float(first.abs().max()) or 1.0
    numbers = {"max_difference": diff, "max_score": scale, "rel_tolerance": rel_tolerance}
    if diff > rel_tolerance * scale:
        return Verdict(
            "eval_determinism", FAIL,
            f"two evaluation passes over the same batch differ (max |Δscore| {diff:.3g}, scores up to {scale:.3g})",
            advice="something random stays on in eval mode: dropout called with training=True (use nn.Dropout or "
                   "F.dropout(x, training=self.training)), or a noise layer that ignores model.eval()",
            numbers=numbers)
    return Verdict("eval_determinism", PASS, f"evaluation is deterministic: two passes agree (max |Δ| {diff:.1e})",
                   numbers=numbers)


def check_input_dependence(probe: Probe, examples: int, steps: int, lr: float, ratio: float,
                           min_acc_gain: float) -> Verdict:
    """The same short training run (plain SGD on a tiny subset) on the real inputs and on zeroed ones:
    the real run must end clearly better — a lower loss (below `ratio` × the zeroed one) or a higher
    accuracy (by `min_acc_gain`). On zeroed inputs a model can only learn the class prior."""
    batch = probe.examples(examples)
    y = probe.fmt.targets(batch)
    zeroed = probe.fmt.with_inputs(batch, torch.zeros_like(probe.fmt.inputs(batch)))
    finals = []
    for data in (batch, zeroed):
        model = probe.fresh()
        optimizer = torch.optim.SGD(model.parameters(), lr=lr)
        for _ in range(steps):
            loss = probe.loss(model, data)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        with torch.no_grad():
            loss, scores = probe.step(model, data)
            finals.append((float(loss), float((scores.argmax(1) == y).float().mean())))
    (real, real_acc), (zero, zero_acc) = finals
    numbers = {"real_inputs": real, "zero_inputs": zero, "real_acc": real_acc, "zero_acc": zero_acc,
               "steps": steps, "examples": len(y), "ratio": ratio, "min_acc_gain": min_acc_gain}
    said = (f"after {steps} steps the loss is {real:.4f} on the real inputs and {zero:.4f} on zeroed ones "
            f"(train acc {real_acc:.2f} vs {zero_acc:.2f})")
    if not (real < ratio * zero or real_acc >= zero_acc + min_acc_gain):
        return Verdict(
            "input_dependence", FAIL, f"the output does not come to depend on the input: {said}",
            advice="the forward pass ignores x (a constant, a buffer or torch.zeros_like(x) in its place, inputs "
                   "overwritten before the model), or no gradient reaches the layers that read it",
            numbers=numbers)
    return Verdict("input_dependence", PASS, f"the output depends on the input: {said}", numbers=numbers)
