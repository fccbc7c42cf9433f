"""A user's own folder (classes and channels read from it, in memory or streamed) and own network."""

import json
import sys
from pathlib import Path

import pytest
import torch
from hydra.utils import instantiate

from babysit.errors import BabysitError
from babysit.run import run
from tests.formats import write_folder


@pytest.fixture
def colour_folder(tmp_path):
    return write_folder(tmp_path / "patches", classes=("cat", "dog", "owl"), per_class=12, mode="RGB")


def test_a_folder_run_needs_no_class_count_or_channels(cfg_factory, colour_folder):
    cfg = cfg_factory("data=folder", f"data.root={colour_folder}", "model=fc3", "trainer.max_epochs=1",
                      "babysit.preflight=false", "babysit.report=false")
    assert cfg.data.num_classes is None and cfg.data.channels is None
    run(cfg)
    summary = json.loads(Path(cfg.paths.output_dir, "summary.json").read_text())
    assert summary["data"]["classes"] == ["cat", "dog", "owl"]
    assert summary["data"]["in_shape"] == [3, 32, 32]
    assert summary["status"] == "finished"


def test_given_counts_are_checked_against_the_folder(cfg_factory, colour_folder):
    cfg = cfg_factory("data=folder", f"data.root={colour_folder}", "data.channels=1", "data.num_classes=2")
    dm = instantiate(cfg.data)
    with pytest.raises(BabysitError, match="data.num_classes=2 but image folder .* has 3 classes"):
        dm.setup()


def test_streaming_and_in_memory_share_splits_and_statistics(cfg_factory, colour_folder):
    modules = []
    for in_memory in ("true", "false"):
        cfg = cfg_factory("data=folder", f"data.root={colour_folder}", f"data.in_memory={in_memory}",
                          "data.workers=0", "data.split_seed=3")
        dm = instantiate(cfg.data)
        dm.setup()
        modules.append(dm)
    memory, streamed = modules
    assert type(streamed).__name__ == "StreamingDataModule"
    for split in ("train", "val", "test"):
        assert torch.equal(memory.labels(split), streamed.labels(split))
        idx = torch.arange(len(memory.labels(split)))
        assert torch.allclose(memory.examples(split, idx)[0], streamed.examples(split, idx)[0])
    assert torch.allclose(memory.normalizer.mean, streamed.normalizer.mean, atol=1e-6)
    assert torch.allclose(memory.normalizer.std, streamed.normalizer.std, rtol=1e-5)
    x, _ = next(iter(streamed.train_dataloader()))
    assert x.shape[1:] == (3, 32, 32)


def test_streaming_trains_with_every_check(cfg_factory, colour_folder):
    cfg = cfg_factory("data=folder", f"data.root={colour_folder}", "data.in_memory=false", "data.workers=0",
                      "model=fc3", "trainer.max_epochs=2", "babysit.overfit.epochs=20", "babysit.range_test.steps=20",
                      "babysit.report=false")
    value = run(cfg)
    summary = json.loads(Path(cfg.paths.output_dir, "summary.json").read_text())
    assert 0 <= value <= 1 and summary["status"] == "finished"
    assert {c["check"] for c in summary["preflight"]["checks"]} >= {"initial_loss", "overfit_tiny", "lr_range"}


def test_an_unreadable_image_stops_the_streaming_run_before_training(cfg_factory, colour_folder):
    (colour_folder / "dog" / "broken.png").write_bytes(b"not an image")
    cfg = cfg_factory("data=folder", f"data.root={colour_folder}", "data.in_memory=false", "data.workers=0")
    with pytest.raises(BabysitError, match="cannot read image .*broken.png"):
        run(cfg)
    assert not Path(cfg.paths.output_dir, "summary.json").exists()


NET = '''
import torch.nn as nn


class TinyNet(nn.Module):
    def __init__(self, in_shape, num_classes, width=8):
        super().__init__()
        c, h, w = in_shape
        self.body = nn.Sequential(nn.Flatten(), nn.Linear(c * h * w, width), nn.ReLU(), nn.Linear(width, num_classes))
        nn.init.normal_(self.body[3].weight, std=1e-3)

    def forward(self, x):
        return self.body(x)
'''


def test_your_own_network_gets_every_check(cfg_factory, tmp_path, monkeypatch):
    (tmp_path / "my_nets_for_test.py").write_text(NET)
    monkeypatch.syspath_prepend(str(tmp_path))
    cfg = cfg_factory("model=custom", "model._target_=my_nets_for_test.TinyNet", "+model.width=16", "data=digits",
                      "trainer.max_epochs=2", "babysit.report=false")
    run(cfg)
    summary = json.loads(Path(cfg.paths.output_dir, "summary.json").read_text())
    assert summary["model"]["name"] == "TinyNet"
    assert summary["model"]["parameters"] == 64 * 16 + 16 + 16 * 10 + 10
    checks = {c["check"]: c["status"] for c in summary["preflight"]["checks"]}
    assert checks["initial_loss"] == "PASS" and checks["overfit_tiny"] in ("PASS", "INFO")  # a tiny net: slow
    assert not [c for c, status in checks.items() if status in ("WARN", "FAIL")]
    sys.modules.pop("my_nets_for_test", None)
