"""Protocol step 6: a tiny learning rate barely moves the loss, a huge one makes it explode."""

import torch

from babysit.preflight.probe import Probe, is_bad
from babysit.verdict import PASS, WARN, Verdict


def loss_trace(probe: Probe, lr: float, steps: int) -> list[float]:
    """Costs of `steps` optimiser steps at `lr` on one fixed batch, plus the cost after them."""
    model = probe.fresh()
    optimizer = probe.optimizer(model, lr)
    batch = probe.first_batch()
    costs = []
    for _ in range(steps):
        cost = probe.cost(model, batch)
        costs.append(float(cost.detach()))
        if is_bad(costs[-1]):
            break
        optimizer.zero_grad(set_to_none=True)
        cost.backward()
        optimizer.step()
    else:
        with torch.no_grad():
            costs.append(float(probe.cost(model, batch)))
    return costs


def check_too_low(costs: list[float], lr: float, barely: float) -> Verdict:
    first, last = costs[0], costs[-1]
    change = (last - first) / first if first else float("inf")
    barely_moved = abs(change) < barely
    return Verdict(
        "lr_too_low",
        PASS if barely_moved else WARN,
        f"lr {lr:.0e}: cost {first:.4f} → {last:.4f} after {len(costs) - 1} steps ({change:+.2%}): "
        + ("barely changes → too low, as expected" if barely_moved else "moves even at this lr"),
        advice="the loss is very sensitive to the learning rate: start the search lower than usual",
        numbers={"lr": lr, "first": first, "last": last, "relative_change": change, "trace": costs},
    )


def check_too_high(costs: list[float], lr: float, factor: float) -> Verdict:
    first = costs[0]
    bad = next((i for i, c in enumerate(costs) if is_bad(c) or c > factor * first), None)
    numbers = {"lr": lr, "first": first, "exploded_at_step": bad, "trace": costs}
    if bad is not None:
        what = f"cost {costs[bad]:.4g}" if not is_bad(costs[bad]) else f"cost {costs[bad]}"
        return Verdict("lr_too_high", PASS,
                       f"lr {lr:.0e}: {what} at step {bad} (initial {first:.4f}) → too high: explodes, as expected",
                       numbers=numbers)
    return Verdict(
        "lr_too_high", WARN,
        f"lr {lr:.0e}: cost {first:.4f} → {costs[-1]:.4f} after {len(costs) - 1} steps without exploding",
        advice="an absurd learning rate did not blow up the cost: check that the optimiser updates the "
               "weights and that the loss depends on them",
        numbers=numbers,
    )
