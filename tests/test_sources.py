import pickle

import pytest
import torch

from babysit.data.sources import cifar, digits, faces, image_folder, mnist
from babysit.errors import BabysitError
from tests.formats import write_cifar, write_folder, write_mnist


def test_faces_ship_offline_as_balanced_grey_patches():
    images = faces()
    assert images.x.shape == (200, 1, 25, 25)
    assert images.x.dtype == torch.float32 and 0 <= images.x.min() and images.x.max() <= 1
    assert torch.bincount(images.y).tolist() == [100, 100]


def test_digits_are_scaled_to_unit_range():
    images = digits()
    assert images.x.shape == (1797, 1, 8, 8)
    assert images.x.max() == 1.0 and len(images.classes) == 10


def test_mnist_reads_idx_files(tmp_path):
    write_mnist(tmp_path, n_train=30, n_test=10)
    images = mnist(str(tmp_path))
    assert images.x.shape == (30, 1, 28, 28) and images.test[0].shape == (10, 1, 28, 28)
    assert images.y[:10].tolist() == list(range(10))


def test_mnist_missing_names_the_folder(tmp_path):
    with pytest.raises(BabysitError, match=r"MNIST not found in .*MNIST/raw.*data.download=true"):
        mnist(str(tmp_path))


@pytest.mark.parametrize("classes", [10, 100])
def test_cifar_reads_pickle_batches(tmp_path, classes):
    write_cifar(tmp_path, per_batch=100 if classes == 100 else 12, classes=classes)
    images = cifar(str(tmp_path), classes=classes)
    assert images.x.shape[1:] == (3, 32, 32)
    assert len(images.classes) == classes
    assert images.test is not None


def test_cifar_pixels_keep_their_channel_layout(tmp_path):
    folder = write_cifar(tmp_path, per_batch=4)
    raw = pickle.loads((folder / "data_batch_1").read_bytes())["data"][0]
    images = cifar(str(tmp_path))
    assert images.x[0, 0, 0, 0] == pytest.approx(raw[0] / 255)  # red, top-left
    assert images.x[0, 1, 0, 0] == pytest.approx(raw[1024] / 255)  # green, top-left


def test_cifar_missing_file_is_named(tmp_path):
    folder = write_cifar(tmp_path, per_batch=4)
    (folder / "data_batch_3").unlink()
    with pytest.raises(BabysitError, match="data_batch_3 not found"):
        cifar(str(tmp_path))


def test_folder_reads_and_resizes_pngs(tmp_path):
    write_folder(tmp_path, per_class=5, size=20)
    images = image_folder(str(tmp_path), size=16, channels=1)
    assert images.x.shape == (10, 1, 16, 16)
    assert images.classes == ["face", "nonface"]


def test_folder_reads_colour(tmp_path):
    write_folder(tmp_path, per_class=3, mode="RGB")
    assert image_folder(str(tmp_path), size=8, channels=3).x.shape == (6, 3, 8, 8)


def test_folder_errors_name_the_problem(tmp_path):
    with pytest.raises(BabysitError, match="is not a folder"):
        image_folder(str(tmp_path / "nope"), size=8)
    write_folder(tmp_path, classes=("face",), per_class=2)
    with pytest.raises(BabysitError, match="at least two"):
        image_folder(str(tmp_path), size=8)
    (tmp_path / "nonface").mkdir()
    (tmp_path / "nonface" / "broken.png").write_bytes(b"not a png")
    with pytest.raises(BabysitError, match="broken.png"):
        image_folder(str(tmp_path), size=8)


UNREACHABLE = "http://127.0.0.1:9/"  # the discard port: the connection is refused at once


def _one_line_exit(capsys, job) -> str:
    from babysit.cli import report_user_errors

    with pytest.raises(SystemExit) as exit_info:
        report_user_errors(job)
    err = capsys.readouterr().err.strip()
    assert exit_info.value.code == 2 and len(err.splitlines()) == 1 and "Traceback" not in err, err
    return err


def test_a_failed_mnist_download_names_the_url_and_where_the_files_go(tmp_path, monkeypatch, capsys):
    from torchvision.datasets import MNIST

    monkeypatch.setattr(MNIST, "mirrors", [UNREACHABLE, "http://127.0.0.1:9/mirror/"])
    err = _one_line_exit(capsys, lambda: mnist(str(tmp_path), download=True))
    assert f"cannot download MNIST from {UNREACHABLE}train-images-idx3-ubyte.gz (and 1 other mirror)" in err
    assert "Connection refused" in err
    assert f"put the idx files (train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte, " \
           f"t10k-labels-idx1-ubyte) in {tmp_path / 'MNIST' / 'raw'} by hand" in err


@pytest.mark.parametrize("classes", [10, 100])
def test_a_failed_cifar_download_names_the_url_and_where_the_files_go(tmp_path, monkeypatch, capsys, classes):
    from torchvision.datasets import CIFAR10, CIFAR100

    cls = CIFAR10 if classes == 10 else CIFAR100
    monkeypatch.setattr(cls, "url", UNREACHABLE + cls.filename)
    err = _one_line_exit(capsys, lambda: cifar(str(tmp_path), classes=classes, download=True))
    assert f"cannot download CIFAR-{classes} from {UNREACHABLE}{cls.filename}: URLError" in err
    assert f"unpack {cls.filename} into {tmp_path} by hand" in err


def test_a_present_mnist_is_not_downloaded_again(tmp_path, monkeypatch):
    from torchvision.datasets import MNIST

    write_mnist(tmp_path, n_train=20, n_test=10)
    monkeypatch.setattr(MNIST, "mirrors", [UNREACHABLE])
    assert mnist(str(tmp_path), download=True).x.shape[0] == 20
