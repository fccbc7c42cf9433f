import importlib
import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from babysit.data.sources import fddb
from babysit.data.sources.fddb import (
    box_iou,
    ellipse_box,
    fit_inside,
    parse_ellipse_list,
    sample_nonface_boxes,
    square_box,
)
from babysit.errors import BabysitError
from tests.cli import train
from tests.formats import write_fddb

fddb_module = importlib.import_module("babysit.data.sources.fddb")  # the package exports the function by that name

# write_fddb: 10 folds × 2 images × 2 faces, less 1 bad line (fold 1) and 1 missing image (fold 2);
# fold 3's extra face is outside the image
FACES_PER_FOLD = {1: 3, 2: 2, **{f: 4 for f in range(3, 11)}}
SUMMARY = ("FDDB: 37 faces, 37 non-faces from 19 images; "
           "skipped: 1 bad annotation line, 1 missing image, 1 box outside the image")


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    return write_fddb(tmp_path_factory.mktemp("fddb"))


def test_bounding_box_of_a_rotated_ellipse():
    assert ellipse_box(10, 5, 0, 50, 40) == pytest.approx([40, 35, 60, 45])
    assert ellipse_box(10, 5, math.pi / 2, 50, 40) == pytest.approx([45, 30, 55, 50])
    t = np.linspace(0, 2 * np.pi, 10_000)
    a, b, angle = 10, 5, 0.6
    x = a * math.cos(angle) * np.cos(t) - b * math.sin(angle) * np.sin(t)
    y = a * math.sin(angle) * np.cos(t) + b * math.cos(angle) * np.sin(t)
    assert ellipse_box(a, b, angle, 0, 0) == pytest.approx([x.min(), y.min(), x.max(), y.max()], abs=1e-4)


def test_face_square_is_centred_enlarged_and_shifted_only_a_little():
    assert square_box(np.array([0, 0, 20, 10]), 0.1) == pytest.approx([-1, -6, 21, 16])
    box = np.array([-2.0, 10, 18, 30])  # crosses the left edge by 10% of its side
    assert fit_inside(box, 50, 50, tolerance=0.15) == pytest.approx([0, 10, 20, 30])
    assert fit_inside(box, 50, 50, tolerance=0.05) is None
    assert fit_inside(np.array([0.0, 0, 60, 60]), 80, 50, tolerance=0.5) is None  # larger than the image


def test_nonface_boxes_stay_inside_and_off_the_faces():
    faces = np.array([[20.0, 20, 60, 60], [60, 50, 90, 80]])
    rng = np.random.default_rng(0)
    boxes = sample_nonface_boxes(100, 90, faces, np.array([30.0, 40.0]), 50, 0.3, 50, rng)
    assert len(boxes) == 50
    assert (box_iou(boxes, faces) < 0.3).all()
    assert (boxes[:, :2] >= 0).all() and (boxes[:, 2] <= 100).all() and (boxes[:, 3] <= 90).all()
    assert set(np.round(boxes[:, 2] - boxes[:, 0], 6)) <= {30.0, 40.0}
    crowded = np.array([[0.0, 0, 100, 90]])
    assert len(sample_nonface_boxes(100, 90, crowded, np.array([80.0]), 5, 0.3, 10, rng)) == 0


def test_bad_annotation_lines_are_counted_not_fatal():
    text = "\n".join([
        "10 5 0 20 20 1",  # belongs to no image
        "img_a", "2", "10 5 0 20 20 1", "10 5 0 60 60 1",
        "img_b", "2", "10 5 0 20 20 1",  # count disagrees
        "img_c", "x", "10 5 0 20 20 1",  # count not a number
        "img_d", "1", "10 5 0 20 1",  # five fields
        "img_e", "1", "10 nan 0 20 20 1",  # not a finite number
        "img_f", "2", "10 5 0 20 20 1",  # file cut short
    ])
    records, bad = parse_ellipse_list(text, fold=4)
    assert bad == 6
    assert [r.path for r in records] == ["img_a", "img_b", "img_c", "img_d", "img_e", "img_f"]
    assert [len(r.ellipses) for r in records] == [2, 1, 1, 0, 0, 1]
    assert [r.complete for r in records] == [True] + [False] * 5
    assert records[0].fold == 4


