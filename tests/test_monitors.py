import copy
import math
from collections import OrderedDict
from pathlib import Path
from types import SimpleNamespace

import lightning.pytorch as pl
import pandas as pd
import pytest
import torch
import torch.nn as nn
from torch.utils.data import DataLoader, TensorDataset

from babysit.callbacks import Babysitter, DeadUnits, ExplosionStop, TrainValGap, UpdateRatio, WeightGradStats
from babysit.run import build
from babysit.verdict import FAIL, INFO, PASS, WARN

FAST = ["data=digits", "model=fc3"]


class Tiny(pl.LightningModule):
    """A plain LightningModule: each callback must work with it alone."""

    def __init__(self, net: nn.Module, optimizer=lambda params: torch.optim.SGD(params, lr=0.1), loss_scale=1.0):
        super().__init__()
        self.net, self.optimizer, self.loss_scale = net, optimizer, loss_scale

    def training_step(self, batch, batch_idx):
        x, y = batch
        return self.loss_scale * nn.functional.cross_entropy(self.net(x), y)

    def configure_optimizers(self):
        return self.optimizer(self.parameters())


def mlp(*widths: int, act=nn.ReLU) -> nn.Sequential:
    layers = []
    for i, (n_in, n_out) in enumerate(zip(widths, widths[1:], strict=False), start=1):
        layers.append((f"fc{i}", nn.Linear(n_in, n_out)))
        if i < len(widths) - 1:
            layers.append((f"act{i}", act()))
    return nn.Sequential(OrderedDict(layers))


def batches(n=32, features=4, classes=3, batch_size=8):
    g = torch.Generator().manual_seed(0)
    x, y = torch.randn(n, features, generator=g), torch.randint(0, classes, (n,), generator=g)
    return DataLoader(TensorDataset(x, y), batch_size=batch_size)


def fit(module, callbacks, epochs=1, data=None, **trainer_args):
    trainer = pl.Trainer(max_epochs=epochs, callbacks=callbacks, logger=False, enable_checkpointing=False,
                         enable_progress_bar=False, enable_model_summary=False, accelerator="cpu", **trainer_args)
    trainer.fit(module, data or batches())
    return trainer


def build_and_fit(cfg):
    dm, module, trainer = build(cfg)
    trainer.fit(module, datamodule=dm)
    babysitter = next(c for c in trainer.callbacks if isinstance(c, Babysitter))
    return module, trainer, {type(c).__name__: c for c in babysitter.members}


# ExplosionStop


def test_huge_learning_rate_stops_in_the_first_epoch_keeping_what_was_written(cfg_factory):
    cfg = cfg_factory(*FAST, "optimizer=sgd", "optimizer.lr=1e6", "trainer.max_epochs=3")
    _, trainer, cb = build_and_fit(cfg)
    explosion = cb["ExplosionStop"]
    assert explosion.exploded and explosion.epoch == 1
    assert trainer.global_step < trainer.num_training_batches  # stopped inside the first epoch
    assert explosion.reason.endswith(f"at step {explosion.step} (epoch 1)")
    assert [v.status for v in explosion.verdicts] == [FAIL]
    assert "lower the learning rate" in explosion.verdicts[0].advice
    out = Path(cfg.paths.output_dir)
    assert (out / "checkpoints" / "last.ckpt").exists()
    metrics = pd.read_csv(out / "metrics.csv")
    assert metrics["babysit/update_ratio/layers.fc1"].notna().any()  # the steps before the explosion are kept
    assert metrics["val/acc"].notna().any()


def scripted(costs):
    """A module whose training cost at step i is costs[i]."""

    class Scripted(Tiny):
        def training_step(self, batch, batch_idx):
            return super().training_step(batch, batch_idx) * 0 + costs[self.global_step]

    return Scripted(mlp(4, 3))


@pytest.mark.parametrize("costs, step, reason", [
    ([0.7, 1.5, 2.0, 2.2, 0.1], 4, "cost 2.2 > 3 × initial 0.7 at step 4 (epoch 1)"),
    ([0.7, 0.6, math.nan, 0.5], 3, "cost nan at step 3 (epoch 1)"),
    ([0.7, math.inf, 0.5, 0.5], 2, "cost inf at step 2 (epoch 1)"),
])
def test_explosion_stops_at_once(costs, step, reason):
    stop = ExplosionStop(factor=3.0)
    trainer = fit(scripted(costs), [stop], epochs=3)
    assert stop.exploded and stop.step == step and trainer.global_step == step
    assert stop.reason == reason


