"""Figures comparing the runs of a sweep, one line per variant: colour by the first varied
setting, line style by the others (norm → colour, init → style)."""

import math
import statistics
from pathlib import Path

from matplotlib.ticker import MaxNLocator

from babysit.report.load import RunData
from babysit.report.plotting import COLOURS, discard, figure, save
from babysit.report.variants import Variant

LINESTYLES = ["-", "--", ":", "-.", (0, (5, 1, 1, 1, 1, 1)), (0, (1, 4)), (0, (8, 3))]


def _styles(variants: list[Variant]) -> list[dict]:
    keys = list(dict.fromkeys(k for v in variants for k in v.settings))
    colours: dict = {}
    lines: dict = {}
    styles = []
    for v in variants:
        first = v.settings.get(keys[0]) if keys else v.dir_name
        rest = tuple(v.settings.get(k) for k in keys[1:])
        colour = colours.setdefault(first, len(colours))
        line = lines.setdefault(rest, len(lines))
        styles.append({"color": COLOURS(colour % 10), "linestyle": LINESTYLES[line % len(LINESTYLES)],
                       "label": v.short})
    return styles


def _legend_beside(fig, ax) -> None:
    handles, labels = ax.get_legend_handles_labels()
    fig.legend(handles, labels, loc="center left", bbox_to_anchor=(1.0, 0.5), fontsize=8, frameon=False,
               handlelength=3)


def curves(variants: list[Variant], path: Path) -> Path:
    """Train cost and val accuracy per epoch; a cross marks where a run exploded."""
    fig, (ax_cost, ax_val) = figure("Train cost and val accuracy per epoch", ncols=2)
    for v, style in zip(variants, _styles(variants), strict=True):
        exploded = v.run.summary.get("status") == "exploded"
        for ax, column in ((ax_cost, "train/loss"), (ax_val, "val/acc")):
            s = v.run.series(column, by="epoch")
            ax.plot(s["epoch"] + 1, s[column], marker="o", markersize=3, linewidth=1.3, **style)
            if exploded and len(s):
                ax.plot(s["epoch"].iloc[-1] + 1, s[column].iloc[-1], marker="x", markersize=9, color=style["color"])
    ax_cost.set_xlabel("epoch")
    ax_cost.set_ylabel("train cost (mean over the epoch)")
    ax_val.set_xlabel("epoch")
    ax_val.set_ylabel("val accuracy")
    for ax in (ax_cost, ax_val):
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    _legend_beside(fig, ax_cost)
    return save(fig, path, tight=True)


def layer_order(run: RunData) -> list[str]:
    """Weight layers from input to output, as the monitors listed them in summary.json."""
    for verdict in (run.summary.get("monitors") or {}).get("verdicts", []):
        numbers = verdict.get("numbers") or {}
        for key in ("medians", "median_grad_mean_abs"):
            if verdict.get("check") in ("update_ratio", "gradients") and key in numbers:
                return list(numbers[key])
    return [c.removeprefix("babysit/update_ratio/") for c in run.columns("babysit/update_ratio/")]


def _first_epoch_end(run: RunData) -> float:
    m = run.metrics
    if "epoch" not in m or "train/loss" not in m:
        return math.inf
    ends = m.loc[(m["epoch"] == 0) & m["train/loss"].notna(), "step"]
    return float(ends.max()) if len(ends) else math.inf


def _at_init(run: RunData, column: str) -> float:
    s = run.series(column)
    return float(s[column].iloc[0]) if len(s) else math.nan


def _first_epoch_median(run: RunData, column: str) -> float:
    s = run.series(column)
    values = s.loc[s["step"] <= _first_epoch_end(run), column].tolist()
    return statistics.median(values) if values else math.nan


def layers(variants: list[Variant], path: Path) -> tuple[Path, list[str]] | None:
    """Mean |gradient| per layer at the first step, and the median update/weight ratio per layer
    over the first epoch; returns the figure and the layer names in x order."""
    names = next((order for v in variants if (order := layer_order(v.run))), [])
    if not names:
        return None
    fig, (ax_grad, ax_ratio) = figure("Per layer, input → output, in the first epoch", ncols=2)
    x = list(range(1, len(names) + 1))
    drawn = False
    for v, style in zip(variants, _styles(variants), strict=True):
        grads = [_at_init(v.run, f"babysit/grad_mean_abs/{n}") for n in names]
        ratios = [_first_epoch_median(v.run, f"babysit/update_ratio/{n}") for n in names]
        ax_grad.plot(x, grads, marker="o", markersize=2.5, linewidth=1.2, **style)
        ax_ratio.plot(x, ratios, marker="o", markersize=2.5, linewidth=1.2, **style)
        drawn = drawn or any(math.isfinite(g) and g > 0 for g in grads)
    if not drawn:
        return discard(fig)
    hp = variants[0].run.summary.get("hparams", {})
    low = hp.get("babysit/monitors/update_ratio/low", 1e-4)
    high = hp.get("babysit/monitors/update_ratio/high", 1e-2)
    ax_ratio.axhspan(low, high, color="0.5", alpha=0.12)
    ax_ratio.axhline(1e-3, color="0.4", linestyle="--", linewidth=1)
    ax_grad.set_ylabel("mean |gradient| at the first step")
    ax_ratio.set_ylabel(f"median ‖ΔW‖/‖W‖ (band [{low:g}, {high:g}])")
    for ax in (ax_grad, ax_ratio):
        ax.set_yscale("log")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel(f"layer (1 = {names[0]}, {len(names)} = {names[-1]})")
    _legend_beside(fig, ax_grad)
    return save(fig, path, tight=True), names
