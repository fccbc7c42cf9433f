"""The Babysitter callback in a plain Lightning project: the same preflight, monitors and report as a
babysit run, on the user's own module and DataLoaders."""

import json
import subprocess
import sys

import lightning.pytorch as pl
import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.utils.data import DataLoader, Dataset, TensorDataset

from babysit import Babysitter
from babysit.errors import BabysitError
from babysit.verdict import PASS
from tests.cli import ROOT

FAST = {"overfit": {"epochs": 60, "lr": 0.1}, "range_test": {"steps": 30}, "lr_bounds": {"steps": 5},
        "progress": False}


def blobs(n=96, classes=3, features=6, seed=0):
    """Separable Gaussian blobs: any small network learns them in a few steps."""
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % classes
    centres = torch.randn(classes, features, generator=g) * 3
    return centres[y] + torch.randn(n, features, generator=g), y


class DictBlobs(Dataset):
    def __init__(self, seed=0):
        self.x, self.y = blobs(seed=seed)

    def __len__(self):
        return len(self.y)

    def __getitem__(self, i):
        return {"pixels": self.x[i], "label": self.y[i], "name": f"blob{i}"}


class Net(pl.LightningModule):
    """A user's module: its own loss in training_step, its own optimiser, dict or tuple batches."""

    def __init__(self, keys=None, out_features=3, lr=1e-2):
        super().__init__()
        self.keys, self.lr = keys, lr
        self.body = nn.Sequential(nn.Linear(6, 16), nn.ReLU(), nn.Linear(16, out_features))
        nn.init.normal_(self.body[2].weight, std=1e-3)

    def forward(self, x):
        return self.body(x)

    def unpack(self, batch):
        return (batch[self.keys[0]], batch[self.keys[1]]) if self.keys else batch

    def training_step(self, batch, batch_idx):
        x, y = self.unpack(batch)
        loss = F.cross_entropy(self(x), y)
        self.log("train/loss", loss, on_step=False, on_epoch=True)
        return loss

    def validation_step(self, batch, batch_idx):
        x, y = self.unpack(batch)
        self.log("val/acc", (self(x).argmax(1) == y).float().mean())

    def configure_optimizers(self):
        return torch.optim.SGD(self.parameters(), lr=self.lr, momentum=0.9)


def fit(module, train, val, babysitter, tmp_path, epochs=2):
    trainer = pl.Trainer(max_epochs=epochs, callbacks=[babysitter], default_root_dir=tmp_path, logger=False,
                         enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
                         accelerator="cpu", devices=1)
    trainer.fit(module, train_dataloaders=train, val_dataloaders=val)
    return trainer


def tuple_loaders():
    x, y = blobs()
    return DataLoader(TensorDataset(x, y), batch_size=16, shuffle=True), DataLoader(TensorDataset(x, y), 64)