def test_no_explosion_gives_a_pass_with_the_peak():
    stop = ExplosionStop(factor=3.0)
    fit(scripted([0.7, 2.0, 0.5, 0.3]), [stop])
    assert not stop.exploded
    assert [(v.status, v.message) for v in stop.verdicts] == [
        (PASS, "cost stayed below 3 × initial 0.7 (max 2)")]


# UpdateRatio


@pytest.mark.parametrize("optimizer", [
    lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9, weight_decay=1e-2),
    lambda p: torch.optim.Adam(p, lr=1e-3, weight_decay=1e-2),
], ids=["sgd-momentum", "adam"])
def test_update_ratio_is_the_real_step_of_any_optimiser(optimizer):
    torch.manual_seed(0)
    net = mlp(4, 8, 3)
    by_hand = copy.deepcopy(net)
    every, alternate = UpdateRatio(interval=1), UpdateRatio(interval=2)
    fit(Tiny(net, optimizer), [every, alternate])

    opt = optimizer(by_hand.parameters())
    expected = {"fc1": [], "fc2": []}
    for x, y in batches():
        before = {name: getattr(by_hand, name).weight.detach().clone() for name in expected}
        opt.zero_grad()
        nn.functional.cross_entropy(by_hand(x), y).backward()
        opt.step()
        for name, ratios in expected.items():
            after = getattr(by_hand, name).weight.detach()
            ratios.append(float((after - before[name]).norm() / after.norm()))

    assert every.steps == [0, 1, 2, 3] and alternate.steps == [0, 2]
    for name, ratios in expected.items():
        assert every.history[name] == pytest.approx(ratios, rel=1e-5)
        assert alternate.history[name] == pytest.approx(ratios[::2], rel=1e-5)


def test_update_ratio_names_layers_out_of_range():
    torch.manual_seed(0)
    too_high = UpdateRatio(interval=1, low=1e-4, high=1e-2)
    fit(Tiny(mlp(4, 8, 3), lambda p: torch.optim.SGD(p, lr=10.0)), [too_high])
    too_low = UpdateRatio(interval=1, low=1e-4, high=1e-2)
    fit(Tiny(mlp(4, 8, 3), lambda p: torch.optim.SGD(p, lr=1e-6)), [too_low])
    assert [(v.status, v.epoch) for v in too_high.verdicts] == [(WARN, 1)]
    assert "lr too high for layer fc1: median" in too_high.verdicts[0].message
    assert [v.status for v in too_low.verdicts] == [WARN]
    assert "lr too low for layer fc1: median" in too_low.verdicts[0].message
    assert "lr too low for layer fc2" in too_low.verdicts[0].message


# WeightGradStats


def test_weight_and_gradient_sizes_match_a_hand_computation():
    torch.manual_seed(0)
    net = mlp(4, 8, 3)
    start = copy.deepcopy(net)
    stats = WeightGradStats(interval=2)
    fit(Tiny(net), [stats])
    x, y = next(iter(batches()))
    nn.functional.cross_entropy(start(x), y).backward()
    assert stats.steps == [0, 2]
    for name in ("fc1", "fc2"):
        w, g = getattr(start, name).weight.detach(), getattr(start, name).weight.grad
        assert stats.history["weight_norm"][name][0] == pytest.approx(float(w.norm()), rel=1e-5)
        assert stats.history["grad_norm"][name][0] == pytest.approx(float(g.norm()), rel=1e-5)
        assert stats.history["grad_mean_abs"][name][0] == pytest.approx(float(g.abs().mean()), rel=1e-5)
    assert [v.check for v in stats.verdicts] == ["gradients"] and stats.verdicts[0].status == PASS


def test_tiny_weights_in_a_deep_net_are_flagged_as_vanishing_gradients():
    torch.manual_seed(0)
    net = mlp(4, *[16] * 8, 3)
    for m in net:
        if isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, 0.0, 1e-2)
    stats = WeightGradStats(interval=1, vanishing=1e-7)
    fit(Tiny(net, lambda p: torch.optim.SGD(p, lr=1e-3)), [stats])
    (verdict,) = stats.verdicts
    assert verdict.status == WARN and verdict.check == "vanishing_gradients"
    assert "vanishing gradients in fc1:" in verdict.message and "kaiming" in verdict.advice


def test_huge_gradients_are_flagged_as_exploding():
    stats = WeightGradStats(interval=1, exploding=1e3)
    torch.manual_seed(0)
    fit(Tiny(mlp(4, 8, 3), lambda p: torch.optim.SGD(p, lr=1e-12), loss_scale=1e6), [stats])
    assert [v.check for v in stats.verdicts] == ["exploding_gradients"]
    assert "fc1: grad norm up to" in stats.verdicts[0].message


