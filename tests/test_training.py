import json
import math
from pathlib import Path

import pandas as pd
import pytest
import torch
import torch.nn as nn
from omegaconf import OmegaConf

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


# the norm layer after each hidden layer, as (type, groups): FC3's two of 500 units; LeNet-5's conv maps
# of 6 and 16 channels, then its 120 and 84 units
LAYER, GROUPS = ("LayerNorm", None), "GroupNorm"
NORM_LAYERS = {
    "none": ([("Identity", None)] * 2, [("Identity", None)] * 4),
    "batch": ([("BatchNorm1d", None)] * 2, [("BatchNorm2d", None)] * 2 + [("BatchNorm1d", None)] * 2),
    "layer": ([LAYER] * 2, [(GROUPS, 1), (GROUPS, 1), LAYER, LAYER]),
    "group": ([(GROUPS, 4)] * 2, [(GROUPS, 2), (GROUPS, 8), (GROUPS, 8), (GROUPS, 4)]),
    "instance": ([LAYER] * 2, [(GROUPS, 6), (GROUPS, 16), LAYER, LAYER]),
}


def norm_layers(net: nn.Module) -> list[tuple[str, int | None]]:
    return [(type(m).__name__, getattr(m, "num_groups", None)) for name, m in net.named_modules()
            if name.rpartition(".")[2].startswith("norm")]


def init_std(init: str, layer: nn.Module, head: bool) -> float:
    """The std the scheme gives a conv/linear weight: kaiming √(2/fan_in), xavier √(2/(fan_in+fan_out)),
    small_gaussian init_std (0.01 here), PyTorch's own U(±1/√fan_in); kaiming/xavier heads head_std."""
    fan_in = layer.weight[0].numel()
    fan_out = layer.weight.shape[0] * layer.weight[0, 0].numel()
    if init == "small_gaussian":
        return 0.01
    if head and init in ("kaiming", "xavier"):
        return 1e-3
    return {"default": math.sqrt(1 / (3 * fan_in)), "kaiming": math.sqrt(2 / fan_in),
            "xavier": math.sqrt(2 / (fan_in + fan_out))}[init]


@pytest.mark.parametrize("norm", ["none", "batch", "layer", "group", "instance"])
@pytest.mark.parametrize("init", ["default", "kaiming", "xavier", "small_gaussian"])
def test_every_norm_and_init_is_applied(norm, init):
    torch.manual_seed(0)
    fc3 = FC3((1, 32, 32), 10, hidden=(500, 500), norm=norm, init=init, init_std=0.01, dropout=0.5)
    lenet = LeNet5((3, 32, 32), 10, norm=norm, init=init, init_std=0.01, pool="avg")
    assert (norm_layers(fc3), norm_layers(lenet)) == NORM_LAYERS[norm]
    assert fc3.eval()(torch.rand(2, 1, 32, 32)).shape == lenet.eval()(torch.rand(2, 3, 32, 32)).shape == (2, 10)
    # 512k, 250k, 5k and 2.4k weights: within 1 % (5 % and 10 % for the small two), ≥ 7 standard errors
    for layer, head, tolerance in ((fc3.layers.fc1, False, 0.01), (fc3.layers.fc2, False, 0.01),
                                   (fc3.layers.fc3, True, 0.05), (lenet.features.conv2, False, 0.1)):
        w = layer.weight.detach()
        assert w.std().item() == pytest.approx(init_std(init, layer, head), rel=tolerance), (layer, head)
        assert (layer.bias.abs().max() > 0) == (init == "default")  # the schemes zero the biases
    if init in ("default", "xavier"):  # both uniform: nothing beyond √3 std, where a normal puts 8 %
        w = fc3.layers.fc1.weight.detach()
        assert w.abs().max() <= math.sqrt(3) * init_std(init, fc3.layers.fc1, False) * 1.0001


def test_small_gaussian_init_has_the_asked_std():
    net = FC3((1, 32, 32), 10, hidden=(500, 500), init="small_gaussian", init_std=1e-4)
    assert net.layers.fc2.weight.std().item() == pytest.approx(1e-4, rel=0.02)
    assert net.layers.fc2.bias.abs().max() == 0


def test_lenet5_refuses_images_too_small():
    with pytest.raises(BabysitError, match="at least 16×16.*data.image_size=32"):
        LeNet5((1, 8, 8), 10)


