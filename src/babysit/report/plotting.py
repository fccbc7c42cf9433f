"""Shared figure helpers: one look for every report figure."""

import io
import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

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
    fig.tight_layout()
    write_png(fig, path, bbox_inches="tight" if tight else None)
    plt.close(fig)
    return path


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