# DeadUnits


def test_a_layer_with_a_very_negative_bias_is_flagged_dead_and_a_healthy_one_is_not():
    torch.manual_seed(0)
    sick, healthy = mlp(4, 16, 16, 3), mlp(4, 16, 16, 3)
    with torch.no_grad():
        sick.fc2.bias.fill_(-100.0)
    dead, alive = DeadUnits(threshold=0.5, interval=1), DeadUnits(threshold=0.5, interval=1)
    fit(Tiny(sick), [dead], epochs=2)
    fit(Tiny(healthy), [alive], epochs=2)
    assert dead.flagged == {"act2": 1}
    assert dead.history["act2"] == [1.0] * 8 and max(dead.history["act1"]) < 0.5
    first, final = dead.verdicts
    assert first.status == WARN and first.epoch == 1 and "act2" in first.message
    assert final.status == WARN and "act2 100%" in final.message
    assert alive.flagged == {} and [v.status for v in alive.verdicts] == [PASS]


def test_a_dead_unit_of_a_conv_map_is_a_channel_and_hooks_live_only_on_measured_steps():
    net = nn.Sequential(OrderedDict(conv=nn.Conv2d(1, 4, 3), act=nn.ReLU(), flat=nn.Flatten(), fc=nn.Linear(64, 3)))
    with torch.no_grad():  # inputs ≥ 0, weights > 0: channel 0 always ≤ 0, the others always > 0
        net.conv.weight.fill_(0.1)
        net.conv.bias.copy_(torch.tensor([-100.0, 0.1, 0.1, 0.1]))
    dead = DeadUnits(interval=3)
    hooked = []

    class Spy(pl.Callback):
        def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
            hooked.append(len(net.act._forward_hooks))

    x = torch.rand(24, 1, 6, 6)
    fit(Tiny(net), [Spy(), dead], data=DataLoader(TensorDataset(x, torch.zeros(24, dtype=torch.long)), batch_size=4))
    assert dead.steps == [0, 3] and dead.history["act"] == [0.25, 0.25]
    assert hooked == [1, 0, 0, 1, 0, 0] and not net.act._forward_hooks


# TrainValGap

TRAINER = SimpleNamespace(is_global_zero=True)


def gap_run(train, val, **kwargs):
    gap = TrainValGap(num_classes=10, **kwargs)
    pairs = enumerate(zip(train, val, strict=True), start=1)
    kinds = [gap.observe(TRAINER, epoch, t, v).numbers["kind"] for epoch, (t, v) in pairs]
    return gap, kinds


def test_gap_verdicts_for_metric_sequences():
    _, kinds = gap_run([0.60, 0.80, 0.95, 0.99, 0.99], [0.58, 0.75, 0.85, 0.80, 0.80])
    assert kinds == ["warmup", "warmup", "ok", "ok", "overfitting"]  # the gap counts from its second epoch
    _, kinds = gap_run([0.20, 0.25, 0.26, 0.26, 0.26], [0.20, 0.24, 0.25, 0.25, 0.25], flat_epochs=2)
    assert kinds == ["warmup", "warmup", "learning", "learning", "underfitting"]
    _, kinds = gap_run([0.30] * 7, [0.25] * 7, flat_epochs=5)
    assert kinds == ["warmup"] * 2 + ["learning"] * 3 + ["flat"] * 2
    gap, kinds = gap_run([0.3, 0.9, 0.95], [0.3, 0.88, 0.94])
    assert kinds == ["warmup", "warmup", "ok"] and gap.judge(final=True)[1].status == PASS


def test_a_run_that_ends_while_val_still_rises_is_told_to_train_longer():
    gap, kinds = gap_run([0.2, 0.3], [0.2, 0.3])
    assert kinds == ["warmup", "warmup"]
    kind, verdict = gap.judge(final=True)
    assert kind == "learning" and verdict.status == INFO and "trainer.max_epochs" in verdict.advice


def test_gap_prints_only_changes_and_says_what_to_do(capsys):
    gap, _ = gap_run([0.6, 0.8, 0.95, 0.99, 0.99, 0.99], [0.58, 0.75, 0.85, 0.80, 0.80, 0.80])
    assert [v.numbers["kind"] for v in gap.verdicts] == ["overfitting"]
    (verdict,) = gap.verdicts
    assert verdict.message == "overfitting: train 0.99 vs val 0.80 (gap 0.19) at epoch 5" and verdict.epoch == 5
    assert "reg.l2" in verdict.advice and "dropout" in verdict.advice
    assert capsys.readouterr().out.count("overfitting") == 1


