"""Every benchmark's runner: each case × repeat in its own fresh process, interleaved, and the
median and spread of each case printed with its ratio to a baseline.

A benchmark script names its cases and hands them to `main`:

    def plain_loop(args):          # untimed: imports, data, model
        ...
        def work():                # timed, alone
            ...
            return {"val acc": acc}  # optional figures shown next to the time
        return work

    if __name__ == "__main__":
        main({"plain loop": plain_loop, ...}, baseline="plain loop", add_arguments=...)

`python bench/x.py` starts `python bench/x.py --case NAME ...` once per case and repeat, rotating
the order every round, so that imports, allocator state, threads, flags and garbage of one case
never reach another's figure, and slow drifts of a shared machine hit every case alike. The
child prepares its case, collects the preparation's garbage, times `work()` alone and prints one
line that the parent reads.
"""

import argparse
import gc
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

MARK = "BENCH-RESULT "
Prepare = Callable[[argparse.Namespace], Callable[[], dict | None]]


def run_case(prepare: Prepare, args: argparse.Namespace) -> dict:
    """In the child: prepare (untimed), time the work alone; its printing goes to stderr."""
    stdout, sys.stdout = sys.stdout, sys.stderr
    try:
        work = prepare(args)
        gc.collect()  # the preparation's garbage is not the work's
        start, cpu = time.perf_counter(), time.process_time()
        extra = work() or {}
        seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    finally:
        sys.stdout = stdout
    # CPU seconds (all threads) rise less than wall seconds when other processes share the cores
    return {"seconds": seconds, "cpu s": cpu, **extra}


def child_command(script: str, case: str, argv: list[str]) -> list[str]:
    return [sys.executable, script, "--case", case, *argv]


def run_rounds(script: str, cases: list[str], repeats: int, argv: list[str], env: dict | None = None,
               progress=None) -> dict[str, list[dict]]:
    """Every case once per round, `repeats` rounds, round r starting at case r (mod the number of
    cases); each run a fresh `python script --case NAME argv...`. Returns each case's results in
    round order (each with its "seconds", "pid" and "round")."""
    results: dict[str, list[dict]] = {name: [] for name in cases}
    for r in range(repeats):
        for name in cases[r % len(cases):] + cases[:r % len(cases)]:
            proc = subprocess.run(child_command(script, name, argv), capture_output=True, text=True, env=env)
            lines = [ln for ln in proc.stdout.splitlines() if ln.startswith(MARK)]
            if proc.returncode != 0 or not lines:
                tail = "\n".join(proc.stderr.strip().splitlines()[-15:])
                raise SystemExit(f"case {name!r} failed (exit {proc.returncode}):\n{tail}")
            result = {**json.loads(lines[-1][len(MARK):]), "round": r}
            results[name].append(result)
            if progress is not None:
                progress(r, name, result)
    return results


def spread(values: list[float]) -> tuple[float, float, float]:
    """(median, min, max)."""
    return statistics.median(values), min(values), max(values)


def paired_ratios(case: list[dict], base: list[dict]) -> list[float]:
    """case / baseline, round by round (the two ran minutes apart at most, under the same load)."""
    by_round = {r["round"]: r["seconds"] for r in base}
    return [r["seconds"] / by_round[r["round"]] for r in case if r["round"] in by_round]


def table(results: dict[str, list[dict]], baseline: str) -> list[str]:
    """One line per case: median time, min–max, ratio of the round-by-round times to the baseline
    (median, min–max), and the median of any other figure the case reported."""
    width = max(len(n) for n in results) + 2
    lines = [f"{'case':<{width}}{'median':>9}  {'min – max':>17}   ratio to {baseline} (min – max)"]
    for name, runs in results.items():
        med, lo, hi = spread([r["seconds"] for r in runs])
        rmed, rlo, rhi = spread(paired_ratios(runs, results[baseline]))
        extra = {k for r in runs for k in r if k not in ("seconds", "round", "pid")}
        shown = "".join(f"   {k} {statistics.median(r[k] for r in runs if k in r):.4g}" for k in sorted(extra))
        lines.append(f"{name:<{width}}{med:8.3f}s  {lo:7.3f} – {hi:7.3f}s   {rmed:5.3f} ({rlo:.3f} – {rhi:.3f}){shown}")
    return lines


def ratio(results: dict[str, list[dict]], case: str, baseline: str) -> tuple[float, float, float]:
    """(median, min, max) of case / baseline over the rounds."""
    return spread(paired_ratios(results[case], results[baseline]))


def target_line(label: str, value: tuple[float, float, float], limit: float, unit: str = "×") -> str:
    med, lo, hi = value
    verdict = "met" if med <= limit else "missed"
    return f"target {label} ≤ {limit:g}{unit}: {med:.3f}{unit} (rounds {lo:.3f} – {hi:.3f}) — {verdict}"


def load_line() -> str:
    """The machine's load, which every figure above depends on."""
    try:
        one, five, _ = os.getloadavg()
    except OSError:
        return f"{os.cpu_count()} CPU cores"
    return (f"load average {one:.1f} (5 min {five:.1f}) on {os.cpu_count()} CPU cores"
            + ("" if five < 0.8 * (os.cpu_count() or 1) else " — a busy machine: the absolute times are inflated"))


def targets(name: str) -> dict:
    """The speed goals of benchmark `name`, from conf/bench/targets.yaml."""
    import yaml

    path = Path(__file__).resolve().parents[1] / "conf" / "bench" / "targets.yaml"
    return yaml.safe_load(path.read_text())[name]


def parser(description: str, default_repeats: int = 5) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--repeats", type=int, default=default_repeats, help="rounds of every case (at least 5)")
    p.add_argument("--threads", type=int, default=None,
                   help="torch threads in every case (default: torch's choice; 1 steadies a shared machine)")
    p.add_argument("--json", type=Path, default=None, help="also write every run's figures to this file")
    p.add_argument("--case", default=None, help=argparse.SUPPRESS)  # set by the parent in each child
    return p


def main(cases: dict[str, Prepare], baseline: str, args: argparse.Namespace, forward: list[str],
         summarise: Callable[[dict], list[str]] | None = None) -> dict[str, list[dict]] | None:
    """Child (`--case`): run that case and print its result line. Parent: run every case × repeat
    in fresh processes and print the table (and `summarise(results)`'s lines)."""
    if args.threads:
        os.environ["OMP_NUM_THREADS"] = os.environ["MKL_NUM_THREADS"] = str(args.threads)
    if args.case is not None:
        if args.threads:
            import torch

            torch.set_num_threads(args.threads)
        result = run_case(cases[args.case], args)
        print(MARK + json.dumps({**result, "pid": os.getpid()}), flush=True)
        return None
    if args.repeats < 5:
        print(f"--repeats={args.repeats}: fewer than 5 rounds give no trustworthy median", file=sys.stderr)
    script = str(Path(sys.argv[0]).resolve())
    before = load_line()

    def progress(r, name, result):
        print(f"  round {r + 1}/{args.repeats}  {name:<32} {result['seconds']:8.3f} s", file=sys.stderr, flush=True)

    argv = forward + ([f"--threads={args.threads}"] if args.threads else [])
    results = run_rounds(script, list(cases), args.repeats, argv, progress=progress)
    print("\n".join(table(results, baseline)))
    for line in summarise(results) if summarise else []:
        print(line)
    print(f"{args.repeats} rounds, each case in a fresh process; before: {before}; after: {load_line()}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return results
