"""Face / non-face patches cut out of FDDB (the Face Detection Data Set and Benchmark).

Layout under `root`: `FDDB-folds/FDDB-fold-XX-ellipseList.txt` (XX = 01..10) and
`originalPics/<path>.jpg`. Each ellipse list repeats: an image path without extension, a
face count n, then n lines `major_radius minor_radius angle centre_x centre_y 1` (radians).
"""

import itertools
import math
import numbers
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from babysit.data.sources.base import Images, to_float_images
from babysit.data.sources.fddb_cache import Patches, cache_key, file_state, load_cache, save_cache
from babysit.data.sources.fddb_download import fetch_fddb
from babysit.errors import BabysitError

FOLD_FILE = "FDDB-fold-{:02d}-ellipseList.txt"
FOLD_NAME = re.compile(r"FDDB-fold-(\d+)-ellipseList\.txt")
CLASSES = ["nonface", "face"]
CACHE_VERSION = 2  # bump when the extraction below changes its output
# Each image offers twice its share of non-face candidates; each fold then draws its exact
# number from them, so images that offer none (incomplete annotation, no room) are made up.
CANDIDATES_PER_NONFACE = 2
SKIPS = {  # note key → how the summary line says one and many
    "bad_annotation_lines": ("bad annotation line", "bad annotation lines"),
    "missing_images": ("missing image", "missing images"),
    "unreadable_images": ("unreadable image", "unreadable images"),
    "boxes_outside_image": ("box outside the image", "boxes outside the image"),
    "nonface_search_given_up": ("image without room for non-faces", "images without room for non-faces"),
}


@dataclass
class Record:
    """One image of an ellipse list: its faces as (major, minor, angle, cx, cy) rows.

    `complete` is False when some of its annotation lines were bad: its good faces are
    kept, but no non-face is cut from it, as a face there may be unannotated."""

    path: str
    fold: int
    ellipses: np.ndarray
    complete: bool


# --- geometry -------------------------------------------------------------------------


def ellipse_box(major: float, minor: float, angle: float, cx: float, cy: float) -> np.ndarray:
    """Axis-aligned bounding box (x0, y0, x1, y1) of an ellipse rotated by `angle` radians."""
    c, s = math.cos(angle), math.sin(angle)
    half_w = math.sqrt((major * c) ** 2 + (minor * s) ** 2)
    half_h = math.sqrt((major * s) ** 2 + (minor * c) ** 2)
    return np.array([cx - half_w, cy - half_h, cx + half_w, cy + half_h])


def square_box(box: np.ndarray, margin: float) -> np.ndarray:
    """The square around the box's centre with side (1 + margin) × its longer side."""
    cx, cy = (box[0] + box[2]) / 2, (box[1] + box[3]) / 2
    half = (1 + margin) * max(box[2] - box[0], box[3] - box[1]) / 2
    return np.array([cx - half, cy - half, cx + half, cy + half])


def fit_inside(box: np.ndarray, width: int, height: int, tolerance: float) -> np.ndarray | None:
    """The square box shifted inside the image when it crosses an edge by at most
    `tolerance` × its side; None when it crosses by more or is larger than the image."""
    side = box[2] - box[0]
    over = max(-box[0], -box[1], box[2] - width, box[3] - height, 0.0)
    if side > min(width, height) or over > tolerance * side:
        return None
    dx = max(0.0, -box[0]) - max(0.0, box[2] - width)
    dy = max(0.0, -box[1]) - max(0.0, box[3] - height)
    return box + np.array([dx, dy, dx, dy])


