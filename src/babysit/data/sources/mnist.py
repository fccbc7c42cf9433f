"""MNIST from its idx files under `<root>/MNIST/raw`, through torchvision's loader."""

from pathlib import Path

from babysit.data.sources.base import Images
from babysit.data.sources.download import fetch
from babysit.errors import BabysitError


def _download(raw: Path) -> None:
    from torchvision.datasets import MNIST

    files = [name.removesuffix(".gz") for name, _ in MNIST.resources]
    for name, md5 in MNIST.resources:
        if not (raw / name.removesuffix(".gz")).is_file():
            fetch("MNIST", [f"{mirror}{name}" for mirror in MNIST.mirrors], raw, name, md5,
                  f"put the idx files ({', '.join(files)}) in {raw} by hand")


def mnist(root: str, download: bool = False) -> Images:
    from torchvision.datasets import MNIST

    raw = Path(root) / "MNIST" / "raw"
    if download:
        _download(raw)
    try:
        train = MNIST(root, train=True)
        test = MNIST(root, train=False)
    except RuntimeError as e:
        if "not found" in str(e).lower():
            raise BabysitError(
                f"MNIST not found in {raw}: put the four idx files there, or run with "
                "data.download=true (needs internet)"
            ) from e
        raise BabysitError(f"MNIST in {raw} could not be read: {e}") from e
    except (OSError, ValueError, AssertionError) as e:
        raise BabysitError(f"MNIST in {raw} could not be read ({e}): replace the idx files") from e
    return Images(
        train.data.unsqueeze(1).float().div_(255),
        train.targets.long(),
        [str(i) for i in range(10)],
        f"MNIST in {raw}",
        test=(test.data.unsqueeze(1).float().div_(255), test.targets.long()),
    )
