"""Run train.py as a user would, in a subprocess."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def train(*overrides: str, run_dir: Path, timeout: int = 300) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "train.py", *overrides, f"hydra.run.dir={run_dir}"]
    if "-m" in overrides:
        cmd.remove(f"hydra.run.dir={run_dir}")
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=timeout)


def one_line_error(result: subprocess.CompletedProcess, *fragments: str) -> None:
    """Bad input: exit code 2 and one line on stderr, no traceback, naming each of `fragments`."""
    err = result.stderr.strip()
    assert result.returncode == 2, (result.returncode, err[-2000:])
    assert "Traceback" not in err and len(err.splitlines()) == 1, err
    for fragment in fragments:
        assert fragment in err, err
