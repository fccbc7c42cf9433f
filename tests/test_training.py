import json
from pathlib import Path

import pytest
import torch
import torch.nn as nn
from hydra.utils import instantiate

from babysit.errors import BabysitError
from babysit.models import FC3, LeNet5
from babysit.regularization import Regularizer
from babysit.run import build, run

FAST = ["data=digits", "model=fc3", "trainer.max_epochs=2"]


def final_of(cfg):
    run(cfg)
    return json.loads(Path(cfg.paths.output_dir, "summary.json").read_text())["final"]


def test_same_seed_same_numbers_other_seed_other_numbers(cfg_factory):
    a = final_of(cfg_factory(*FAST, "seed=1", out="a"))
    b = final_of(cfg_factory(*FAST, "seed=1", out="b"))
    c = final_of(cfg_factory(*FAST, "seed=2", out="c"))
    assert a == b
    assert a["train/loss"] != c["train/loss"]


def test_skipping_the_test_pass_leaves_the_chosen_checkpoints_metrics_as_they_were(cfg_factory):
    # at this lr the first epoch validates best, so the chosen checkpoint is not the last weights
    args = (*FAST, "optimizer=sgd", "optimizer.lr=0.7", "babysit.preflight=false", "babysit.report=false")
    tested_cfg = cfg_factory(*args, out="tested")
    tested = final_of(tested_cfg)
    untested = final_of(cfg_factory(*args, "babysit.test=false", out="untested"))
    summary = json.loads(Path(tested_cfg.paths.output_dir, "summary.json").read_text())
    assert summary["best_checkpoint"].endswith("best-epoch000.ckpt") and summary["epochs_run"] == 2
    assert "test/acc" in tested and not any(k.startswith("test/") for k in untested)
    assert untested == {k: v for k, v in tested.items() if not k.startswith("test/")}


def test_cost_is_data_loss_plus_half_l2_of_weights_only():
    net = FC3((1, 4, 4), 3, hidden=(5, 5))
    reg = Regularizer(l2=0.3, l1=0.1)
    weights = [net.layers.fc1.weight, net.layers.fc2.weight, net.layers.fc3.weight]
    with torch.no_grad():
        by_hand = 0.5 * 0.3 * sum((w ** 2).sum() for w in weights) + 0.1 * sum(
            w.abs().sum() for w in weights)
    assert float(reg.penalty(net).detach()) == pytest.approx(float(by_hand), rel=1e-6)
    assert Regularizer().penalty(net) == 0.0


def test_max_norm_clamps_each_unit():
    net = FC3((1, 4, 4), 3, hidden=(5, 5), init="small_gaussian", init_std=10.0)
    Regularizer(max_norm=2.0).apply_max_norm(net)
    assert net.layers.fc1.weight.norm(dim=1).max() <= 2.0 + 1e-5


@pytest.mark.parametrize("norm", ["none", "batch", "layer", "group", "instance"])
@pytest.mark.parametrize("init", ["default", "kaiming", "xavier", "small_gaussian"])
def test_models_build_with_every_norm_and_init(norm, init):
    for net in (FC3((1, 8, 8), 10, norm=norm, init=init, dropout=0.5),
                LeNet5((3, 32, 32), 10, norm=norm, init=init, pool="avg")):
        assert net.eval()(torch.rand(2, *((1, 8, 8) if isinstance(net, FC3) else (3, 32, 32)))).shape == (2, 10)


def test_small_gaussian_init_has_the_asked_std():
    net = FC3((1, 32, 32), 10, hidden=(500, 500), init="small_gaussian", init_std=1e-4)
    assert net.layers.fc2.weight.std().item() == pytest.approx(1e-4, rel=0.02)
    assert net.layers.fc2.bias.abs().max() == 0


def test_lenet5_refuses_images_too_small():
    with pytest.raises(BabysitError, match="at least 16×16.*data.image_size=32"):
        LeNet5((1, 8, 8), 10)


@pytest.mark.parametrize("scheduler", ["none", "step", "exponential", "inverse_time", "sqrt", "plateau",
                                       "cosine", "onecycle"])
def test_every_scheduler_trains(cfg_factory, scheduler):
    cfg = cfg_factory(*FAST, f"scheduler={scheduler}", "optimizer=sgd", "optimizer.lr=0.1")
    run(cfg)
    assert json.loads(Path(cfg.paths.output_dir, "summary.json").read_text())["status"] == "finished"


def test_exponential_schedule_multiplies_by_097_per_epoch(cfg_factory):
    cfg = cfg_factory(*FAST, "scheduler=exponential", "optimizer=sgd", "optimizer.lr=0.1", "trainer.max_epochs=3")
    dm, module, trainer = build(cfg)
    trainer.fit(module, datamodule=dm)
    assert trainer.optimizers[0].param_groups[0]["lr"] == pytest.approx(0.1 * 0.97 ** 3)


@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "nesterov", "adam", "adamw", "rmsprop"])
def test_every_optimizer_builds(cfg_factory, optimizer):
    cfg = cfg_factory(*FAST, f"optimizer={optimizer}")
    opt = instantiate(cfg.optimizer)(params=[nn.Parameter(torch.zeros(1))])
    assert opt.param_groups[0]["lr"] == cfg.optimizer.lr


def test_hinge_loss_trains(cfg_factory):
    cfg = cfg_factory(*FAST, "loss=hinge", "trainer.max_epochs=3")
    assert run(cfg) > 0.5


def test_early_stopping_option_stops_when_val_stalls(cfg_factory):
    cfg = cfg_factory(*FAST, "callbacks=early_stopping", "callbacks.early_stopping.patience=1",
                      "callbacks.early_stopping.min_delta=0.9", "trainer.max_epochs=10", "babysit.preflight=false")
    run(cfg)
    summary = json.loads(Path(cfg.paths.output_dir, "summary.json").read_text())
    assert summary["status"] == "finished" and summary["epochs_run"] == 2


def test_early_stopping_ends_the_run_and_is_recorded(cfg_factory):
    cfg = cfg_factory(*FAST, "trainer.max_epochs=10", "callbacks=early_stopping",
                      "callbacks.early_stopping.patience=2", "callbacks.early_stopping.min_delta=1.0")
    run(cfg)
    summary = json.loads(Path(cfg.paths.output_dir, "summary.json").read_text())
    stop = summary["early_stopping"]
    assert stop["stopped"] and stop["stopped_epoch"] == 3 and summary["epochs_run"] == 3
    assert stop["patience"] == 2 and stop["min_delta"] == 1.0 and stop["monitor"] == "val/acc"
    assert "| early stopping | stopped at epoch 3 (val/acc, patience 2" in Path(cfg.paths.output_dir,
                                                                               "report.md").read_text()
    plain = cfg_factory(*FAST, out="plain")
    run(plain)
    assert json.loads(Path(plain.paths.output_dir, "summary.json").read_text())["early_stopping"] is None
