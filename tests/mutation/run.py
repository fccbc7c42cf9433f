"""Mutation testing of the checks with mutmut: python tests/mutation/run.py [GROUP ...] [--workers N]

Each group of groups.toml is staged in outputs/mutation/<group>/ as an importable tree (the
callbacks, which install as babysit.callbacks, sit in src/babysit/callbacks/ there, so that mutmut
names their mutants by the module the code imports), mutmut mutates the group's modules and runs the
group's tests against every mutant. Prints the mutation score per module; survivors judged
equivalent (no behaviour change) are listed in equivalent.toml and count as neither.
Writes outputs/mutation/score.json and outputs/mutation/<group>/survivors.txt (each survivor's diff).
"""

import argparse
import contextlib
import json
import shutil
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

import tomllib

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
OUT = ROOT / "outputs" / "mutation"
COPIED = ["conf", "train.py", "hydra_plugins", "examples", "bench"]
# mutmut's exit codes per mutant (mutmut.stats.status_by_exit_code): 1, 3 and timeouts are kills
KILLED = {1, 3, 36, 24, -24, 152, 255, 37}
NO_TESTS = {5, 33}
IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", ".pytest_cache")


def staged(path: str) -> str:
    """Where a repository path lives in the staged tree."""
    return "src/babysit/" + path if path.startswith("callbacks/") else path


def stage(group: str, spec: dict) -> Path:
    work = OUT / group
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    shutil.copytree(ROOT / "src", work / "src", ignore=IGNORE)
    shutil.copytree(ROOT / "callbacks", work / "src" / "babysit" / "callbacks", ignore=IGNORE)
    shutil.copytree(ROOT / "conf", work / "src" / "babysit" / "conf", ignore=IGNORE)
    shutil.copytree(ROOT / "tests", work / "tests", ignore=IGNORE)
    for name in COPIED:
        source = ROOT / name
        (shutil.copytree(source, work / name, ignore=IGNORE) if source.is_dir() else shutil.copy(source, work / name))
    pytest_options = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]
    lines = [
        "[tool.mutmut]",
        'source_paths = ["src"]',
        f"only_mutate = {json.dumps([staged(m) for m in spec['modules']])}",
        f"pytest_add_cli_args_test_selection = {json.dumps(spec['tests'])}",
        f"also_copy = {json.dumps(COPIED)}",
        'process_isolation = "forkserver"',  # torch is not fork-safe once it has run
        f"timeout_multiplier = {spec.get('timeout_multiplier', 10.0)}",
        "",
        "[tool.pytest.ini_options]",
        'pythonpath = ["."]',
        f"filterwarnings = {json.dumps(pytest_options['filterwarnings'])}",
    ]
    (work / "pyproject.toml").write_text("\n".join(lines) + "\n")
    return work


def results(work: Path) -> dict[str, int | None]:
    codes: dict[str, int | None] = {}
    for meta in (work / "mutants").rglob("*.py.meta"):
        codes.update(json.loads(meta.read_text())["exit_code_by_key"])
    return codes


def module_paths(modules: list[str]) -> dict[str, str]:
    """The dotted module name mutmut gives each repository path the group's patterns match."""
    paths = {}
    for pattern in modules:
        for path in sorted(ROOT.glob(pattern)):
            name = staged(str(path.relative_to(ROOT)))
            name = name.removeprefix("src/").removesuffix(".py").replace("/", ".").removesuffix(".__init__")
            paths[name] = str(path.relative_to(ROOT))
    return paths


