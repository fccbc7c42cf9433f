"""<name>_report.md / .html: the runs of one sweep side by side (same seed, split and budget; only
the overrides that differ between runs change), for the experiments in conf/experiment/."""

import json
import math
from dataclasses import dataclass
from pathlib import Path

from hydra.experimental.callback import Callback

from babysit.atomic import write_text
from babysit.errors import BabysitError
from babysit.report import comparison_figures
from babysit.report.load import RunData
from babysit.report.render import write_markdown_and_html
from babysit.report.variants import Variant, load_variants
from babysit.verdict import console

COLUMNS = ("variant", "initial loss", "final cost", "train acc", "val acc", "test acc", "train − val gap", "epochs",
           "status", "wall time")


@dataclass(frozen=True)
class Comparison:
    """What one experiment's report says; {model}, {data}, {sweep}, {classes} and {ln_c} are filled in."""

    name: str  # files: <name>_report.md/.html, <name>.json, figures/<name>_*.png
    title: str
    intro: str
    notes: str = ""
    layer_figure: bool = False  # per-layer gradients and update ratios in the first epoch


def _num(value, fmt: str = ".4f") -> str:
    return format(value, fmt) if isinstance(value, (int, float)) else "–"


def initial_cost(summary: dict) -> float | None:
    """The cost of the first training step, before any update (the monitors keep it)."""
    for verdict in (summary.get("monitors") or {}).get("verdicts", []):
        numbers = verdict.get("numbers") or {}
        value = numbers.get("initial", numbers.get("first_cost"))
        if verdict.get("check") in ("explosion", "loss_progress") and value is not None:
            return value
    return None


def initial_loss(run: RunData) -> str:
    """The data loss of the first step: its cost minus ½·reg.l2·‖W‖² of the weights at step 0
    (logged by the weight monitor); the cost itself, marked, when that cannot be told apart."""
    cost = initial_cost(run.summary)
    if cost is None:
        return "–"
    hp = run.summary.get("hparams", {})
    l2, l1 = hp.get("reg/l2") or 0.0, hp.get("reg/l1") or 0.0
    if not l2 and not l1:
        return _num(cost)
    norms = [run.series(c) for c in run.columns("babysit/weight_norm/")]
    if l1 or not norms or any(n.empty or n["step"].iloc[0] != 0 for n in norms):
        return f"{_num(cost)} (with reg)"
    squares = sum(float(n.iloc[0, 1]) ** 2 for n in norms)
    return _num(cost - 0.5 * l2 * squares)


def _status(summary: dict) -> str:
    status, explosion = summary.get("status", "?"), summary.get("explosion") or {}
    return f"{status} (epoch {explosion['epoch']})" if status == "exploded" and explosion.get("epoch") else status


def _row(v: Variant) -> str:
    s = v.run.summary
    final, last = s.get("final") or {}, s.get("last_epoch") or {}
    train, val = final.get("train/acc"), final.get("val/acc")
    gap = train - val if train is not None and val is not None else None
    wall = f"{s['wall_time_s']:.1f} s" if isinstance(s.get("wall_time_s"), (int, float)) else "–"
    cells = [v.label, initial_loss(v.run), _num(last.get("train/loss")), _num(train), _num(val),
             _num(final.get("test/acc")), _num(gap, "+.4f"), str(s.get("epochs_run", "–")), _status(s), wall]
    return "| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |"


def _fields(sweep_dir: Path, variants: list[Variant]) -> dict:
    summary = variants[0].run.summary
    data, model = summary.get("data") or {}, summary.get("model") or {}
    classes = len(data.get("classes", [])) or math.nan
    return {"model": model.get("name", "?"), "data": data.get("name", "?"), "sweep": sweep_dir.name,
            "classes": classes, "ln_c": math.log(classes)}


def build_markdown(sweep_dir: Path, comparison: Comparison, variants: list[Variant]) -> str:
    fields = _fields(sweep_dir, variants)
    lines = [f"# {comparison.title.format(**fields)}", "", comparison.intro.format(**fields), "",
             "| " + " | ".join(COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    lines += [_row(v) for v in variants]
    figures = sweep_dir / "figures"
    figures.mkdir(exist_ok=True)
    curves = comparison_figures.curves(variants, figures / f"{comparison.name}_curves.png")
    lines += ["", f"![{curves.stem}](figures/{curves.name})"]
    drawn = comparison_figures.layers(variants, figures / f"{comparison.name}_layers.png") \
        if comparison.layer_figure else None
    if drawn is not None:
        path, names = drawn
        lines += ["", f"![{path.stem}](figures/{path.name})", "",
                  "Layers, input → output: " + ", ".join(f"{i} `{n}`" for i, n in enumerate(names, start=1)) + "."]
    if comparison.notes:
        lines += ["", comparison.notes.format(**fields)]
    lines += ["", "## Run reports", ""] + [f"- [{v.label}]({v.dir_name}/report.html)" for v in variants]
    return "\n".join(lines) + "\n"


def write_comparison_report(sweep_dir: str | Path, comparison: Comparison) -> Path:
    sweep_dir = Path(sweep_dir)
    variants = load_variants(sweep_dir)
    if not variants:
        raise BabysitError(f"{sweep_dir} holds no run directories with summary.json")
    path = write_markdown_and_html(sweep_dir, f"{comparison.name}_report",
                                   build_markdown(sweep_dir, comparison, variants))
    write_text(sweep_dir / f"{comparison.name}.json", json.dumps({"variants": [v.label for v in variants]}))
    return path


class ComparisonReport(Callback):
    """Hydra callback: writes the comparison report when the multirun ends."""

    comparison: Comparison

    def on_multirun_end(self, config, **kwargs) -> None:
        path = write_comparison_report(Path(config.hydra.sweep.dir), self.comparison)
        console.print(f"{self.comparison.name.replace('_', ' ').capitalize()} report: {path}")
