"""The bug zoo: how many planted classic bugs the babysitter catches, naming the right cause, and
how often it cries wolf on healthy runs.

    python bench/bug_zoo.py [--jobs 2] [--only softmax] [--out outputs/bench/bug_zoo]

Every case (bench/zoo/cases.py) runs through the normal command, `python train.py …`, each in its
own process; its summary.json says which verdicts fired. Prints a table of every case and two
figures' worth of numbers: the detection rate (bugs where a WARN/FAIL of a check that names the
cause fired) and the false alarms (WARN/FAIL on the healthy references), and draws both to
<out>/detection.png and <out>/false_alarms.png. Each case's result goes into <out>/results.json as
soon as it ends, and a re-run keeps the cases already there (`--fresh` runs the selected ones again);
the table and the figures cover every case in results.json.
"""

import argparse
import json
import os
import re
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.zoo.cases import CASES, Case, caught, fired  # noqa: E402


def run_case(case: Case, out: Path, threads: int) -> dict:
    run_dir = out / "runs" / re.sub(r"[^a-z0-9]+", "_", case.name.lower()).strip("_")
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MPLBACKEND": "Agg"}
    started = time.perf_counter()
    result = subprocess.run([sys.executable, "train.py", *case.overrides, f"hydra.run.dir={run_dir}",
                             "babysit.report=false"], cwd=ROOT, capture_output=True, text=True, env=env)
    summary_file = run_dir / "summary.json"
    summary = json.loads(summary_file.read_text()) if summary_file.is_file() else {}
    alarms = fired(summary)
    error = result.stderr.strip().splitlines()[-1:] if result.returncode else []
    return {"name": case.name, "category": case.category, "healthy": case.healthy, "causes": sorted(case.causes),
            "returncode": result.returncode, "error": error, "status": summary.get("status"),
            "caught": caught(case, summary) if not case.healthy else None,
            "fired": [f"{v['check']} {v['status']}" for v in alarms],
            "seconds": round(time.perf_counter() - started, 1)}


def table(results: list[dict]) -> None:
    from rich.console import Console
    from rich.table import Table

    t = Table(title="Bug zoo", show_lines=False)
    for column in ("case", "category", "verdict", "WARN / FAIL that fired", "s"):
        t.add_column(column)
    for r in results:
        if r["healthy"]:
            verdict = "[green]quiet[/green]" if not r["fired"] else "[red]false alarm[/red]"
        else:
            verdict = "[green]caught[/green]" if r["caught"] else "[red]missed[/red]"
        if r["returncode"] and not r["status"]:
            verdict += f" (exit {r['returncode']}: {' '.join(r['error'])})"
        t.add_row(r["name"], r["category"], verdict, ", ".join(dict.fromkeys(r["fired"])) or "—", f"{r['seconds']:.0f}")
    Console(width=200).print(t)


def figures(results: list[dict], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    bugs = [r for r in results if not r["healthy"]]
    categories = list(dict.fromkeys(r["category"] for r in bugs))
    rates = [sum(r["caught"] for r in bugs if r["category"] == c) / sum(r["category"] == c for r in bugs)
             for c in categories]
    fig, ax = plt.subplots(figsize=(7, 0.32 * len(categories) + 1.2), dpi=110)
    ax.barh(categories, rates, color=["tab:green" if v == 1 else "tab:red" for v in rates])
    ax.set_xlim(0, 1)
    ax.invert_yaxis()
    ax.set_xlabel("share of the category's instances caught with the right cause")
    ax.set_title(f"Detection: {sum(r['caught'] for r in bugs)} of {len(bugs)} planted bugs", fontsize=10)
    fig.tight_layout()
    fig.savefig(out / "detection.png")
    plt.close(fig)
    healthy = [r for r in results if r["healthy"]]
    fig, ax = plt.subplots(figsize=(7, 0.32 * len(healthy) + 1.2), dpi=110)
    counts = [len(r["fired"]) for r in healthy]
    ax.barh([r["name"] for r in healthy], counts, color="tab:red")
    for i, n in enumerate(counts):
        ax.text(n + 0.05, i, str(n) if n else "0 (quiet)", va="center", fontsize=8)
    ax.set_xlim(0, max([*counts, 1]) + 1)
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.invert_yaxis()
    ax.set_xlabel("WARN / FAIL verdicts")
    ax.set_title(f"False alarms: {sum(bool(r['fired']) for r in healthy)} of {len(healthy)} healthy runs",
                 fontsize=10)
    fig.tight_layout()
    fig.savefig(out / "false_alarms.png")
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=1, help="cases run at once (each with its share of the cores)")
    parser.add_argument("--only", default="", help="run the cases whose name or category contains this")
    parser.add_argument("--out", default=str(ROOT / "outputs" / "bench" / "bug_zoo"))
    parser.add_argument("--fresh", action="store_true",
                        help="run the selected cases again even where <out>/results.json has them")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    cases = [c for c in CASES if args.only in c.name or args.only in c.category]
    threads = max(1, (os.cpu_count() or 1) // args.jobs)
    saved = out / "results.json"
    done = {r["name"]: r for r in json.loads(saved.read_text())} if saved.is_file() else {}
    if args.fresh:  # the selected cases run again; the others keep their results
        for case in cases:
            done.pop(case.name, None)
    lock = threading.Lock()

    def one(case: Case) -> dict:
        if case.name in done:
            return done[case.name]
        result = run_case(case, out, threads)
        with lock:
            done[case.name] = result
            saved.write_text(json.dumps(list(done.values()), indent=2))
            finished = sum(c.name in done for c in cases)
            print(f"{finished} / {len(cases)} {case.name}: {', '.join(result['fired']) or 'quiet'} "
                  f"({result['seconds']:.0f} s)", flush=True)
        return result

    with ThreadPoolExecutor(args.jobs) as pool:
        list(pool.map(one, cases))
    results = [done[c.name] for c in CASES if c.name in done]  # the whole zoo so far, in the zoo's order
    table(results)
    bugs = [r for r in results if not r["healthy"]]
    healthy = [r for r in results if r["healthy"]]
    if bugs:
        categories = {r["category"] for r in bugs}
        whole = {c for c in categories if all(r["caught"] for r in bugs if r["category"] == c)}
        print(f"Detection: {sum(r['caught'] for r in bugs)} / {len(bugs)} bugs caught with the right cause; "
              f"{len(whole)} / {len(categories)} categories caught in every instance")
    if healthy:
        print(f"False alarms: {sum(len(r['fired']) for r in healthy)} WARN/FAIL on "
              f"{sum(bool(r['fired']) for r in healthy)} / {len(healthy)} healthy runs")
    if bugs and healthy:
        figures(results, out)
        print(f"Figures: {out / 'detection.png'}, {out / 'false_alarms.png'}")


if __name__ == "__main__":
    main()
