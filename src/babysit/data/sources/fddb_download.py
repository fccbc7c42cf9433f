"""data=fddb data.download=true: fetch FDDB's ellipse lists and pictures into data.root.

The pictures' archive holds 2002/ and 2003/ at its top (they go into originalPics/); the lists'
archive holds FDDB-folds/. Each archive is unpacked into a temporary folder that is renamed
when complete, so an interrupted download leaves nothing that looks finished."""

import shutil
import tempfile
from pathlib import Path

from babysit.errors import BabysitError

ARCHIVES = {  # folder under data.root → (mirrors, the folder's path inside the archive, or "" for its top)
    "FDDB-folds": (("http://vis-www.cs.umass.edu/fddb/FDDB-folds.tgz",), "FDDB-folds"),
    "originalPics": (("http://vis-www.cs.umass.edu/fddb/originalPics.tar.gz",
                      "http://tamaraberg.com/faceDataset/originalPics.tar.gz"), ""),
}


def fetch_fddb(root: Path) -> None:
    """Download and unpack what `root` lacks (nothing when both folders are there)."""
    root.mkdir(parents=True, exist_ok=True)
    for folder, (mirrors, inside) in ARCHIVES.items():
        if not (root / folder).is_dir():
            _fetch(mirrors, inside, root, root / folder)


def _fetch(mirrors: tuple[str, ...], inside: str, root: Path, target: Path) -> None:
    from torchvision.datasets.utils import download_and_extract_archive

    failures = []
    for url in mirrors:
        with tempfile.TemporaryDirectory(dir=root, prefix=f".{target.name}-") as tmp:
            content = Path(tmp) / "content"
            try:
                download_and_extract_archive(url, download_root=tmp, extract_root=str(content), remove_finished=True)
            except Exception as e:  # noqa: BLE001 - any network or archive failure: try the next mirror
                failures.append(f"{url}: {type(e).__name__}: {e}")
                continue
            unpacked = content / inside if inside else content
            if not unpacked.is_dir() or not any(unpacked.iterdir()):
                failures.append(f"{url}: the archive holds no {inside or 'pictures'}")
                continue
            shutil.move(unpacked, target)  # a rename: the temporary folder sits in root
            print(f"FDDB: fetched {url} into {target}", flush=True)
            return
    raise BabysitError(f"cannot fetch FDDB's {target.name} ({failures[-1][:200]}): download "
                       f"{mirrors[0].rsplit('/', 1)[-1]} by hand and unpack it into {target}")
