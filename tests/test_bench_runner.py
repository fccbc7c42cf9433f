import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

from runner import paired_ratios, run_rounds, table  # noqa: E402

SCRIPT = f"""
import os, sys, time
sys.path.insert(0, {str(ROOT / "bench")!r})
from runner import main, parser

LEFTOVER = []

def case(args):
    LEFTOVER.append(1)  # a case that ran before in this process would leave two
    def work():
        return {{"started": time.time(), "leftover": len(LEFTOVER)}}
    return work

if __name__ == "__main__":
    main({{"a": case, "b": case, "c": case}}, "a", parser("x").parse_args(), [])
"""


def test_every_case_and_repeat_runs_in_its_own_process_rotating_the_order(tmp_path):
    script = tmp_path / "bench_x.py"
    script.write_text(SCRIPT)
    results = run_rounds(str(script), ["a", "b", "c"], 2, [])
    runs = [(r["started"], name, r) for name, rs in results.items() for r in rs]
    assert len({r["pid"] for _, _, r in runs}) == 6
    assert all(r["leftover"] == 1 and r["seconds"] >= 0 for _, _, r in runs)
    assert [name for _, name, _ in sorted(runs, key=lambda t: t[0])] == ["a", "b", "c", "b", "c", "a"]
    assert [r["round"] for r in results["b"]] == [0, 1]
    assert len(paired_ratios(results["b"], results["a"])) == 2
    lines = table(results, "a")
    assert len(lines) == 4 and lines[1].startswith("a ") and "1.000 (1.000 – 1.000)" in lines[1]
