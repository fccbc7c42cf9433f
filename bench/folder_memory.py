"""Memory of data=folder in memory and streamed, on a generated folder of N colour images.

    python bench/folder_memory.py [--images 20000] [--size 64] [--epochs 1]

Writes the folder once (two classes of PNG patches), then runs each case in its own fresh process:
`python train.py data=folder data.root=<folder> data.in_memory=true|false model=fc3 …` for a few
epochs without the preflight, and prints the peak resident memory of the training process (and of
the largest of its DataLoader workers, which it waits for) and the wall time.
"""

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

ROOT = Path(__file__).resolve().parents[1]


def write_folder(root: Path, images: int, size: int) -> None:
    rng = np.random.default_rng(0)
    for k, name in enumerate(("a", "b")):
        (root / name).mkdir(parents=True, exist_ok=True)
        for i in range(images // 2):
            pixels = (rng.integers(0, 120, size=(size, size, 3)) + 100 * k).clip(0, 255).astype(np.uint8)
            Image.fromarray(pixels).save(root / name / f"{i:06d}.png")


def run_case(root: Path, in_memory: bool, size: int, epochs: int, out: Path) -> tuple[float, float]:
    command = [sys.executable, "train.py", "data=folder", f"data.root={root}",
               f"data.in_memory={str(in_memory).lower()}", f"data.image_size={size}", "model=fc3",
               f"trainer.max_epochs={epochs}", "babysit.preflight=false", "babysit.report=false", "logger=csv",
               f"hydra.run.dir={out}"]
    started = time.perf_counter()
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(process.pid, 0)  # this child's own peak (its workers are waited for by it)
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode:
        sys.exit(f"{' '.join(command)} failed:\n{process.stderr.read().decode()[-2000:]}")
    return usage.ru_maxrss / 1024, time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--images", type=int, default=20000)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--epochs", type=int, default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="babysit-folder-") as tmp:
        root = Path(tmp) / "images"
        write_folder(root, args.images, args.size)
        on_disk = sum(f.stat().st_size for f in root.rglob("*.png")) / 2**20
        raw = args.images * 3 * args.size * args.size * 4 / 2**20
        print(f"{args.images} images of {args.size}×{args.size}×3: {on_disk:.0f} MiB of PNG, {raw:.0f} MiB as float32")
        for in_memory in (True, False):
            peak, wall = run_case(root, in_memory, args.size, args.epochs, Path(tmp) / f"run_{in_memory}")
            print(f"data.in_memory={str(in_memory).lower():<5}  peak RSS {peak:7.0f} MiB   wall {wall:6.1f} s")


if __name__ == "__main__":
    main()
