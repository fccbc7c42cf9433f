"""Figures of the training run, drawn from metrics.csv (the numbers TensorBoard shows)."""

from pathlib import Path

from babysit.report.load import RunData
from babysit.report.plotting import COLOURS, discard, figure, legend, save


def _epoch_rows(run: RunData, column: str):
    s = run.series(column, by="epoch")
    return (s["epoch"] + 1).tolist(), s[column].tolist()


def cost(run: RunData, out: Path) -> Path | None:
    steps = run.series("train/loss_step")
    epochs_x, epochs_y = _epoch_rows(run, "train/loss")
    if not epochs_y and steps.empty:
        return None
    fig, (ax_step, ax_epoch) = figure("Cost (data loss + regularisation)", ncols=2)
    if not steps.empty:
        ax_step.plot(steps["step"], steps["train/loss_step"], color=COLOURS(0), linewidth=1)
    explosion = run.summary.get("explosion")
    if explosion and explosion.get("step") is not None:
        ax_step.axvline(explosion["step"], color="red", linestyle="--", label="exploded")
        legend(ax_step)
    ax_step.set_xlabel("step")
    ax_step.set_ylabel("cost per logged step")
    ax_epoch.plot(epochs_x, epochs_y, marker="o", markersize=3, color=COLOURS(0), label="train cost")
    vx, vy = _epoch_rows(run, "val/loss")
    ax_epoch.plot(vx, vy, marker="o", markersize=3, color=COLOURS(1), label="val loss (no reg)")
    ax_epoch.set_xlabel("epoch")
    ax_epoch.set_ylabel("mean per epoch")
    legend(ax_epoch)
    return save(fig, out / "train_cost.png")


def accuracy(run: RunData, out: Path) -> Path | None:
    tx, ty = _epoch_rows(run, "train/acc")
    vx, vy = _epoch_rows(run, "val/acc")
    if not ty or not vy:
        return None
    fig, (ax,) = figure("Train vs val accuracy (the gap is overfitting)")
    ax.plot(tx, ty, marker="o", markersize=3, color=COLOURS(0), label="train (mean over the epoch)")
    ax.plot(vx, vy, marker="o", markersize=3, color=COLOURS(1), label="val")
    common = sorted(set(tx) & set(vx))
    t, v = dict(zip(tx, ty, strict=True)), dict(zip(vx, vy, strict=True))
    ax.fill_between(common, [v[e] for e in common], [t[e] for e in common], color=COLOURS(3), alpha=0.15,
                    label="gap")
    ax.set_xlabel("epoch")
    ax.set_ylabel("accuracy")
    ax.set_ylim(0, 1.02)
    legend(ax, loc="lower right")
    return save(fig, out / "train_accuracy.png")


def _per_layer(run: RunData, prefix: str, ax, log: bool = True) -> bool:
    drawn = False
    for i, column in enumerate(run.columns(prefix)):
        s = run.series(column)
        if s.empty:
            continue
        ax.plot(s["step"], s[column], color=COLOURS(i % 10), label=column.removeprefix(prefix), linewidth=1)
        drawn = True
    if log and drawn:
        ax.set_yscale("log")
    ax.set_xlabel("step")
    return drawn


def update_ratio(run: RunData, out: Path) -> Path | None:
    fig, (ax,) = figure("Update / weight ratio per layer (‖ΔW‖ / ‖W‖)")
    if not _per_layer(run, "babysit/update_ratio/", ax):
        return discard(fig)
    hp = run.summary.get("hparams", {})
    low = hp.get("babysit/monitors/update_ratio/low", 1e-4)
    high = hp.get("babysit/monitors/update_ratio/high", 1e-2)
    ax.axhspan(low, high, color=COLOURS(2), alpha=0.12, label=f"band [{low:g}, {high:g}]")
    ax.axhline(1e-3, color=COLOURS(2), linestyle="--", linewidth=1, label="1e-3")
    ax.set_ylabel("ratio (log scale)")
    legend(ax)
    return save(fig, out / "train_update_ratio.png")


def norms(run: RunData, out: Path) -> Path | None:
    fig, (ax_w, ax_g) = figure("Weight and gradient norms per layer", ncols=2)
    drawn = _per_layer(run, "babysit/weight_norm/", ax_w)
    drawn = _per_layer(run, "babysit/grad_norm/", ax_g) or drawn
    if not drawn:
        return discard(fig)
    ax_w.set_ylabel("‖W‖ (log scale)")
    ax_g.set_ylabel("‖∇W‖ (log scale)")
    legend(ax_g)
    return save(fig, out / "train_norms.png")


def dead_units(run: RunData, out: Path) -> Path | None:
    fig, (ax,) = figure("Dead units per activation layer (zero on a whole batch)")
    if not _per_layer(run, "babysit/dead_units/", ax, log=False):
        return discard(fig)
    threshold = run.summary.get("hparams", {}).get("babysit/monitors/dead_units/threshold", 0.5)
    ax.axhline(threshold, color="red", linestyle="--", linewidth=1, label=f"warning above {threshold:g}")
    ax.set_ylim(0, 1.02)
    ax.set_ylabel("fraction of units")
    legend(ax)
    return save(fig, out / "train_dead_units.png")


def learning_rate(run: RunData, out: Path) -> Path | None:
    """The schedule; none for a constant learning rate (the header gives it): a flat line costs a
    figure's drawing time and shows nothing."""
    columns = run.columns("lr-")
    if not columns or all(run.series(c)[c].nunique() <= 1 for c in columns):
        return None
    fig, (ax,) = figure("Learning rate")
    for i, column in enumerate(columns):
        s = run.series(column)
        ax.plot(s["step"], s[column], marker="o", markersize=3, color=COLOURS(i), label=column)
    ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel("lr (log scale)")
    legend(ax)
    return save(fig, out / "train_lr.png")


ALL = (cost, accuracy, update_ratio, norms, dead_units, learning_rate)