def test_one_noisy_validation_epoch_is_not_called_overfitting():
    # a batch-norm network's val accuracy dips for one epoch and recovers (a healthy ResNet-20 on digits)
    gap, kinds = gap_run([0.9, 0.95, 0.97, 0.99, 1.0, 1.0], [0.85, 0.9, 0.93, 0.83, 0.95, 0.96])
    assert kinds == ["warmup", "warmup", "ok", "ok", "ok", "ok"] and gap.verdicts == []
    assert gap.judge(final=True)[1].status == PASS
    gap.observe(TRAINER, 7, 1.0, 0.8)  # a dip in the last epoch says why it is not a warning
    assert "in this epoch only" in gap.judge()[1].message and gap.judge(final=True)[1].status == PASS
    gap, kinds = gap_run([0.9, 0.95, 0.97, 0.99, 1.0], [0.85, 0.9, 0.93, 0.83, 0.95], persist_epochs=1)
    assert kinds[3] == "overfitting"  # persist_epochs=1: every epoch on its own


def test_a_val_accuracy_that_lags_while_it_climbs_is_not_overfitting():
    # a healthy ResNet-20 on digits: batch-norm statistics lag while the weights change fast
    train, val = [0.12, 0.30, 0.54, 0.74, 0.90, 0.97, 0.99, 0.99], [0.11, 0.19, 0.51, 0.67, 0.69, 0.79, 0.96, 0.98]
    gap, kinds = gap_run(train, val)
    assert kinds[4:6] == ["ok", "ok"] and gap.verdicts == []
    lagging, _ = gap_run(train[:6], val[:6])  # epochs 5 and 6 both have a gap above 0.15
    assert "val acc still rising fast (+0.10 this epoch)" in lagging.judge()[1].message
    stalled, kinds = gap_run(train[:6] + [0.99, 1.0], val[:6] + [0.80, 0.80])
    assert kinds[-2:] == ["overfitting", "overfitting"]  # once val stops climbing, the same gap is a warning


def test_low_means_relative_to_chance():
    assert TrainValGap(low_acc=0.5, num_classes=2).low_threshold == 0.75
    assert TrainValGap(low_acc=0.5, num_classes=10).low_threshold == pytest.approx(0.55)
    for classes, kind in ((2, "underfitting"), (10, "ok")):  # val 0.70: low for 2 classes, fine for 10
        gap = TrainValGap(num_classes=classes, warmup_epochs=1, flat_epochs=1)
        gap.observe(TRAINER, 1, 0.70, 0.70)
        assert gap.observe(TRAINER, 2, 0.70, 0.70).numbers["kind"] == kind
    assert gap.observe(TRAINER, 3, 0.80, 0.80).numbers["kind"] == "ok"


def test_gap_reads_the_logged_accuracies_each_epoch():
    train, val = [0.5, 0.95, 1.0], [0.5, 0.76, 0.8]

    class Logs(Tiny):
        def training_step(self, batch, batch_idx):
            self.log("train/acc", train[self.current_epoch], on_step=False, on_epoch=True)
            return super().training_step(batch, batch_idx)

        def validation_step(self, batch, batch_idx):
            self.log("val/acc", val[self.current_epoch])

    gap = TrainValGap(num_classes=3)
    fit(Logs(mlp(4, 3)), [gap], epochs=3)
    assert gap.val_acc == []  # no validation data: nothing to compare
    gap = TrainValGap(num_classes=3)
    trainer = pl.Trainer(max_epochs=3, callbacks=[gap], logger=False, enable_checkpointing=False,
                         enable_progress_bar=False, enable_model_summary=False, num_sanity_val_steps=0)
    trainer.fit(Logs(mlp(4, 3)), batches(), batches())
    assert gap.train_acc == pytest.approx(train) and gap.val_acc == pytest.approx(val)
    # epochs 1–2 are the warm-up; overfitting is recorded when it starts and, still holding, at fit end
    assert [v.numbers["kind"] for v in gap.verdicts] == ["overfitting", "overfitting"]


# All monitors in a run


