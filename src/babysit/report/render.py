"""report.md and a self-contained report.html (figures embedded) for one run directory."""

import base64
import html
import re
from pathlib import Path

import markdown

from babysit.atomic import write_text
from babysit.report import data_figures, preflight_figures, training_figures
from babysit.report.advice import next_steps
from babysit.report.load import RunData, load_run
from babysit.run_files import RESOLVED_CONFIG
from babysit.transfer import describe_transfer

CSS = """
body { font-family: system-ui, sans-serif; max-width: 980px; margin: 2em auto; padding: 0 1em; color: #222; }
table { border-collapse: collapse; margin: 1em 0; font-size: 0.9em; }
th, td { border: 1px solid #ccc; padding: 4px 8px; text-align: left; vertical-align: top; }
th { background: #f2f2f2; }
img { max-width: 100%; border: 1px solid #eee; margin: 0.5em 0; }
code, pre { background: #f6f6f6; }
pre { padding: 0.8em; overflow-x: auto; font-size: 0.85em; }
.PASS { color: #1a7f37; font-weight: bold; } .WARN { color: #9a6700; font-weight: bold; }
.FAIL { color: #cf222e; font-weight: bold; } .INFO { color: #0969da; }
"""


def _cell(text) -> str:
    return str(text).replace("|", "\\|").replace("\n", " ")


def _fmt(value) -> str:
    return f"{value:.4f}" if isinstance(value, float) else str(value)


def _header(run: RunData) -> list[str]:
    s = run.summary
    data, model, final = s.get("data", {}), s.get("model", {}), s.get("final", {})
    hp = s.get("hparams", {})
    title = f"# Babysitting report: {model.get('name', '?')} on {data.get('name', '?')}"
    result = ", ".join(f"{k} {_fmt(final[k])}" for k in ("train/acc", "val/acc", "test/acc") if k in final)
    if not result and s.get("last_epoch"):  # a fit the Babysitter watched: no test of its own
        last = s["last_epoch"]
        result = "last epoch: " + ", ".join(f"{k} {_fmt(v)}" for k, v in last.items() if k.endswith(("acc", "loss")))
    wall = f" in {s['wall_time_s']:.1f} s" if isinstance(s.get("wall_time_s"), (int, float)) else ""
    seed = f" · seed {s['seed']}" if s.get("seed") is not None else ""
    lines = [title, "",
             f"**Status: {s.get('status', '?')}** after {s.get('epochs_run', '?')} epoch(s){wall} — "
             f"{result or 'no final metrics'}", ""]
    if s.get("status") != "finished" and s.get("reason"):
        lines += [f"Why it stopped: {s['reason']}", ""]
    lines += [f"Command: `{s.get('command', '')}`{seed} · run dir `{run.run_dir}`", "",
              "| setting | value |", "|---|---|"]
    shape = f", input {data['in_shape']}" if data.get("in_shape") else ""
    rows = [
        ("data", f"{data.get('name')}: classes {data.get('classes')}{shape}, split {data.get('sizes')}"),
        ("normalisation", (data.get("normalize") or {}).get("mode")),
        ("model", f"{model.get('name')}, {model.get('parameters')} parameters"),
        ("optimizer", f"{hp.get('optimizer/_target_', '?')}, lr {hp.get('optimizer/lr')}"),
        ("regularisation", f"l2 {hp.get('reg/l2')}, l1 {hp.get('reg/l1')}, max-norm {hp.get('reg/max_norm')}"
         if "reg/l2" in hp else None),
        ("loss", hp.get("loss/_target_")),
        ("batch size / epochs", f"{hp.get('data/batch_size')} / {hp.get('trainer/max_epochs')}"),
        ("best checkpoint", s.get("best_checkpoint")),
    ]
    if data.get("cv_fold"):
        rows.insert(1, ("cross-validation", f"fold {data['cv_fold']} of {data.get('cv_folds')}"))
    if data.get("notes"):
        rows.insert(1, ("data preparation", ", ".join(f"{k} {v}" for k, v in data["notes"].items())))
    if s.get("transfer"):
        rows.append(("transfer", describe_transfer(s["transfer"])))
    stop = s.get("early_stopping")
    if stop:
        when = f"stopped at epoch {stop['stopped_epoch']}" if stop["stopped"] else "did not trigger"
        rows.append(("early stopping", f"{when} ({stop['monitor']}, patience {stop['patience']}, "
                                       f"min delta {stop['min_delta']:g}, best {_fmt(stop['best'])})"))
    lines += [f"| {k} | {_cell(v)} |" for k, v in rows if v is not None]
    if final:
        baseline = _majority_baseline(s)
        lines += ["", "| split | accuracy | balanced accuracy | majority baseline | loss |", "|---|---|---|---|---|"]
        for split in ("train", "val", "test"):
            if f"{split}/acc" in final:
                cells = [final[f"{split}/acc"], final.get(f"{split}/balanced_acc", "–"), baseline.get(split, "–"),
                         final.get(f"{split}/loss", "")]
                lines.append(f"| {split} | " + " | ".join(_fmt(c) for c in cells) + " |")
    return lines