def scheduled_lr(scheduler: str, fn, lr0: float, t: int, steps_per_epoch: int, epochs: int) -> float:
    """The learning rate of epoch t (from 0) by the schedule's formula, from its config `fn`."""
    if scheduler == "none":
        return lr0
    if scheduler == "step":
        return lr0 * fn.gamma ** (t // fn.step_size)
    if scheduler == "exponential":
        return lr0 * fn.gamma ** t
    if scheduler == "inverse_time":
        return lr0 / (1 + fn.decay * t)
    if scheduler == "sqrt":
        return lr0 * math.sqrt(1 - t / fn.total_epochs)
    if scheduler == "cosine":
        return lr0 * (1 + math.cos(math.pi * t / fn.T_max)) / 2
    if scheduler == "plateau":  # epoch 0 improves on nothing; every later epoch stalls
        return lr0 * fn.factor ** (max(t - 1, 0) // (fn.patience + 1))
    # onecycle, stepped per batch, with torch's div_factor 25, final_div_factor 1e4, pct_start 0.3
    def anneal(a, b, pct):
        return b + (a - b) * (1 + math.cos(math.pi * pct)) / 2
    step, total = t * steps_per_epoch, epochs * steps_per_epoch
    start, peak = fn.max_lr / 25, 0.3 * total - 1
    if step <= peak:
        return anneal(start, fn.max_lr, step / peak)
    return anneal(fn.max_lr, start / 1e4, (step - peak) / (total - 1 - peak))


SCHEDULE_SETTINGS = {
    "step": ["scheduler.fn.step_size=2"],  # a step inside 3 epochs
    # patience 0, and no epoch improves val/loss by 1e9: the loss stalls, the lr drops after epoch 1
    "plateau": ["scheduler.fn.patience=0", "+scheduler.fn.threshold_mode=abs", "+scheduler.fn.threshold=1e9"],
}


@pytest.mark.parametrize("scheduler", ["none", "step", "exponential", "inverse_time", "sqrt", "plateau",
                                       "cosine", "onecycle"])
def test_every_scheduler_gives_the_lr_of_its_formula(cfg_factory, scheduler):
    # 22 steps an epoch (a cosine stepped per batch would land on its per-epoch values at 17)
    cfg = cfg_factory(*FAST, "trainer.max_epochs=3", "data.batch_size=50", f"scheduler={scheduler}", "optimizer=sgd",
                      "optimizer.lr=0.1", *SCHEDULE_SETTINGS.get(scheduler, []), "babysit.preflight=false",
                      "babysit.report=false")
    run(cfg)
    out = Path(cfg.paths.output_dir)
    lr = pd.read_csv(out / "metrics.csv")["lr-SGD"].dropna().tolist()  # logged as each epoch starts
    train_size = json.loads((out / "summary.json").read_text())["data"]["sizes"]["train"]
    steps = math.ceil(train_size / cfg.data.batch_size)
    expected = [scheduled_lr(scheduler, cfg.scheduler.fn, 0.1, t, steps, 3) for t in range(3)]
    assert lr == pytest.approx(expected, rel=1e-6)
    assert (len(set(expected)) == 1) == (scheduler == "none")  # within 3 epochs every schedule moves the lr


def test_exponential_schedule_multiplies_by_097_per_epoch(cfg_factory):
    cfg = cfg_factory(*FAST, "scheduler=exponential", "optimizer=sgd", "optimizer.lr=0.1", "trainer.max_epochs=3")
    dm, module, trainer = build(cfg)
    trainer.fit(module, datamodule=dm)
    assert trainer.optimizers[0].param_groups[0]["lr"] == pytest.approx(0.1 * 0.97 ** 3)


# settings away from torch's defaults (the yaml's momentum and nesterov already are), so a dropped one shows
@pytest.mark.parametrize(("optimizer", "kind", "overrides", "settings"), [
    ("sgd", torch.optim.SGD, [], {"momentum": 0.0, "nesterov": False}),
    ("momentum", torch.optim.SGD, [], {"momentum": 0.9, "nesterov": False}),
    ("nesterov", torch.optim.SGD, [], {"momentum": 0.9, "nesterov": True}),
    ("adam", torch.optim.Adam, ["optimizer.betas=[0.8,0.99]"], {"betas": (0.8, 0.99), "weight_decay": 0.0}),
    ("adamw", torch.optim.AdamW, ["optimizer.weight_decay=0.05"], {"weight_decay": 0.05}),
    ("rmsprop", torch.optim.RMSprop, ["optimizer.alpha=0.9"], {"alpha": 0.9, "momentum": 0.0}),
])
def test_every_optimizer_reaches_the_module_with_its_settings(cfg_factory, optimizer, kind, overrides, settings):
    cfg = cfg_factory(*FAST, f"optimizer={optimizer}", "optimizer.lr=0.0123", *overrides)
    dm, module, trainer = build(cfg)
    opt = module.configure_optimizers()  # what Lightning trains with
    assert type(opt) is kind
    (group,) = opt.param_groups
    assert group["lr"] == 0.0123 and {k: group[k] for k in settings} == settings
    yaml = OmegaConf.to_container(cfg.optimizer)
    written = {k: tuple(v) if isinstance(v, list) else v for k, v in yaml.items() if not k.startswith("_")}
    assert {k: group[k] for k in written} == written  # every setting of conf/optimizer/<name>.yaml
    assert {id(p) for p in group["params"]} == {id(p) for p in module.net.parameters()}


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
