"""The learning-rate range test: one mini-batch per learning rate, swept exponentially,
until the smoothed loss exceeds `stop_factor` × its best; the usable range is where the
loss falls."""

import math

import numpy as np

from babysit.preflight.probe import Probe, is_bad
from babysit.verdict import INFO, PASS, WARN, Verdict


def sweep(probe: Probe, start: float, end: float, steps: int, stop_factor: float, smoothing: float) -> dict:
    model = probe.fresh()
    optimizer = probe.optimizer(model, start)
    ratios = [group["lr"] / start for group in optimizer.param_groups]  # a backbone group keeps its share
    lrs = start * (end / start) ** (np.arange(steps) / max(1, steps - 1))
    trace = {"lr": [], "loss": [], "smoothed": []}
    avg, best = None, math.inf
    for lr, batch in zip(lrs, probe.train_batches(steps), strict=True):
        for group, ratio in zip(optimizer.param_groups, ratios, strict=True):
            group["lr"] = float(lr) * ratio
        cost = probe.cost(model, batch)
        value = float(cost.detach())
        if is_bad(value):
            break
        avg = value if avg is None else smoothing * value + (1 - smoothing) * avg
        trace["lr"].append(float(lr))
        trace["loss"].append(value)
        trace["smoothed"].append(avg)
        best = min(best, avg)
        if avg > stop_factor * best:
            break
        optimizer.zero_grad(set_to_none=True)
        cost.backward()
        optimizer.step()
    return trace


def suggest(trace: dict, falls_by: float = 0.01) -> dict | None:
    """[low, high]: from where the smoothed loss starts falling to its minimum; the
    suggestion is the steepest descent in between."""
    lrs, smooth = np.asarray(trace["lr"]), np.asarray(trace["smoothed"])
    if len(lrs) < 5:
        return None
    i_min = int(np.argmin(smooth))
    falling = np.nonzero(smooth[: i_min + 1] < smooth[0] * (1 - falls_by))[0]
    if i_min < 2 or len(falling) == 0:
        return None
    i_low = max(0, int(falling[0]) - 1)
    slope = np.gradient(smooth[: i_min + 1], np.log10(lrs[: i_min + 1]))
    i_steep = i_low + int(np.argmin(slope[i_low:]))
    return {"low": float(lrs[i_low]), "high": float(lrs[i_min]), "suggested": float(lrs[i_steep]),
            "min_loss_lr": float(lrs[i_min])}


def check_range(trace: dict, configured_lr: float, slack: float = 10.0) -> Verdict:
    """PASS with the run's lr inside the usable range; INFO when it lies below it by less than `slack`
    (it trains, more slowly than it could); WARN further below, or above the range (the loss rises there)."""
    found = suggest(trace)
    numbers = {"trace": trace, "configured_lr": configured_lr, "slack": slack, **(found or {})}
    if found is None:
        return Verdict("lr_range", WARN, f"lr range test: the loss never fell over {len(trace['lr'])} learning rates",
                       advice="the model does not learn at any lr in the sweep: widen babysit.range_test "
                              "or check the data, the loss and the init",
                       numbers=numbers)
    low, high, best = found["low"], found["high"], found["suggested"]
    if low <= configured_lr <= high:
        status, where = PASS, "inside"
    elif low / slack <= configured_lr < low:
        status, where = INFO, f"a little below it (within ÷{slack:g}): it learns, more slowly than it could"
    else:
        status, where = WARN, "below it" if configured_lr < low else "above it, where the loss rises"
    return Verdict(
        "lr_range", status,
        f"lr range test: the loss falls from lr {low:.1e} to {high:.1e} (steepest at {best:.1e}) "
        f"→ search lr in [{low:.1e}, {high:.1e}]; optimizer.lr={configured_lr:g} is {where}",
        advice=f"set optimizer.lr={best:.0e} (or search [{low:.0e}, {high:.0e}] coarse-to-fine)",
        numbers=numbers,
    )