def _majority_baseline(summary: dict) -> dict:
    """The accuracy of always answering the largest class, per split (the class-balance check's numbers)."""
    for check in (summary.get("preflight") or {}).get("checks", []):
        if check["check"] == "class_balance":
            return check["numbers"].get("majority_baseline", {})
    return {}


def _verdict_table(verdicts: list[dict], with_epoch: bool) -> list[str]:
    head = "| check | " + ("epoch | " if with_epoch else "") + "verdict | numbers | advice |"
    lines = [head, "|---|" + ("---|" if with_epoch else "") + "---|---|---|"]
    for v in verdicts:
        epoch = f"{v.get('epoch') if v.get('epoch') is not None else '—'} | " if with_epoch else ""
        advice = v.get("advice", "") if v["status"] != "PASS" else ""
        lines.append(f"| {v['check']} | {epoch}{v['status']} | {_cell(v['message'])} | {_cell(advice)} |")
    return lines


def _figures(paths: list[Path | None], run_dir: Path) -> list[str]:
    return [f"![{p.stem}]({p.relative_to(run_dir).as_posix()})\n" for p in paths if p is not None]


def build_markdown(run: RunData) -> str:
    figures = run.run_dir / "figures"
    figures.mkdir(exist_ok=True)
    lines = _header(run)
    checks = (run.summary.get("preflight") or {}).get("checks", [])
    lines += ["", "## Preflight checks", ""]
    if checks:
        lines += _verdict_table(checks, with_epoch=False) + [""]
        lines += _figures([f(run, figures) for f in preflight_figures.ALL], run.run_dir)
    else:
        lines.append("The preflight did not run (babysit.preflight=false).")
    lines += _figures([f(run, figures) for f in data_figures.DATA], run.run_dir)
    lines += ["", "## Training", ""]
    drawn = _figures([f(run, figures) for f in training_figures.ALL], run.run_dir)
    lines += drawn or ["No training metrics were logged."]
    evaluation = _figures([f(run, figures) for f in data_figures.EVALUATION], run.run_dir)
    if evaluation:
        lines += ["", "## Test evaluation", "", "The checkpoint chosen by val accuracy, on the test split; the "
                  "mistakes it made with the highest probability, each captioned with the predicted class, its "
                  "probability and the true class.", ""]
        lines += evaluation
    lines += ["", "## Monitoring verdicts", ""]
    monitors = run.monitor_verdicts()
    lines += _verdict_table(monitors, with_epoch=True) if monitors else ["No monitor gave a verdict."]
    lines += ["", "## What to try next", ""] + [f"- {step}" for step in next_steps(run.summary)]
    config = next((p for p in (run.run_dir / RESOLVED_CONFIG, run.run_dir / ".hydra" / "config.yaml") if p.is_file()),
                  None)
    if config is not None:
        lines += ["", "## Resolved config", "", "```yaml", config.read_text().rstrip(), "```"]
    return "\n".join(lines) + "\n"


def to_html(md: str, run_dir: Path, title: str) -> str:
    body = markdown.markdown(md, extensions=["tables", "fenced_code"])

    def embed(match: re.Match) -> str:
        path = run_dir / html.unescape(match.group(2))
        if not path.is_file():
            return match.group(0)
        data = base64.b64encode(path.read_bytes()).decode()
        return f'{match.group(1)}data:image/png;base64,{data}"'

    body = re.sub(r'(<img [^>]*src=")([^"]+)"', embed, body)
    body = re.sub(r"<td>(PASS|INFO|WARN|FAIL)</td>", r'<td class="\1">\1</td>', body)
    return (f"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\"><title>{html.escape(title)}</title>"
            f"<style>{CSS}</style></head><body>\n{body}\n</body></html>\n")


def write_markdown_and_html(folder: Path, stem: str, md: str) -> Path:
    """<stem>.md and a self-contained <stem>.html (figures embedded) in `folder`; returns the html."""
    write_text(folder / f"{stem}.md", md)
    return write_text(folder / f"{stem}.html", to_html(md, folder, md.splitlines()[0].lstrip("# ")))


def write_report(run_dir: str | Path) -> Path:
    run = load_run(run_dir)
    return write_markdown_and_html(run.run_dir, "report", build_markdown(run))