def test_the_example_project_gets_verdicts_and_a_report(tmp_path):
    result = subprocess.run([sys.executable, "examples/digits_lightning.py", "--epochs", "2", "--out", str(tmp_path)],
                            cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    assert "Finished epoch 2 / 2: cost" in result.stdout
    out = next(tmp_path.rglob("babysit.json")).parent
    written = json.loads((out / "babysit.json").read_text())
    checks = {c["check"]: c for c in written["preflight"]["checks"]}
    assert set(checks) >= {"initial_loss", "reg_up", "overfit_tiny", "lr_too_low", "lr_too_high", "lr_range"}
    assert checks["initial_loss"]["status"] == PASS and checks["initial_loss"]["numbers"]["num_classes"] == 10
    assert checks["overfit_tiny"]["numbers"]["final_train_acc"] == 1.0
    assert {v["check"] for v in written["monitors"]["verdicts"]} >= {"explosion", "loss_progress", "train_val_gap"}
    assert written["status"] == "finished" and written["epochs_run"] == 2
    html = (out / "report.html").read_text()
    assert "Preflight checks" in html and "data:image/png;base64," in html


def test_dict_batches_with_named_keys(tmp_path):
    loader = DataLoader(DictBlobs(), batch_size=16, shuffle=True)
    val = DataLoader(DictBlobs(seed=1), batch_size=64)
    babysitter = Babysitter(batch={"input_key": "pixels", "target_key": "label"}, **FAST)
    fit(Net(keys=("pixels", "label")), loader, val, babysitter, tmp_path)
    checks = {v.check: v for v in babysitter.preflight}
    assert checks["initial_loss"].status == PASS
    assert checks["initial_loss"].numbers["expected"] == pytest.approx(torch.log(torch.tensor(3.0)).item())
    assert checks["overfit_tiny"].numbers["examples"] == 20 and checks["overfit_tiny"].status == PASS
    assert (tmp_path / "babysit.json").is_file() and (tmp_path / "report.html").is_file()


def test_accuracy_is_measured_when_the_module_does_not_log_it(tmp_path):
    train, val = tuple_loaders()
    babysitter = Babysitter(**FAST, preflight=False)
    fit(Net(), train, val, babysitter, tmp_path, epochs=3)
    gap = babysitter.monitors["train_val_gap"]
    assert len(gap.train_acc) == 3 and gap.train_acc[-1] > 0.5  # Net logs no train accuracy
    assert gap.num_classes == 3  # the width of the module's scores (no preflight, no num_classes given)
    rows = (tmp_path / "babysit_metrics.csv").read_text().splitlines()
    assert "train/acc" in rows[0] and "val/acc" in rows[0]


def test_the_preflight_leaves_the_training_numbers_alone(tmp_path):
    weights = []
    for preflight in (True, False):
        torch.manual_seed(0)
        train, val = tuple_loaders()
        module = Net()
        fit(module, train, val, Babysitter(**FAST, preflight=preflight, write_outputs=False), tmp_path, epochs=1)
        weights.append(torch.cat([p.detach().flatten() for p in module.parameters()]))
    assert torch.equal(weights[0], weights[1])


def test_a_fit_resumed_from_a_checkpoint_keeps_its_preflight_and_goes_on_monitoring(tmp_path):
    from lightning.pytorch.callbacks import ModelCheckpoint

    def trainer(epochs, babysitter):
        return pl.Trainer(max_epochs=epochs, callbacks=[babysitter, ModelCheckpoint(tmp_path, save_last=True)],
                          default_root_dir=tmp_path, logger=False, enable_progress_bar=False,
                          enable_model_summary=False, accelerator="cpu", devices=1)

    train, val = tuple_loaders()
    first = Babysitter(**FAST, write_outputs=False)
    trainer(2, first).fit(Net(), train, val)
    second = Babysitter(**FAST, output_dir=tmp_path / "resumed")
    trainer(4, second).fit(Net(), train, val, ckpt_path=tmp_path / "last.ckpt")
    assert second.preflight_seconds == 0  # not run again …
    def said(verdicts):
        return [(v.check, v.status, v.message) for v in verdicts]

    assert said(second.preflight) == said(first.preflight)  # … but kept
    assert second.monitors["train_val_gap"].epochs == [1, 2, 3, 4]
    assert second.monitors["loss_progress"].first == first.monitors["loss_progress"].first
    assert second.monitors["update_ratio"].steps[:len(first.monitors["update_ratio"].steps)] == \
        first.monitors["update_ratio"].steps
    assert [v.check for v in second.verdicts].count("explosion") == 1  # the end-of-fit verdicts once
    written = json.loads((tmp_path / "resumed" / "babysit.json").read_text())
    assert [(c["check"], c["status"], c["message"]) for c in written["preflight"]["checks"]] == said(first.preflight)


def test_the_optimiser_of_the_copies_is_the_modules_own(tmp_path):
    train, val = tuple_loaders()
    babysitter = Babysitter(**FAST, write_outputs=False)
    trainer = fit(Net(lr=0.03), train, val, babysitter, tmp_path, epochs=1)
    from babysit.preflight import make_probe

    probe = make_probe(trainer, trainer.lightning_module, babysitter.fmt)
    opt = probe.optimizer(probe.fresh(), 1e-4)
    assert isinstance(opt, torch.optim.SGD)
    assert opt.param_groups[0]["lr"] == 1e-4 and opt.param_groups[0]["momentum"] == 0.9


class BadOutput(Net):
    def forward(self, x):
        return self.body(x).flatten()


@pytest.mark.parametrize(("module", "loader", "message"), [
    (Net(), DataLoader(blobs()[0], batch_size=16), "a batch is a Tensor"),
    (BadOutput(), None, "one row of class scores per example"),
    (Net(keys=("pixels", "label")), DataLoader(DictBlobs(), batch_size=16), None),
])
def test_bad_input_is_one_line_before_training(tmp_path, module, loader, message):
    if loader is None:
        loader = tuple_loaders()[0]
    babysitter = Babysitter(**FAST, batch={"input_key": "image"} if message is None else {})
    with pytest.raises(BabysitError, match=message or "without the key 'image'"):
        fit(module, loader, None, babysitter, tmp_path)
    assert not babysitter.monitors["explosion"].initial  # training never started


def test_unknown_option_names_the_key():
    with pytest.raises(BabysitError, match="unknown setting babysit.overfit.epoch"):
        Babysitter(overfit={"epoch": 3})
