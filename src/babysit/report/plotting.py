"""Shared figure helpers: one look for every report figure."""

import io
import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import NullLocator  # noqa: E402

from babysit.atomic import write_bytes  # noqa: E402

COLOURS = plt.get_cmap("tab10")


def figure(title: str, ncols: int = 1, width: float = 6.4):
    fig, axes = plt.subplots(1, ncols, figsize=(width * (1 if ncols == 1 else 0.8 * ncols), 3.8), dpi=110,
                             squeeze=False)
    fig.suptitle(title, fontsize=11)
    for ax in axes[0]:
        ax.grid(True, which="major", alpha=0.3)
    return fig, list(axes[0])


def save(fig, path: Path, tight: bool = False) -> Path:
    """tight: crop to what was drawn, including legends placed outside the axes."""
    for ax in fig.axes:
        major_ticks_only_on_wide_log_axes(ax)
    if fig.get_layout_engine() is None:
        fig.tight_layout()
    write_png(fig, path, bbox_inches="tight" if tight else None)
    plt.close(fig)
    return path


def major_ticks_only_on_wide_log_axes(ax) -> None:
    """A log axis over two decades or more is read from its labelled powers of ten; its unlabelled
    minor ticks (eight a decade, each a full tick object to lay out and draw) make up a third of a
    report's drawing time. Narrower log axes keep them: there they carry the labels."""
    for axis, (lo, hi) in ((ax.xaxis, ax.get_xlim()), (ax.yaxis, ax.get_ylim())):
        if axis.get_scale() == "log" and lo > 0 and hi > 0 and abs(math.log10(hi / lo)) >= 2:
            axis.set_minor_locator(NullLocator())


def write_png(fig, path: Path, **savefig) -> Path:
    """The figure as a PNG, replacing an earlier version of the file in one rename."""
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", **savefig)
    return write_bytes(path, buffer.getvalue())


def discard(fig) -> None:
    """Close a figure that turned out to have nothing to show."""
    plt.close(fig)


def finite(values) -> list[float]:
    return [v if isinstance(v, (int, float)) and math.isfinite(v) else float("nan") for v in values]


def legend(ax, **kw) -> None:
    handles, labels = ax.get_legend_handles_labels()
    if handles:
        ax.legend(fontsize=8, **kw)