def test_every_monitor_logs_per_layer_and_concludes(cfg_factory):
    cfg = cfg_factory(*FAST, "trainer.max_epochs=2", "optimizer=sgd", "optimizer.lr=0.05")
    _, trainer, cb = build_and_fit(cfg)
    metrics = pd.read_csv(Path(cfg.paths.output_dir) / "metrics.csv")
    measured = len(range(0, trainer.global_step, 10))
    for stat in ("update_ratio", "weight_norm", "grad_norm", "grad_mean_abs"):
        for layer in ("layers.fc1", "layers.fc2", "layers.fc3"):
            assert metrics[f"babysit/{stat}/{layer}"].notna().sum() == measured, (stat, layer)
    assert metrics["babysit/dead_units/layers.act1"].notna().sum() == measured
    assert metrics["babysit/gap"].notna().sum() == 2
    for name in ("ExplosionStop", "UpdateRatio", "WeightGradStats", "DeadUnits", "TrainValGap"):
        assert cb[name].verdicts, name
    assert cb["ExplosionStop"].verdicts[-1].status == PASS


def test_scalars_and_histograms_reach_tensorboard(cfg_factory):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    cfg = cfg_factory(*FAST, "trainer.max_epochs=2", "babysit.monitors.weight_stats.histogram_every_n_epochs=1")
    _, trainer, cb = build_and_fit(cfg)
    events = EventAccumulator(str(Path(cfg.paths.output_dir) / "tensorboard"), size_guidance={"histograms": 0})
    events.Reload()
    assert {"babysit/weights/layers.fc1", "babysit/grads/layers.fc3"} <= set(events.Tags()["histograms"])
    first = events.Histograms("babysit/weights/layers.fc1")
    assert [h.step for h in first] == [0, trainer.num_training_batches]  # the first step of each epoch
    assert sum(first[0].histogram_value.bucket) == 100 * 64  # fc1: 64 inputs × 100 units
    ratios = events.Scalars("babysit/update_ratio/layers.fc1")
    assert [s.step for s in ratios] == cb["UpdateRatio"].steps
    assert [s.value for s in ratios] == pytest.approx(cb["UpdateRatio"].history["layers.fc1"], rel=1e-6)
    assert len(events.Scalars("babysit/gap")) == 2
    logged = pd.read_csv(Path(cfg.paths.output_dir) / "metrics.csv")
    for tag in ("train/loss", "val/acc", "train/loss_step"):  # Lightning's, the module's, one event per call
        csv = logged[["step", tag]].dropna()
        assert [s.step for s in events.Scalars(tag)] == csv["step"].tolist()
        assert [s.value for s in events.Scalars(tag)] == pytest.approx(csv[tag].tolist(), rel=1e-6)


def test_monitors_resume_with_their_history(tmp_path):
    torch.manual_seed(0)
    module = Tiny(mlp(4, 8, 3))
    stop, ratio = ExplosionStop(), UpdateRatio(interval=1)
    trainer = fit(module, [stop, ratio], epochs=1, default_root_dir=tmp_path)
    trainer.save_checkpoint(tmp_path / "one.ckpt")
    initial, steps = stop.initial, list(ratio.steps)
    stop2, ratio2 = ExplosionStop(), UpdateRatio(interval=1)
    trainer = pl.Trainer(max_epochs=2, callbacks=[stop2, ratio2], logger=False, enable_checkpointing=False,
                         enable_progress_bar=False, enable_model_summary=False)
    trainer.fit(Tiny(mlp(4, 8, 3)), batches(), ckpt_path=tmp_path / "one.ckpt")
    assert stop2.initial == initial
    assert ratio2.steps == steps + [4, 5, 6, 7]


def test_a_tiny_learning_rate_is_flagged_too_low(cfg_factory):
    import json
    from pathlib import Path

    from babysit.run import run

    cfg = cfg_factory("data=digits", "model=fc3", "optimizer=sgd", "optimizer.lr=1e-6", "trainer.max_epochs=2")
    run(cfg)
    summary = json.loads(Path(cfg.paths.output_dir, "summary.json").read_text())
    progress = next(v for v in summary["monitors"]["verdicts"] if v["check"] == "loss_progress")
    assert progress["status"] == "WARN" and "too low" in progress["message"]
    assert abs(progress["numbers"]["relative_change"]) < 0.01
    ranged = next(c for c in summary["preflight"]["checks"] if c["check"] == "lr_range")
    assert ranged["status"] == "WARN" and "optimizer.lr=1e-06 is below it" in ranged["message"]


def test_a_good_learning_rate_makes_progress(cfg_factory):
    import json
    from pathlib import Path

    from babysit.run import run

    cfg = cfg_factory("data=digits", "model=fc3", "trainer.max_epochs=2", "babysit.preflight=false")
    run(cfg)
    summary = json.loads(Path(cfg.paths.output_dir, "summary.json").read_text())
    progress = next(v for v in summary["monitors"]["verdicts"] if v["check"] == "loss_progress")
    assert progress["status"] == "PASS" and progress["numbers"]["relative_change"] < -0.2
