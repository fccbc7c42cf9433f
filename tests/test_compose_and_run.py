import json
from pathlib import Path

import pytest

from babysit.run import run
from tests.formats import write_cifar, write_folder, write_mnist

DATA = ["faces", "digits", "mnist", "cifar10", "folder"]
MODELS = ["fc3", "lenet5"]


@pytest.fixture
def data_dir(tmp_path):
    root = tmp_path / "data"
    write_mnist(root, n_train=60, n_test=20)
    write_cifar(root, per_batch=12)
    write_folder(root / "patches", per_class=10)
    return root


@pytest.mark.parametrize("model", MODELS)
@pytest.mark.parametrize("data", DATA)
def test_every_data_and_model_runs_one_step(cfg_factory, data_dir, data, model):
    overrides = [f"data={data}", f"model={model}", "trainer.fast_dev_run=true", f"paths.data_dir={data_dir}",
                 "babysit.overfit.epochs=5", "babysit.range_test.steps=10", "babysit.report=false"]
    if data == "folder":
        overrides.append(f"data.root={data_dir / 'patches'}")
    cfg = cfg_factory(*overrides)
    expected = {"fc3": None, "lenet5": 32}[model]
    assert cfg.model.in_shape[1] == (expected or cfg.data.image_size)
    assert cfg.model.num_classes == cfg.data.num_classes
    value = run(cfg)
    assert 0.0 <= value <= 1.0
    summary = json.loads(Path(cfg.paths.output_dir, "summary.json").read_text())
    assert summary["status"] == "finished"
