import shutil
import subprocess

from tests.cli import ROOT
from tests.needs import needs


@needs(shutil.which("ruff") is not None, "ruff is not installed (pip install -e '.[dev]')")
def test_the_code_passes_ruff():
    result = subprocess.run(["ruff", "check", "."], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout[-3000:]
