"""What the benchmarks share besides the runner: the project's config, composed as train.py would."""

import sys
import tempfile
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
warnings.filterwarnings("ignore")  # library deprecation chatter would drown the figures


def compose_cfg(overrides: list[str], out_dir: str):
    from tests.conftest import make_cfg

    return make_cfg(overrides, Path(out_dir))


def tmpdir() -> str:
    return tempfile.mkdtemp(prefix="babysit-bench-")