def box_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(len(a), len(b)) intersection over union of (x0, y0, x1, y1) boxes."""
    from torchvision.ops import box_iou as iou

    return iou(torch.as_tensor(a, dtype=torch.float64), torch.as_tensor(b, dtype=torch.float64)).numpy()


def sample_nonface_boxes(width: int, height: int, faces: np.ndarray, sides: np.ndarray, want: int,
                         iou_max: float, attempts: int, rng: np.random.Generator) -> np.ndarray:
    """Up to `want` random squares inside the image, with sides drawn from `sides`, each
    overlapping every face box by IoU < iou_max; `attempts` draws per wanted square."""
    n = attempts * want
    side = np.minimum(rng.choice(sides, n), min(width, height))
    x0, y0 = rng.random(n) * (width - side), rng.random(n) * (height - side)
    boxes = np.stack([x0, y0, x0 + side, y0 + side], axis=1)
    if len(faces):
        boxes = boxes[box_iou(boxes, faces).max(axis=1) < iou_max]
    return boxes[:want]


# --- annotations ----------------------------------------------------------------------


def _is_path(fields: list[str]) -> bool:
    if len(fields) != 1:
        return False
    try:
        float(fields[0])
    except ValueError:
        return True
    return False


def _ellipse(fields: list[str]) -> list[float] | None:
    if len(fields) != 6:
        return None
    try:
        values = [float(f) for f in fields[:5]]
    except ValueError:
        return None
    ok = all(map(math.isfinite, values)) and values[0] > 0 and values[1] > 0
    return values if ok else None


def _count(fields: list[str]) -> int | None:
    try:
        return int(fields[0]) if len(fields) == 1 else None
    except ValueError:
        return None


def parse_ellipse_list(text: str, fold: int) -> tuple[list[Record], int]:
    """Records of one ellipse list and the number of bad lines.

    A path line (one token, not a number) is followed by its count line, then by its
    ellipse lines up to the next path line. Bad: an ellipse line with other than 6 fields
    or a value that is not a finite number (or a radius ≤ 0), a count that is not a whole
    number or that disagrees with the ellipse lines that follow (also a file cut short),
    and a line before the first path."""
    lines = [line.split() for line in text.splitlines()]
    lines = [fields for fields in lines if fields]
    records, bad, i = [], 0, 0
    while i < len(lines):
        if not _is_path(lines[i]):
            bad, i = bad + 1, i + 1
            continue
        path = lines[i][0]
        count = _count(lines[i + 1]) if i + 1 < len(lines) else None
        i += 2
        parsed = []
        while i < len(lines) and not _is_path(lines[i]):
            parsed.append(_ellipse(lines[i]))
            i += 1
        ellipses = [e for e in parsed if e is not None]
        bad_here = len(parsed) - len(ellipses) + (count != len(parsed))
        bad += bad_here
        records.append(Record(path, fold, np.array(ellipses).reshape(-1, 5), complete=bad_here == 0))
    return records, bad


def fold_files(root: Path) -> dict[int, Path]:
    """Fold number → its ellipse list, for every list under root/FDDB-folds."""
    folder = root / "FDDB-folds"
    found = {}
    if folder.is_dir():
        for file in folder.iterdir():
            match = FOLD_NAME.fullmatch(file.name)
            if match and file.is_file():
                found[int(match.group(1))] = file
    if not found:
        raise BabysitError(
            f"data.root={root} has no FDDB-folds/FDDB-fold-XX-ellipseList.txt: "
            "point data.root at the folder holding FDDB-folds/ and originalPics/"
        )
    return dict(sorted(found.items()))


# --- extraction -----------------------------------------------------------------------


@dataclass
class Settings:
    size: int
    channels: int
    margin: float
    negatives_per_face: float
    iou_max: float
    edge_tolerance: float
    attempts: int
    seed: int


def _read(file: Path, mode: str) -> Image.Image:
    """The whole image decoded (so a truncated JPEG fails here); no EXIF rotation, as the
    ellipses are drawn on the stored pixel grid."""
    with Image.open(file) as im:
        return im.convert(mode)


def _crop(im: Image.Image, box: np.ndarray, size: int, channels: int) -> np.ndarray:
    patch = im.resize((size, size), Image.Resampling.BILINEAR, box=tuple(float(v) for v in box))
    return np.asarray(patch).reshape(size, size, channels)


def picture_ids(records: list[Record]) -> list[int]:
    """One id per record: its position among the distinct (fold, path) pairs in fold order, so
    that a picture listed twice in one fold keeps one id and no id spans two folds."""
    ids: dict[tuple[int, str], int] = {}
    return [ids.setdefault((r.fold, r.path), len(ids)) for r in records]


def extract(records: list[Record], root: Path, s: Settings) -> dict:
    """Face patches and (over-drawn) non-face candidates of every record, with their folds,
    picture ids, counts, and the pictures under root/originalPics that gave nothing."""
    squares = [np.array([square_box(ellipse_box(*e), s.margin) for e in r.ellipses]).reshape(-1, 4) for r in records]
    every = np.concatenate([np.zeros((0, 4)), *squares])
    sides = every[:, 2] - every[:, 0]
    rng = np.random.default_rng(s.seed)
    mode = "L" if s.channels == 1 else "RGB"
    faces, face_folds, face_groups, pool, pool_folds, pool_groups = [], [], [], [], [], []
    counts = dict.fromkeys(SKIPS, 0) | {"images": 0}
    absent = {"missing": [], "unreadable": {}}
    for r, boxes, group in zip(records, squares, picture_ids(records), strict=True):
        rel = f"originalPics/{r.path}.jpg"
        file = root / rel
        if not file.is_file():
            counts["missing_images"] += 1
            absent["missing"].append(rel)
            continue
        try:
            im = _read(file, mode)
        except (UnidentifiedImageError, OSError, ValueError, Image.DecompressionBombError):
            counts["unreadable_images"] += 1
            absent["unreadable"][rel] = file_state(file)
            continue
        counts["images"] += 1
        for box in boxes:
            inside = fit_inside(box, im.width, im.height, s.edge_tolerance)
            if inside is None:
                counts["boxes_outside_image"] += 1
                continue
            faces.append(_crop(im, inside, s.size, s.channels))
            face_folds.append(r.fold)
            face_groups.append(group)
        want = math.ceil(CANDIDATES_PER_NONFACE * s.negatives_per_face * len(r.ellipses))
        if not r.complete or want == 0:
            continue
        found = sample_nonface_boxes(im.width, im.height, boxes, sides, want, s.iou_max, s.attempts, rng)
        counts["nonface_search_given_up"] += int(len(found) < want)
        pool += [_crop(im, box, s.size, s.channels) for box in found]
        pool_folds += [r.fold] * len(found)
        pool_groups += [group] * len(found)
    return {"faces": faces, "face_folds": face_folds, "face_groups": face_groups, "pool": pool,
            "pool_folds": pool_folds, "pool_groups": pool_groups, "counts": counts, "absent": absent}


def balance(out: dict, s: Settings) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """All faces plus, per fold, round(negatives_per_face × its faces) non-faces drawn from
    its candidates: patches (N, size, size, channels), labels, fold numbers and picture ids."""
    rng = np.random.default_rng([s.seed, 1])
    face_folds, pool_folds = np.array(out["face_folds"], dtype=np.int64), np.array(out["pool_folds"], dtype=np.int64)
    face_groups = np.array(out["face_groups"], dtype=np.int64)
    pool_groups = np.array(out["pool_groups"], dtype=np.int64)
    chosen = []
    for fold in np.unique(face_folds):
        candidates = np.flatnonzero(pool_folds == fold)
        n = min(round(s.negatives_per_face * int((face_folds == fold).sum())), len(candidates))
        chosen.append(np.sort(rng.choice(candidates, n, replace=False)))
    pick = np.concatenate(chosen) if chosen else np.array([], dtype=np.int64)
    shape = (-1, s.size, s.size, s.channels)
    x = np.concatenate([np.array(out["faces"]).reshape(shape), np.array(out["pool"]).reshape(shape)[pick]])
    y = np.r_[np.ones(len(face_folds)), np.zeros(len(pick))].astype(np.int64)
    return x.astype(np.uint8), y, np.r_[face_folds, pool_folds[pick]], np.r_[face_groups, pool_groups[pick]]


def skipped_text(counts: dict) -> str:
    said = [f"{counts[k]} {one if counts[k] == 1 else many}" for k, (one, many) in SKIPS.items() if counts[k]]
    return "skipped: " + (", ".join(said) or "nothing")


def summary_line(counts: dict) -> str:
    return (f"FDDB: {counts['faces']} faces, {counts['nonfaces']} non-faces from {counts['images']} images; "
            + skipped_text(counts))


# --- the source -----------------------------------------------------------------------


def _fold_list(name: str, value) -> list[int]:
    """A split's folds as given in the config: a list of fold numbers (a ListConfig too),
    one fold number, or None for none."""
    if value is None:
        return []
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        return [int(value)]
    if (isinstance(value, Sequence) and not isinstance(value, str | bytes)
            and all(isinstance(f, numbers.Integral) and not isinstance(f, bool) for f in value)):
        return [int(f) for f in value]
    raise BabysitError(f"data.source.{name}_folds={value!r} must be a list of fold numbers (e.g. [9]), "
                       "one fold number or null")


def _check(lists: dict[int, Path], root: Path, splits: dict[str, list[int]], s: Settings) -> None:
    if s.channels not in (1, 3):
        raise BabysitError(f"data.channels={s.channels} must be 1 (grey) or 3 (colour)")
    if not splits["train"]:
        raise BabysitError("data.source.train_folds is empty: give it at least one fold, e.g. [1,2,3,4,5,6,7,8]")
    for name, folds in splits.items():
        for fold in folds:
            if fold not in lists:
                raise BabysitError(
                    f"data.source.{name}_folds has fold {fold} but {root}/FDDB-folds has no "
                    f"{FOLD_FILE.format(fold)}: use folds among {sorted(lists)}"
                )
    for a, b in itertools.combinations(splits, 2):
        both = sorted(set(splits[a]) & set(splits[b]))
        if both:
            raise BabysitError(
                f"fold(s) {both} are in both data.source.{a}_folds and data.source.{b}_folds: give each fold to one"
            )
    checks = {"margin": s.margin >= 0, "negatives_per_face": s.negatives_per_face >= 0,
              "iou_max": 0 < s.iou_max <= 1, "edge_tolerance": 0 <= s.edge_tolerance <= 1, "attempts": s.attempts >= 1}
    for key, ok in checks.items():
        if not ok:
            raise BabysitError(f"data.source.{key}={getattr(s, key)} is out of range (see conf/data/fddb.yaml)")


def _extract_all(root: Path, lists: dict[int, Path], s: Settings) -> Patches:
    records, bad = [], 0
    for fold, file in lists.items():
        fold_records, fold_bad = parse_ellipse_list(file.read_text(errors="replace"), fold)
        records += fold_records
        bad += fold_bad
    out = extract(records, root, s)
    x, y, folds, groups = balance(out, s)
    counts = out["counts"] | {"bad_annotation_lines": bad, "faces": int(y.sum()), "nonfaces": int((y == 0).sum())}
    if counts["faces"] == 0:
        raise BabysitError(
            f"no face patch could be extracted from {root} ({skipped_text(counts)}): "
            "check that originalPics/ holds the images the ellipse lists name"
        )
    return Patches(x, y, folds, groups, counts, out["absent"])


def fddb(
    root: str,
    size: int,
    channels: int = 1,
    cache_dir: str | None = None,
    train_folds=(1, 2, 3, 4, 5, 6, 7, 8),
    val_folds=(9,),
    test_folds=(10,),
    margin: float = 0.1,
    negatives_per_face: float = 1.0,
    iou_max: float = 0.3,
    edge_tolerance: float = 0.15,
    attempts: int = 50,
    seed: int = 0,
    download: bool = False,
) -> Images:
    """Face patches (label 1) and non-face patches (label 0) of FDDB, size×size, grey or colour.

    Faces: each ellipse's axis-aligned bounding box, made square around its centre and
    enlarged by `margin` × its side. A square that crosses the image edge by at most
    `edge_tolerance` × its side is shifted inside; one that crosses by more (or is larger
    than the image) is skipped and counted.

    Non-faces: random squares (numpy Generator seeded with `seed`) whose sides are drawn
    from the face squares' sides of all folds, inside the image, with IoU < `iou_max` with
    every face square of the image (skipped ones too). Each fold gets
    round(negatives_per_face × its faces) of them, drawn at random from candidates that each
    image offers (twice its share); an image that yields fewer candidates than asked within
    `attempts` draws per candidate is given up on and counted.
    Images with a bad annotation line give faces but no non-faces (a face may be unannotated).

    Bad annotation lines, missing and unreadable images, boxes outside the image and given
    up searches are counted, printed on one line and returned in `Images.notes`.

    Folds: `train_folds` make `x, y`; `val_folds` and `test_folds` make `val` and `test`
    (None when empty: the data module then splits them off the training folds). Each takes
    a list of fold numbers, one fold number, or None (no fold).
    `Images.groups` gives every patch of each part the id of the picture it was cut from
    (face and non-face patches of one picture share it; no id is in two parts).

    Cache: with `cache_dir`, the patches of all folds are stored once in
    `cache_dir/fddb-<key>.npz`, the key hashing every setting above except the folds, the
    root and the ellipse lists' contents; changing folds re-uses it. Pictures that were
    missing or unreadable at extraction are looked at again on load: one that now exists or
    has changed (size, mtime) makes it extract again. Other pictures are assumed not to
    change: delete the file to extract again.

    download: fetch FDDB-folds/ and originalPics/ into `root` where they are missing.
    """
    path = Path(root)
    if download:
        fetch_fddb(path)
    if not path.is_dir():
        raise BabysitError(f"data.root={root} is not a folder: point data.root at the folder holding "
                           "FDDB-folds/ and originalPics/ (or add data.download=true)")
    lists = fold_files(path)
    s = Settings(int(size), int(channels), float(margin), float(negatives_per_face), float(iou_max),
                 float(edge_tolerance), int(attempts), int(seed))
    splits = {name: _fold_list(name, folds)
              for name, folds in (("train", train_folds), ("val", val_folds), ("test", test_folds))}
    _check(lists, path, splits, s)
    cache = Path(cache_dir) / f"fddb-{cache_key(path, lists, [CACHE_VERSION, vars(s)])}.npz" if cache_dir else None
    patches = load_cache(cache, path) if cache else None
    if patches is not None:
        print(f"{summary_line(patches.counts)} (loaded from cache {cache})")
    else:
        patches = _extract_all(path, lists, s)
        if cache:
            save_cache(cache, patches)
        print(summary_line(patches.counts) + (f" (cached in {cache})" if cache else ""))

    used = [name for name, folds in splits.items() if folds]
    keep = {name: np.isin(patches.folds, splits[name]) for name in used}
    parts = {name: (to_float_images(patches.x[k], 255.0), torch.as_tensor(patches.y[k])) for name, k in keep.items()}
    return Images(
        *parts["train"], CLASSES, f"FDDB in {root}",
        val=parts.get("val"),
        test=parts.get("test"),
        notes=patches.counts | {"folds": splits, "cache": str(cache) if cache else None},
        groups={name: torch.as_tensor(patches.groups[k]) for name, k in keep.items()},
    )
