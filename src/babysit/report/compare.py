"""python -m babysit.report --compare <run dir> <run dir> …: runs side by side in compare_report.md /
.html (in the first run's parent, or --out): their results, the curves overlaid, every verdict, and the
config keys that differ between them."""

from pathlib import Path

from babysit.errors import BabysitError
from babysit.report import comparison_figures
from babysit.report.load import load_run
from babysit.report.render import write_markdown_and_html
from babysit.report.variants import Variant

SPLITS = ("train/acc", "val/acc", "test/acc")


def _cell(value) -> str:
    if isinstance(value, float):
        return f"{value:.4f}"
    return "–" if value is None else str(value).replace("|", "\\|").replace("\n", " ")


def _differing(hparams: list[dict], dirs: list[Path]) -> list[str]:
    """Settings whose values differ, leaving out those that only name each run's own directory."""
    keys = sorted({k for h in hparams for k in h if not k.startswith(("paths/", "trial/"))})

    def own_dir(h: dict, key: str, run_dir: Path) -> bool:
        return isinstance(h.get(key), str) and str(run_dir.resolve()) in str(Path(h[key]).resolve())

    return [k for k in keys if len({repr(h.get(k)) for h in hparams}) > 1
            and not all(own_dir(h, k, d) for h, d in zip(hparams, dirs, strict=True))]


def _setting(value) -> str:
    return f"{value:.4g}" if isinstance(value, float) else _cell(value)


def build_compare_markdown(runs: list, out: Path) -> str:
    labels = [f"{i + 1}: {r.run_dir.name}" for i, r in enumerate(runs)]
    hparams = [r.summary.get("hparams", {}) for r in runs]
    lines = ["# Runs compared", "", "| run | " + " | ".join(SPLITS) + " | epochs | status | dir |",
             "|---|" + "---|" * (len(SPLITS) + 3)]
    for label, r in zip(labels, runs, strict=True):
        final = r.summary.get("final") or {}
        lines.append(f"| {label} | " + " | ".join(_cell(final.get(k)) for k in SPLITS)
                     + f" | {_cell(r.summary.get('epochs_run'))} | {_cell(r.summary.get('status'))} | `{r.run_dir}` |")
    keys = _differing(hparams, [r.run_dir for r in runs])
    lines += ["", "## Settings that differ", ""]
    if keys:
        lines += ["| setting | " + " | ".join(labels) + " |", "|---|" + "---|" * len(runs)]
        lines += [f"| {k} | " + " | ".join(_setting(h.get(k)) for h in hparams) + " |" for k in keys]
    else:
        lines.append("None: the runs share every setting.")
    variants = [Variant(label, label, {"run": label}, r) for label, r in zip(labels, runs, strict=True)]
    figures = out / "figures"
    figures.mkdir(parents=True, exist_ok=True)
    curves = comparison_figures.curves(variants, figures / "compare_curves.png")
    lines += ["", "## Curves", "", f"![{curves.stem}](figures/{curves.name})", "", "## Verdicts", ""]
    checks = list(dict.fromkeys(v["check"] for r in runs for v in _verdicts(r)))
    lines += ["| check | " + " | ".join(labels) + " |", "|---|" + "---|" * len(runs)]
    for check in checks:
        cells = []
        for r in runs:
            mine = [v for v in _verdicts(r) if v["check"] == check]
            cells.append(_cell(f"{mine[-1]['status']}: {mine[-1]['message']}") if mine else "–")
        lines.append(f"| {check} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def _verdicts(run) -> list[dict]:
    return list((run.summary.get("preflight") or {}).get("checks", [])) + run.monitor_verdicts()


def write_compare_report(run_dirs: list[str | Path], out: str | Path | None = None) -> Path:
    if len(run_dirs) < 2:
        raise BabysitError("--compare needs two run directories or more")
    runs = [load_run(d) for d in run_dirs]
    out = Path(out) if out is not None else runs[0].run_dir.parent
    out.mkdir(parents=True, exist_ok=True)
    return write_markdown_and_html(out, "compare_report", build_compare_markdown(runs, out))
