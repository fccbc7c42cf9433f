"""autopilot_report.md / .html: the protocol's chain in one write-up, built from the pipeline's records:
the preflight's verdicts, where each search range came from, the stages and their best, the search
history, and the final model next to the default configuration trained the same way."""

import json
from pathlib import Path

import yaml

from babysit.errors import BabysitError
from babysit.report.render import write_markdown_and_html
from babysit.search.pipeline import STATE

SPLITS = ("train/acc", "val/acc", "test/acc")


def _cell(value) -> str:
    if isinstance(value, float):
        return f"{value:.4f}"
    return str(value).replace("|", "\\|").replace("\n", " ") if value is not None else "–"


def _link(sweep_dir: Path, run: str) -> str:
    report = sweep_dir / run / "report.html"
    return f"[{run}]({run}/report.html)" if report.is_file() else run


def _comparison(sweep_dir: Path, steps: dict) -> list[str]:
    final, base = steps.get("final"), steps.get("baseline")
    if not final and not base:
        return ["No final training ran (no trial completed)."]
    lines = ["| model | " + " | ".join(SPLITS) + " | epochs | status | run |", "|---|" + "---|" * (len(SPLITS) + 3)]
    for label, record in (("autopilot: the search's best", final), ("default configuration", base)):
        if record:
            f = record.get("final") or {}
            lines.append(f"| {label} | " + " | ".join(_cell(f.get(k)) for k in SPLITS)
                         + f" | {_cell(record.get('epochs_run'))} | {_cell(record.get('status'))} | "
                         + f"{_link(sweep_dir, record['run_dir'])} |")
    if final and base and "test/acc" in final.get("final", {}) and "test/acc" in base.get("final", {}):
        gain = final["final"]["test/acc"] - base["final"]["test/acc"]
        lines += ["", f"The search bought {gain:+.4f} test accuracy over the defaults "
                      f"({'as good or better' if gain >= 0 else 'worse: the defaults win'})."]
    return lines


def build_autopilot_markdown(sweep_dir: Path) -> str:
    state = json.loads((sweep_dir / STATE).read_text())
    steps = state.get("steps", {})
    search = json.loads((sweep_dir / "search.json").read_text()) if (sweep_dir / "search.json").is_file() else {}
    lines = [f"# Autopilot: {search.get('study', sweep_dir.name)}", "",
             "The lecture's protocol as one chain: preflight → ranges and budget from what it measured → coarse "
             "→ fine → the best trained at the full budget, next to the default configuration.", "",
             "## Result", ""]
    lines += _comparison(sweep_dir, steps)
    final = steps.get("final")
    if final:
        lines += ["", "Reproduce the final model:", "", "```", final["command"], "```"]
    lines += ["", "## 1. Preflight", ""]
    pre = steps.get("preflight")
    if pre:
        checks = (pre["summary"].get("preflight") or {}).get("checks", [])
        lines += ["| check | verdict | numbers |", "|---|---|---|"]
        lines += [f"| {c['check']} | {c['status']} | {_cell(c['message'])} |" for c in checks]
        lines += ["", f"Its report: {_link(sweep_dir, pre['run_dir'])}."]
    else:
        lines.append("Not run (hydra.sweeper.pipeline.preflight=false): the configured ranges and epochs.")
    plan = steps.get("plan")
    if plan:
        lines += ["", "## 2. Ranges and budget", "", "| parameter | range | from |", "|---|---|---|"]
        for key, spec in plan["params"].items():
            shown = f"[{spec['low']:.3g}, {spec['high']:.3g}] ({spec['type']})" if "low" in spec else \
                str(spec.get("choices"))
            lines.append(f"| {key} | {shown} | {_cell(plan['sources'].get(key))} |")
        lines += ["", f"Epochs per trial: {plan['epochs']} — {plan['budget']}.", "",
                  f"Scoring: {plan['scoring']}."]
        lines += [f"- **WARN** {w}" for w in plan.get("warnings", [])]
    lines += ["", "## 3. Search", ""]
    if search:
        lines += ["| stage | trials | epochs | sampler | ranges | best |", "|---|---|---|---|---|---|"]
        for st in search.get("stages", []):
            ranges = "; ".join(f"{k}: [{v['low']:.3g}, {v['high']:.3g}]" for k, v in (st.get("ranges") or {}).items()
                               if "low" in v)
            lines.append(f"| {st['name']} | {st['trials']} | {st['epochs']} | {st['sampler']} | {ranges} | "
                         f"{_cell(st.get('best'))} |")
        lines += [f"- **WARN** {w['message']}" for w in search.get("warnings", [])]
        lines += ["", "![history](figures/history.png)", ""]
        lines += [f"![{p.stem}](figures/{p.name})" for p in sorted((sweep_dir / "figures").glob("*.png"))
                  if p.stem != "history"]
        best_file = sweep_dir / "best.yaml"
        if best_file.is_file():
            best = yaml.safe_load(best_file.read_text())
            lines += ["", f"Best trial: {best['trial']} ({best['stage']}), {_cell(best['value'])}; every trial: "
                          "[sweep report](sweep_report.html)."]
    else:
        lines.append("The search has not finished.")
    return "\n".join(lines) + "\n"


def write_autopilot_report(sweep_dir: str | Path) -> Path:
    sweep_dir = Path(sweep_dir)
    if not (sweep_dir / STATE).is_file():
        raise BabysitError(f"{sweep_dir} holds no {STATE}: give the directory of an autopilot run")
    return write_markdown_and_html(sweep_dir, "autopilot_report", build_autopilot_markdown(sweep_dir))
