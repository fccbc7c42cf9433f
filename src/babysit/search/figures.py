"""Sweep figures: the metric against each hyper-parameter (log axes where the range is
log), coloured by stage, and the best value so far against the training epochs spent."""

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from babysit.report.plotting import major_ticks_only_on_wide_log_axes, write_png  # noqa: E402

MARKERS = {"COMPLETE": "o", "PRUNED": "x", "FAIL": "s"}


def plot_param_scatter(rows: list[dict], param, metric: str, path: Path) -> None:
    fig, ax = plt.subplots(figsize=(6, 4), dpi=120)
    stages = list(dict.fromkeys(r["stage"] for r in rows))
    colours = plt.get_cmap("tab10")
    for i, stage in enumerate(stages):
        done = [r for r in rows if r["stage"] == stage and r["value"] is not None and r.get(param.name) is not None]
        ax.scatter([r[param.name] for r in done], [r["value"] for r in done], color=colours(i), label=stage,
                   alpha=0.8)
        stopped = [r for r in rows if r["stage"] == stage and r["value"] is None and r.get(param.name) is not None]
        if stopped:
            bottom = min((r["value"] for r in rows if r["value"] is not None), default=0.0)
            ax.scatter([r[param.name] for r in stopped], [bottom] * len(stopped), color=colours(i), marker="x",
                       label=f"{stage}: pruned / exploded / failed")
    if param.type == "log":
        ax.set_xscale("log")
    ax.set_xlabel(param.name + (" (log scale)" if param.type == "log" else ""))
    ax.set_ylabel(metric)
    ax.set_title(f"{metric} vs {param.name}")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8)
    major_ticks_only_on_wide_log_axes(ax)
    fig.tight_layout()
    write_png(fig, path)
    plt.close(fig)


def best_so_far(rows: list[dict], direction: str = "maximize") -> tuple[list[int], list[float]]:
    """(cumulative training epochs, best value so far) in trial order."""
    better = max if direction == "maximize" else min
    spent, best, xs, ys = 0, None, [], []
    for r in sorted(rows, key=lambda r: r["number"]):
        spent += int(r["epochs"] or 0)
        if r["value"] is not None:
            best = r["value"] if best is None else better(best, r["value"])
        if best is not None:
            xs.append(spent)
            ys.append(best)
    return xs, ys


def plot_history(rows: list[dict], metric: str, path: Path, direction: str = "maximize") -> None:
    fig, ax = plt.subplots(figsize=(6, 4), dpi=120)
    stages = list(dict.fromkeys(r["stage"] for r in rows))
    colours = plt.get_cmap("tab10")
    spent = 0
    for r in sorted(rows, key=lambda r: r["number"]):
        spent += int(r["epochs"] or 0)
        if r["value"] is not None:
            ax.scatter(spent, r["value"], color=colours(stages.index(r["stage"])), s=14, alpha=0.7)
    xs, ys = best_so_far(rows, direction)
    ax.step(xs, ys, where="post", color="black", label="best so far")
    for i, stage in enumerate(stages):
        ax.scatter([], [], color=colours(i), label=f"trial ({stage})")
    ax.set_xlabel("training epochs spent (all trials)")
    ax.set_ylabel(metric)
    ax.set_title("search history")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    write_png(fig, path)
    plt.close(fig)
