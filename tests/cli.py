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
