"""ablation_report.md / .html: runs of one sweep that differ in preprocessing and
augmentation, side by side (protocol step 1)."""

import json
from pathlib import Path

import yaml
from hydra.experimental.callback import Callback

from babysit.errors import BabysitError
from babysit.report.load import load_run
from babysit.report.plotting import COLOURS, figure, legend, save
from babysit.report.render import to_html
from babysit.verdict import console


def _variants(sweep_dir: Path) -> list[tuple[str, Path]]:
    runs = []
    for summary in sorted(sweep_dir.glob("*/summary.json")):
        overrides = summary.parent / ".hydra" / "overrides.yaml"
        label = summary.parent.name
        if overrides.is_file():
            varied = ("data.normalize", "augment")
            chosen = [o for o in yaml.safe_load(overrides.read_text()) if o.split("=")[0] in varied]
            label = ", ".join(chosen) or label
        runs.append((label, summary.parent))
    return runs


def build_ablation_markdown(sweep_dir: Path) -> str:
    variants = _variants(sweep_dir)
    if not variants:
        raise BabysitError(f"{sweep_dir} holds no run directories with summary.json")
    runs = [(label, load_run(path)) for label, path in variants]
    lines = [f"# Ablation: preprocessing × augmentation ({sweep_dir.name})", "",
             "Same seed, data split, model and epoch budget; only the variant differs.", "",
             "| variant | train acc | val acc | test acc | final cost | train − val gap | status |",
             "|---|---|---|---|---|---|---|"]
    for label, run in runs:
        f, last = run.summary.get("final", {}), run.summary.get("last_epoch", {})
        gap = f.get("train/acc", float("nan")) - f.get("val/acc", float("nan"))
        lines.append(f"| {label} | {f.get('train/acc', float('nan')):.4f} | {f.get('val/acc', float('nan')):.4f} | "
                     f"{f.get('test/acc', float('nan')):.4f} | {last.get('train/loss', float('nan')):.4f} | "
                     f"{gap:+.4f} | {run.summary.get('status')} |")
    figures = sweep_dir / "figures"
    figures.mkdir(exist_ok=True)
    fig, (ax_cost, ax_val) = figure("Ablation curves", ncols=2)
    for i, (label, run) in enumerate(runs):
        for ax, column in ((ax_cost, "train/loss"), (ax_val, "val/acc")):
            s = run.series(column, by="epoch")
            ax.plot(s["epoch"] + 1, s[column], marker="o", markersize=3, color=COLOURS(i), label=label)
    ax_cost.set_xlabel("epoch")
    ax_cost.set_ylabel("train cost")
    ax_val.set_xlabel("epoch")
    ax_val.set_ylabel("val accuracy")
    legend(ax_val, loc="lower right")
    save(fig, figures / "ablation_curves.png")
    lines += ["", "![ablation_curves](figures/ablation_curves.png)", "",
              "Train accuracy is measured without augmentation on the checkpoint chosen by val accuracy; "
              "the final cost is the last epoch's mean training cost (with augmentation where it is on)."]
    lines += ["", "## Run reports", ""] + [f"- [{label}]({p.name}/report.html)" for label, p in variants]
    return "\n".join(lines) + "\n"


def write_ablation_report(sweep_dir: str | Path) -> Path:
    sweep_dir = Path(sweep_dir)
    md = build_ablation_markdown(sweep_dir)
    (sweep_dir / "ablation_report.md").write_text(md)
    path = sweep_dir / "ablation_report.html"
    path.write_text(to_html(md, sweep_dir, md.splitlines()[0].lstrip("# ")))
    (sweep_dir / "ablation.json").write_text(json.dumps({"variants": [label for label, _ in _variants(sweep_dir)]}))
    return path


class AblationReport(Callback):
    """Hydra callback: writes the ablation report when the multirun ends."""

    def on_multirun_end(self, config, **kwargs) -> None:
        path = write_ablation_report(Path(config.hydra.sweep.dir))
        console.print(f"Ablation report: {path}")