def test_folds_counts_and_balance(tree, capsys):
    images = fddb(str(tree), size=32)
    assert capsys.readouterr().out.strip() == SUMMARY
    train_faces = sum(FACES_PER_FOLD[f] for f in range(1, 9))
    assert images.x.shape == (2 * train_faces, 1, 32, 32)
    assert torch.bincount(images.y).tolist() == [train_faces, train_faces]
    for x, y in (images.val, images.test):
        assert x.shape == (8, 1, 32, 32) and torch.bincount(y).tolist() == [4, 4]
    assert images.classes == ["nonface", "face"]
    notes = images.notes
    assert (notes["bad_annotation_lines"], notes["missing_images"], notes["boxes_outside_image"]) == (1, 1, 1)
    assert (notes["unreadable_images"], notes["nonface_search_given_up"]) == (0, 0)
    assert (notes["faces"], notes["nonfaces"], notes["images"]) == (37, 37, 19)


def _is_grey(x: torch.Tensor) -> torch.Tensor:
    """Per (N, 3, H, W) patch: all its pixels have R == G == B (it was cut from a grey picture)."""
    return ((x[:, 0] == x[:, 1]) & (x[:, 1] == x[:, 2])).flatten(1).all(1)


def test_groups_name_the_picture_of_every_patch(tree):
    images = fddb(str(tree), size=16, channels=3)
    parts = {"train": (images.x, images.y), "val": images.val, "test": images.test}
    assert images.groups.keys() == parts.keys()
    # one id per listed picture in fold order, two per fold; 3 (fold 2's second) is missing
    expected = {"train": set(range(16)) - {3}, "val": {16, 17}, "test": {18, 19}}
    for name, (x, y) in parts.items():
        groups = images.groups[name]
        assert groups.dtype == torch.int64 and groups.shape == y.shape
        assert set(groups.tolist()) == expected[name]
        for picture in groups.unique().tolist():
            mine = groups == picture
            grey = _is_grey(x[mine])
            assert grey.all() or not grey.any()  # pictures alternate grey / colour: no id mixes two
            # face and non-face patches of one picture share its id; picture 0 (a bad line) gives faces only
            assert set(y[mine].tolist()) == ({1} if picture == 0 else {0, 1})


def test_folds_may_be_null_one_number_or_a_listconfig(tree):
    from omegaconf import ListConfig

    images = fddb(str(tree), size=16, train_folds=ListConfig(list(range(1, 9))), val_folds=None, test_folds=10)
    assert images.val is None and len(images.test[1]) == 8
    assert images.groups.keys() == {"train", "test"}
    assert images.notes["folds"] == {"train": list(range(1, 9)), "val": [], "test": [10]}
    same = fddb(str(tree), size=16, val_folds=ListConfig([]), test_folds=ListConfig([9, 10]))
    assert same.val is None and len(same.test[1]) == 16


@pytest.mark.parametrize("value", ["10", 10.0, [9.5], True, {"fold": 10}])
def test_folds_of_another_kind_are_an_error(tree, value):
    with pytest.raises(BabysitError) as excinfo:
        fddb(str(tree), size=16, test_folds=value)
    assert f"data.source.test_folds={value!r} must be a list of fold numbers" in _one_line(excinfo)


def test_face_patches_land_on_the_bright_ellipses(tree):
    images = fddb(str(tree), size=24, channels=3, train_folds=[1, 2, 3], val_folds=[], test_folds=[])
    assert images.x.shape[1:] == (3, 24, 24) and images.val is None and images.test is None
    assert len(images.y) == 2 * sum(FACES_PER_FOLD[f] for f in (1, 2, 3))
    faces, nonfaces = images.x[images.y == 1], images.x[images.y == 0]
    assert faces.mean() > nonfaces.mean() + 0.2
    assert (faces[:, :, 12, 12] > 0.7).all()  # every face patch is centred on a drawn ellipse


def test_unreadable_image_is_counted(tmp_path):
    root = write_fddb(tmp_path / "fddb", folds=3)
    (root / "originalPics" / "2002/08/03/big/img_1.jpg").write_bytes(b"\xff\xd8 not a jpeg")
    images = fddb(str(root), size=16, train_folds=[1, 2, 3], val_folds=[], test_folds=[])
    assert images.notes["unreadable_images"] == 1
    assert images.notes["faces"] == 3 + 2 + 2


