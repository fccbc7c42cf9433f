"""data.download=true: fetch a dataset's archives, or say in one line what failed and where the
files go by hand (no internet, a mirror down, a broken archive)."""

from pathlib import Path

from babysit.errors import BabysitError


def fetch(dataset: str, urls: list[str], folder: Path, filename: str, md5: str | None, by_hand: str) -> None:
    """Download `filename` from the first of `urls` that works into `folder` and unpack it there."""
    from torchvision.datasets.utils import download_and_extract_archive

    failures = []
    for url in urls:
        try:
            download_and_extract_archive(url, download_root=str(folder), filename=filename, md5=md5)
            return
        except Exception as e:  # noqa: BLE001 - any network or archive failure: the next mirror, then the line below
            failures.append((url, e))
    url, error = failures[0]
    more = f" (and {len(failures) - 1} other mirror{'s' * (len(failures) > 2)})" if len(failures) > 1 else ""
    reason = " ".join(str(error).split()) or type(error).__name__
    raise BabysitError(f"cannot download {dataset} from {url}{more}: {type(error).__name__}: {reason[:200]}; "
                       f"{by_hand}") from error
