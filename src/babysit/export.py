"""python -m babysit.export <checkpoint> --format onnx|torchscript|pt2

Writes the checkpoint's network with its input normalisation built in (it takes float images in
[0, 1], N×C×H×W, and returns logits), checks that it gives the checkpoint's outputs on a test
batch, and writes <file>.json beside it with the classes and input shape."""

import argparse
import json
import sys
import warnings
from pathlib import Path

import torch
import torch.nn as nn
from omegaconf import OmegaConf

from babysit.atomic import write_text
from babysit.checkpoint import load_network
from babysit.cli import fail, report_user_errors
from babysit.errors import BabysitError

FORMATS = {"onnx": ".onnx", "torchscript": ".pt", "pt2": ".pt2"}
# torch marks TorchScript deprecated in favour of torch.export (the pt2 format); it still works
JIT_DEPRECATED = r".*torch\.jit.*deprecated"
SETTINGS = Path(__file__).resolve().parents[2] / "conf" / "export" / "default.yaml"


class Deployable(nn.Module):
    """Normalise like training did, then the network."""

    def __init__(self, net: nn.Module, mean: list[float], std: list[float]):
        super().__init__()
        self.net = net
        self.register_buffer("mean", torch.tensor(mean).view(1, -1, 1, 1))
        self.register_buffer("std", torch.tensor(std).view(1, -1, 1, 1))

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.net((images - self.mean) / self.std)


def deployable(net: nn.Module, meta: dict) -> Deployable:
    norm = meta["normalize"]
    return Deployable(net, norm["mean"], norm["std"]).eval()


def write_torchscript(model: nn.Module, example: torch.Tensor, path: Path, settings) -> None:
    with torch.no_grad(), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=JIT_DEPRECATED, category=FutureWarning)
        traced = torch.jit.trace(model, example)
    traced.save(str(path))


def run_torchscript(path: Path, batch: torch.Tensor) -> torch.Tensor:
    with torch.no_grad(), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=JIT_DEPRECATED, category=FutureWarning)
        return torch.jit.load(str(path), map_location="cpu")(batch)


def write_pt2(model: nn.Module, example: torch.Tensor, path: Path, settings) -> None:
    batch = torch.export.Dim("batch", min=1)
    torch.export.save(torch.export.export(model, (example,), dynamic_shapes={"images": {0: batch}}), str(path))


def run_pt2(path: Path, batch: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return torch.export.load(str(path)).module()(batch)


def write_onnx(model: nn.Module, example: torch.Tensor, path: Path, settings) -> None:
    batch = torch.export.Dim("batch", min=1)
    program = torch.onnx.export(model, (example,), dynamo=True, input_names=["images"], output_names=["logits"],
                                dynamic_shapes={"images": {0: batch}}, opset_version=settings.onnx_opset,
                                verbose=False)
    program.save(str(path))


def run_onnx(path: Path, batch: torch.Tensor) -> torch.Tensor:
    import onnxruntime

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return torch.from_numpy(session.run(None, {"images": batch.numpy()})[0])


WRITERS = {"onnx": (write_onnx, run_onnx), "torchscript": (write_torchscript, run_torchscript),
           "pt2": (write_pt2, run_pt2)}


def default_output(checkpoint: Path, fmt: str) -> Path:
    """<run dir>/export/<checkpoint name>.<ext> for a run's checkpoint, else beside the checkpoint."""
    folder = checkpoint.parent.parent / "export" if checkpoint.parent.name == "checkpoints" else checkpoint.parent
    return folder / (checkpoint.stem + FORMATS[fmt])


def export(checkpoint: str | Path, fmt: str, out: str | Path | None = None, settings=None) -> tuple[Path, float]:
    """Write the export; return (path, largest |difference| from the checkpoint on the test batch)."""
    if fmt not in FORMATS:
        raise BabysitError(f"--format {fmt} must be one of {', '.join(FORMATS)}")
    settings = settings or OmegaConf.load(SETTINGS)
    checkpoint = Path(checkpoint)
    net, meta = load_network(checkpoint)
    model = deployable(net, meta)
    path = Path(out) if out else default_output(checkpoint, fmt)
    path.parent.mkdir(parents=True, exist_ok=True)
    generator = torch.Generator().manual_seed(settings.seed)
    batch = torch.rand(settings.batch_size, *meta["in_shape"], generator=generator)
    write, run = WRITERS[fmt]
    write(model, batch[:2], path, settings)  # torch.export specialises a batch of 1
    with torch.no_grad():
        expected = model(batch)
    got = run(path, batch)
    diff = float((got - expected).abs().max())
    if not torch.allclose(got, expected, atol=settings.atol, rtol=settings.rtol):
        raise BabysitError(f"{path} differs from {checkpoint} by up to {diff:.2e} on a test batch "
                           f"(atol {settings.atol:g}): the export is not faithful; keep using the checkpoint")
    info = {"format": fmt, "checkpoint": str(checkpoint), "classes": meta["classes"],
            "input": {"shape": ["N", *meta["in_shape"]], "dtype": "float32", "range": [0.0, 1.0],
                      "normalization": "built in (" + meta["normalize"]["mode"] + ")"},
            "output": "logits, one column per class", "max_abs_diff": diff}
    write_text(path.with_name(path.name + ".json"), json.dumps(info, indent=2))
    return path, diff


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m babysit.export", description=__doc__.split("\n")[0])
    parser.add_argument("checkpoint", help="a .ckpt written by train.py (e.g. <run dir>/checkpoints/last.ckpt)")
    parser.add_argument("--format", choices=sorted(FORMATS), default="onnx")
    parser.add_argument("--out", help="output file (default: <run dir>/export/<checkpoint name>.onnx|.pt|.pt2)")
    args = parser.parse_args(argv)
    path, diff = report_user_errors(lambda: export(args.checkpoint, args.format, args.out))
    print(f"{args.format}: {path} — outputs match the checkpoint on a test batch (max |Δ| {diff:.1e})")


if __name__ == "__main__":
    if len(sys.argv) < 2:
        fail("usage: python -m babysit.export <checkpoint> --format onnx|torchscript|pt2 [--out FILE]")
    main(sys.argv[1:])