def test_second_call_loads_the_cache(tree, tmp_path, monkeypatch, capsys):
    first = fddb(str(tree), size=16, cache_dir=str(tmp_path))
    assert "(cached in" in capsys.readouterr().out
    assert [p.suffix for p in tmp_path.iterdir()] == [".npz"]  # no temporary file left

    def no_jpeg(*args):
        raise AssertionError("the cache should have been used")

    monkeypatch.setattr(fddb_module, "_read", no_jpeg)
    second = fddb(str(tree), size=16, cache_dir=str(tmp_path))
    assert f"{SUMMARY} (loaded from cache {tmp_path}" in capsys.readouterr().out
    assert torch.equal(first.x, second.x) and torch.equal(first.test[0], second.test[0])
    assert all(torch.equal(first.groups[k], second.groups[k]) for k in ("train", "val", "test"))
    assert second.notes == first.notes
    refolded = fddb(str(tree), size=16, cache_dir=str(tmp_path), train_folds=[1, 2], val_folds=[3], test_folds=[])
    assert len(refolded.y) == 2 * (3 + 2) and refolded.test is None
    with pytest.raises(AssertionError, match="cache should have been used"):
        fddb(str(tree), size=16, cache_dir=str(tmp_path), margin=0.2)  # another setting: extract again


def test_pictures_missing_or_unreadable_then_are_looked_at_again(tmp_path, monkeypatch, capsys):
    root = write_fddb(tmp_path / "fddb", folds=3)
    pics = root / "originalPics" / "2002" / "08"
    (pics / "03/big/img_1.jpg").write_bytes(b"\xff\xd8 not a jpeg")
    kwargs = {"size": 16, "train_folds": [1, 2, 3], "val_folds": None, "test_folds": None,
              "cache_dir": str(tmp_path / "cache")}
    first = fddb(str(root), **kwargs)
    assert (first.notes["faces"], first.notes["missing_images"], first.notes["unreadable_images"]) == (7, 1, 1)
    capsys.readouterr()

    (pics / "02/big/img_1.jpg").write_bytes((pics / "02/big/img_0.jpg").read_bytes())  # the missing one is back
    restored = fddb(str(root), **kwargs)
    out = capsys.readouterr().out
    assert "FDDB: originalPics/2002/08/02/big/img_1.jpg now exists since cache" in out and "extracting again" in out
    assert (restored.notes["faces"], restored.notes["missing_images"]) == (9, 0)
    assert len(restored.y) == 2 * 9 and len(set(restored.groups["train"].tolist())) == 5

    (pics / "03/big/img_1.jpg").write_bytes((pics / "03/big/img_0.jpg").read_bytes())  # the unreadable one is fixed
    fixed = fddb(str(root), **kwargs)
    assert "originalPics/2002/08/03/big/img_1.jpg (unreadable then) changed since cache" in capsys.readouterr().out
    assert (fixed.notes["faces"], fixed.notes["unreadable_images"]) == (11, 0)

    def no_jpeg(*args):
        raise AssertionError("the cache should have been used")

    monkeypatch.setattr(fddb_module, "_read", no_jpeg)
    again = fddb(str(root), **kwargs)
    assert "(loaded from cache" in capsys.readouterr().out
    assert torch.equal(again.x, fixed.x) and torch.equal(again.groups["train"], fixed.groups["train"])
    assert len(list((tmp_path / "cache").iterdir())) == 1


def _one_line(excinfo) -> str:
    message = str(excinfo.value)
    assert "\n" not in message
    return message


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"train_folds": [1, 11]}, "has no FDDB-fold-11-ellipseList.txt"),
        ({"val_folds": [8]}, "fold(s) [8] are in both data.source.train_folds and data.source.val_folds"),
        ({"channels": 2}, "data.channels=2 must be 1 (grey) or 3 (colour)"),
        ({"iou_max": 0}, "data.source.iou_max=0.0"),
    ],
)
def test_settings_errors_say_what_to_fix(tree, kwargs, fragment):
    with pytest.raises(BabysitError) as excinfo:
        fddb(str(tree), size=16, **kwargs)
    assert fragment in _one_line(excinfo)