def diff(work: Path, mutant: str, module: str) -> str:
    """What the mutant changes, as `mutmut show <mutant>` in `work` prints it."""
    from mutmut.mutation.diff_apply import get_diff_for_mutant

    with contextlib.chdir(work):
        return get_diff_for_mutant(mutant, path=staged(module)).strip()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("groups", nargs="*", help="groups to run (default: all of them)")
    parser.add_argument("--workers", type=int, default=None, help="mutants tested at once (default: the cores)")
    parser.add_argument("--config", type=Path, default=HERE / "groups.toml", help="the groups (default: %(default)s)")
    args = parser.parse_args()
    groups = tomllib.loads(args.config.read_text())["groups"]
    equivalent = tomllib.loads((HERE / "equivalent.toml").read_text()).get("mutants", {})
    unknown = [g for g in args.groups if g not in groups]
    if unknown:
        print(f"unknown group {unknown[0]!r}: one of {', '.join(groups)}", file=sys.stderr)
        return 2
    OUT.mkdir(parents=True, exist_ok=True)
    score_file = OUT / "score.json"
    partial = bool(args.groups) and score_file.is_file()  # a partial run updates the other groups' figures
    scores = json.loads(score_file.read_text()) if partial else {}
    for group in args.groups or list(groups):
        spec = groups[group]
        survivors_text = []
        work = stage(group, spec)
        started = time.perf_counter()
        command = [sys.executable, "-m", "mutmut", "run"]
        if args.workers:
            command += ["--max-children", str(args.workers)]
        print(f"{group}: mutating {', '.join(spec['modules'])} against {', '.join(spec['tests'])}", flush=True)
        run = subprocess.run(command, cwd=work, capture_output=True, text=True)
        seconds = time.perf_counter() - started
        if run.returncode != 0:
            print(f"{group}: mutmut failed (exit {run.returncode}):\n{run.stdout[-3000:]}\n{run.stderr[-3000:]}",
                  file=sys.stderr)
            return 1
        per_module: dict[str, dict] = defaultdict(lambda: {"killed": 0, "survived": 0, "no_tests": 0,
                                                           "equivalent": 0, "total": 0})
        paths = module_paths(spec["modules"])
        for mutant, code in sorted(results(work).items()):
            dotted = mutant.split(".x_")[0].split(".xǁ")[0]
            module = paths.get(dotted, dotted)
            counts = per_module[module]
            counts["total"] += 1
            if mutant in equivalent:
                counts["equivalent"] += 1
                if code in KILLED:
                    print(f"  {mutant} is listed as equivalent but a test kills it: drop it from equivalent.toml")
            elif code in KILLED:
                counts["killed"] += 1
            else:
                untested = code in NO_TESTS
                counts["no_tests" if untested else "survived"] += 1
                # no test of the group calls the function: the name says enough (mutmut show <name> in <work>)
                survivors_text.append(f"## {mutant} (no test calls it)\n" if untested
                                      else f"## {mutant} (survived)\n{diff(work, mutant, module)}\n")
        for module, counts in sorted(per_module.items()):
            judged = counts["total"] - counts["equivalent"]
            counts["score"] = round(counts["killed"] / judged, 4) if judged else 1.0
            scores[module] = counts
        scores[f"group:{group}"] = {"seconds": round(seconds, 1), "tests": spec["tests"]}
        print(f"{group}: {seconds:.0f} s", flush=True)
        score_file.write_text(json.dumps(scores, indent=2) + "\n")  # after each group: an interrupted run keeps it
        (work / "survivors.txt").write_text("\n".join(survivors_text))
    print(f"\n{'module':48} {'killed':>7} {'alive':>6} {'equiv':>6} {'score':>7}")
    total_killed = total_judged = 0
    for module, counts in sorted(scores.items()):
        if module.startswith("group:"):
            continue
        alive = counts["survived"] + counts["no_tests"]
        total_killed += counts["killed"]
        total_judged += counts["total"] - counts["equivalent"]
        print(f"{module:48} {counts['killed']:7d} {alive:6d} {counts['equivalent']:6d} {counts['score']:7.1%}")
    if total_judged:
        alive = total_judged - total_killed
        print(f"{'all':48} {total_killed:7d} {alive:6d} {'':6} {total_killed / total_judged:7.1%}")
    print(f"survivors and their diffs: {OUT}/<group>/survivors.txt")
    return 0


if __name__ == "__main__":
    sys.exit(main())
