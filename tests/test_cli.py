import json
import re

import pytest

from tests.cli import one_line_error, train
from tests.formats import write_folder


def test_default_faces_run_learns_and_prints_epoch_lines(tmp_path):
    result = train("model=lenet5", "data=faces", "trainer.max_epochs=15", run_dir=tmp_path / "run")
    assert result.returncode == 0, result.stderr
    lines = re.findall(r"^Finished epoch (\d+) / 15: cost [\d.]+, train: [\d.]+, val [\d.]+, lr [\d.]+e-\d+$",
                       result.stdout, flags=re.M)
    assert [int(k) for k in lines] == list(range(1, 16))
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["status"] == "finished" and summary["epochs_run"] == 15
    assert summary["final"]["val/acc"] >= 0.85
    assert 0 <= summary["final"]["test/acc"] <= 1
    run = tmp_path / "run"
    assert (run / "metrics.csv").is_file() and (run / ".hydra" / "config.yaml").is_file()
    assert (run / "checkpoints" / "last.ckpt").is_file()
    assert any((run / "tensorboard").glob("events.out.tfevents.*"))


@pytest.mark.parametrize(
    ("overrides", "fragments"),
    [
        (["model=lenet"], ["unknown model 'lenet'", "fc3", "lenet5"]),
        (["data=face"], ["unknown data 'face'", "faces"]),
        (["optimizer=adamm"], ["unknown optimizer 'adamm'"]),
        (["optimizer.lr=0"], ["optimizer.lr=0"]),
        (["optimizer.lr=-1e-3"], ["optimizer.lr=-0.001"]),
        (["optimizer.lr=abc"], ["optimizer.lr='abc'"]),
        (["data.batch_size=0"], ["data.batch_size=0"]),
        (["data.split.train=0.7"], ["data.split", "sum to 1.1"]),
        (["data.num_classes=3"], ["data.num_classes=3", "has 2 classes"]),
        (["data=folder"], ["data.root is not set"]),
        (["data=folder", "data.root=/no/such/folder"], ["data.root=/no/such/folder is not a folder"]),
        (["reg.l2=-1"], ["reg.l2=-1"]),
        (["model=lenet5", "model.norm=batchy"], ["model.norm='batchy'"]),
        (["data=fddb", "data.root=/no/such/fddb"], ["/no/such/fddb", "point data.root at the folder holding"]),
        (["cv.folds=1"], ["cv.folds=1 must be 0"]),
        (["optimizer.lrr=1"], ["unknown setting optimizer.lrr", "+optimizer.lrr="]),
        (["data=mnist", "data.download=false", "paths.data_dir=/no/such/data"],
         ["paths.data_dir=/no/such/data is not a folder", "data.download=true"]),
        (["cv.folds=150"], ["cv.folds=150 is larger than the smallest class (80 'nonface'"]),
        (["transfer.checkpoint=/no/such.ckpt"], ["/no/such.ckpt not found"]),
        (["transfer.mode=melt", "transfer.checkpoint=x"], ["transfer.mode='melt' must be one of finetune, freeze"]),
        (["seed=-1"], ["seed=-1 must be a whole number in [0, 4294967295]", "e.g. seed=42"]),
        (["hparams_search=coarse_to_fine"], ["hparams_search=coarse_to_fine runs a sweep", "add -m"]),
        (["experiment=ablation"], ["experiment=ablation runs a sweep", "add -m"]),
        (["-m", "optimizer.lr=1e-3,-1"], ["optimizer.lr=-1 must be a number above 0"]),
        (["-m", "hparams_search=coarse_to_fine", "hydra.sweeper.stages.0.sampler=grid"],
         ["hydra.sweeper.stages.0.sampler='grid' must be one of random, tpe"]),
    ],
)
def test_bad_input_gets_one_clear_line(tmp_path, overrides, fragments):
    result = train(*overrides, run_dir=tmp_path / "run", timeout=120)
    one_line_error(result, *fragments)


def test_folder_problems_name_the_file(tmp_path):
    root = write_folder(tmp_path / "patches", per_class=6)
    (root / "face" / "zz_corrupt.png").write_bytes(b"\x89PNG broken")
    result = train("data=folder", f"data.root={root}", run_dir=tmp_path / "run", timeout=120)
    one_line_error(result, "zz_corrupt.png")
    single = write_folder(tmp_path / "single", classes=("face",), per_class=3)
    result = train("data=folder", f"data.root={single}", run_dir=tmp_path / "run2", timeout=120)
    one_line_error(result, "at least two")


def test_a_failed_run_leaves_earlier_runs_untouched(tmp_path):
    first = tmp_path / "first"
    assert train("data=digits", "model=fc3", "trainer.max_epochs=1", run_dir=first).returncode == 0
    before = {p: p.read_bytes() for p in first.rglob("*") if p.is_file()}
    one_line_error(train("optimizer.lr=0", run_dir=tmp_path / "second"), "optimizer.lr")
    assert {p: p.read_bytes() for p in first.rglob("*") if p.is_file()} == before


def test_cfg_job_lists_the_config(tmp_path):
    result = train("--cfg", "job", run_dir=tmp_path / "run", timeout=120)
    assert result.returncode == 0, result.stderr
    assert "optimizer:" in result.stdout and "seed: 42" in result.stdout
    assert not (tmp_path / "run").exists()


def test_a_bad_value_writes_no_run_directory(tmp_path):
    one_line_error(train("seed=-1", run_dir=tmp_path / "run"), "seed=-1")
    assert not (tmp_path / "run").exists()


def test_a_gpu_trainer_without_a_gpu_gets_one_line(tmp_path):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU")
    one_line_error(train("trainer=gpu", run_dir=tmp_path / "run", timeout=120),
                    "trainer.accelerator=gpu but this machine has no GPU", "trainer=cpu")