def test_root_errors_say_where_to_point(tmp_path):
    for root in (tmp_path / "nowhere", tmp_path):
        with pytest.raises(BabysitError) as excinfo:
            fddb(str(root), size=16)
        assert "point data.root at the folder holding FDDB-folds/ and originalPics/" in _one_line(excinfo)


def test_no_face_at_all_is_an_error(tmp_path):
    root = write_fddb(tmp_path / "fddb", folds=2)
    for jpeg in (root / "originalPics").rglob("*.jpg"):
        jpeg.unlink()
    with pytest.raises(BabysitError) as excinfo:
        fddb(str(root), size=16, train_folds=[1], val_folds=[2], test_folds=[], cache_dir=str(tmp_path / "cache"))
    assert "no face patch could be extracted" in _one_line(excinfo) and "4 missing images" in str(excinfo.value)
    assert not (tmp_path / "cache").exists()


def test_train_py_runs_on_fddb_folds(tree, tmp_path):
    result = train("data=fddb", f"data.root={tree}", "trainer.max_epochs=2", "babysit.preflight=false",
                   f"paths.data_dir={tmp_path / 'data'}", run_dir=tmp_path / "run")
    assert result.returncode == 0, result.stderr[-3000:]
    assert SUMMARY in result.stdout
    assert len(list((tmp_path / "data" / "fddb_cache").glob("fddb-*.npz"))) == 1
    data = json.loads((tmp_path / "run" / "summary.json").read_text())["data"]
    assert data["sizes"] == {"train": 58, "val": 8, "test": 8}
    assert data["notes"]["bad_annotation_lines"] == 1 and data["notes"]["boxes_outside_image"] == 1


def _archives(tree: Path, into: Path) -> dict[str, Path]:
    """FDDB's two archives in their published layouts, built from a test tree."""
    import tarfile

    into.mkdir(parents=True, exist_ok=True)
    with tarfile.open(into / "FDDB-folds.tgz", "w:gz") as tar:
        tar.add(tree / "FDDB-folds", arcname="FDDB-folds")
    with tarfile.open(into / "originalPics.tar.gz", "w:gz") as tar:
        for top in (tree / "originalPics").iterdir():  # 2002/, 2003/ at the archive's top
            tar.add(top, arcname=top.name)
    return {p.name: p for p in into.iterdir()}


def test_download_fetches_and_unpacks_both_archives_where_the_reader_expects_them(tree, tmp_path, monkeypatch):
    import shutil

    import torchvision.datasets.utils as tv_utils

    served = _archives(tree, tmp_path / "server")
    fetched = []

    def fake_download(url, root, filename=None, md5=None, **kwargs):  # the network only; unpacking is real
        name = url.rsplit("/", 1)[-1]
        if "vis-www" in url and name == "originalPics.tar.gz":
            raise OSError("host unreachable")  # the first mirror is down: the second serves
        fetched.append(url)
        shutil.copy(served[name], Path(root) / (filename or name))

    monkeypatch.setattr(tv_utils, "download_url", fake_download)
    root = tmp_path / "fddb"
    images = fddb(str(root), size=16, download=True)
    assert (root / "FDDB-folds").is_dir() and (root / "originalPics").is_dir()
    assert fetched == ["http://vis-www.cs.umass.edu/fddb/FDDB-folds.tgz",
                       "http://tamaraberg.com/faceDataset/originalPics.tar.gz"]
    assert images.notes["faces"] == fddb(str(tree), size=16).notes["faces"]
    assert not [p for p in root.iterdir() if p.name.startswith(".")]  # no temporary folder left
    fetched.clear()
    fddb(str(root), size=16, download=True)
    assert fetched == []  # nothing missing: nothing fetched


def test_download_without_a_network_says_what_to_do_by_hand(tmp_path, monkeypatch):
    import torchvision.datasets.utils as tv_utils

    def offline(url, root, filename=None, md5=None, **kwargs):
        raise OSError("no route to host")

    monkeypatch.setattr(tv_utils, "download_url", offline)
    with pytest.raises(BabysitError) as excinfo:
        fddb(str(tmp_path / "fddb"), size=16, download=True)
    message = _one_line(excinfo)
    assert "cannot fetch FDDB's FDDB-folds" in message and "download FDDB-folds.tgz by hand" in message
