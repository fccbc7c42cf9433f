"""Figures of the preflight checks, drawn from their numbers in summary.json."""

import math
from pathlib import Path

from babysit.report.load import RunData
from babysit.report.plotting import COLOURS, figure, finite, legend, save


def initial_loss(run: RunData, out: Path) -> Path | None:
    init, reg = run.check("initial_loss"), run.check("reg_up")
    if init is None:
        return None
    n = init["numbers"]
    fig, axes = figure("Initial loss (protocol steps 3–4)", ncols=2 if reg else 1)
    ax = axes[0]
    ax.bar(["measured (reg off)", "expected"], [n["loss"], n["expected"]], color=[COLOURS(0), COLOURS(7)])
    ax.set_ylabel("loss at init")
    ax.set_title(f"{init['status']}: {n['relative_error']:.1%} off", fontsize=9)
    for i, v in enumerate([n["loss"], n["expected"]]):
        ax.text(i, v, f"{v:.4f}", ha="center", va="bottom", fontsize=8)
    if reg:
        r = reg["numbers"]
        ax = axes[1]
        ax.bar(["reg off", f"reg.l2 = {r['reg_up']:g}"], [r["loss_reg_off"], r["loss_reg_up"]],
               color=[COLOURS(0), COLOURS(3)])
        ax.set_yscale("log")
        ax.set_ylabel("cost at init (log scale)")
        ax.set_title(f"{reg['status']}: regularisation up", fontsize=9)
    return save(fig, out / "preflight_initial_loss.png")


def overfit(run: RunData, out: Path) -> Path | None:
    check = run.check("overfit_tiny")
    if check is None:
        return None
    t = check["numbers"]["trace"]
    fig, (ax_cost, ax_acc) = figure(f"Overfit {check['numbers']['examples']} examples (protocol step 5)", ncols=2)
    ax_cost.plot(t["epoch"], finite(t["cost"]), color=COLOURS(0))
    ax_cost.set_yscale("log")
    ax_cost.set_xlabel("epoch")
    ax_cost.set_ylabel("cost (log scale)")
    ax_acc.plot(t["epoch"], t["train_acc"], color=COLOURS(2))
    ax_acc.axhline(1.0, color="grey", linestyle=":")
    ax_acc.set_ylim(0, 1.05)
    ax_acc.set_xlabel("epoch")
    ax_acc.set_ylabel("train accuracy")
    reached = check["numbers"].get("reached_epoch")
    if reached:
        ax_acc.axvline(reached, color=COLOURS(3), linestyle="--", label=f"1.00 at epoch {reached}")
        legend(ax_acc)
    return save(fig, out / "preflight_overfit.png")


def lr_range(run: RunData, out: Path) -> Path | None:
    check = run.check("lr_range")
    if check is None or not check["numbers"]["trace"]["lr"]:
        return None
    n, t = check["numbers"], check["numbers"]["trace"]
    fig, (ax,) = figure("Learning-rate range test (protocol step 6)")
    ax.plot(t["lr"], finite(t["loss"]), color=COLOURS(0), alpha=0.35, label="loss per batch")
    ax.plot(t["lr"], finite(t["smoothed"]), color=COLOURS(0), label="smoothed")
    ax.set_xscale("log")
    ax.set_xlabel("learning rate (log scale)")
    ax.set_ylabel("cost")
    if "low" in n:
        ax.axvspan(n["low"], n["high"], color=COLOURS(2), alpha=0.15, label=f"usable [{n['low']:.0e}, {n['high']:.0e}]")
        ax.axvline(n["suggested"], color=COLOURS(2), linestyle="--", label=f"suggested {n['suggested']:.0e}")
    ax.axvline(n["configured_lr"], color=COLOURS(3), linestyle=":", label=f"optimizer.lr {n['configured_lr']:g}")
    smoothed = [v for v in finite(t["smoothed"]) if math.isfinite(v)]
    if smoothed:
        ax.set_ylim(0.8 * min(smoothed), 1.6 * max(smoothed))
    legend(ax)
    return save(fig, out / "preflight_lr_range.png")


def lr_bounds(run: RunData, out: Path) -> Path | None:
    low, high = run.check("lr_too_low"), run.check("lr_too_high")
    if low is None or high is None:
        return None
    fig, axes = figure("Loss at a too-low and a too-high learning rate (protocol step 6)", ncols=2)
    for ax, check, colour in ((axes[0], low, COLOURS(0)), (axes[1], high, COLOURS(3))):
        n = check["numbers"]
        trace = n["trace"]
        ax.plot(range(len(trace)), finite(trace), marker="o", markersize=3, color=colour)
        bad = n.get("exploded_at_step")
        if bad is not None:
            ax.axvline(bad, color="black", linestyle="--", label=f"explodes at step {bad}: cost {_short(trace[bad])}")
            shown = [v for v in finite(trace) if math.isfinite(v) and v > 0]
            if shown and max(shown) > 100 * min(shown):
                ax.set_yscale("log")
        ax.set_xlabel("step (one fixed batch)")
        ax.set_ylabel("cost")
        ax.set_title(f"lr {n['lr']:.0e}: {check['status']}", fontsize=9)
        legend(ax)
    return save(fig, out / "preflight_lr_bounds.png")


def _short(value) -> str:
    return f"{value:.3g}" if isinstance(value, (int, float)) else str(value)


ALL = (initial_loss, overfit, lr_range, lr_bounds)
