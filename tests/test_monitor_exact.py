"""The monitors' hooks driven with a small trainer and network: what each step measures and logs, exactly,
the cost judged under several ranks, and the key each monitor's state is saved under."""

import math
from collections import OrderedDict
from pathlib import Path

import pytest
import torch
import torch.nn as nn
from omegaconf import OmegaConf

from babysit.callbacks import ExplosionStop, TrainValGap, UpdateRatio, WeightGradStats
from babysit.callbacks.loss_progress import LossProgress
from babysit.callbacks.phase import learning_phase
from tests.fakes import trainer

CONF = OmegaConf.load(Path(__file__).resolve().parents[1] / "conf" / "babysit" / "default.yaml").monitors


class Ranks:
    """A strategy whose reduce averages this rank's value with the other rank's next one."""

    def __init__(self, *others: float):
        self.others, self.ops, self.seen = list(others), [], []

    def reduce(self, tensor, reduce_op):
        self.ops.append(reduce_op)
        self.seen.append(tensor)
        return (tensor + self.others.pop(0)) / 2


class Recorder:
    """Stands in for a monitor's MetricWriter: every call it gets."""

    def __init__(self):
        self.scalar_calls, self.histogram_calls, self.flushes = [], [], 0

    def scalars(self, trainer, metrics, step):
        self.scalar_calls.append((step, dict(metrics)))

    def histograms(self, trainer, tensors, step):
        self.histogram_calls.append((step, {k: v.clone() for k, v in tensors.items()}))

    def flush(self):
        self.flushes += 1


def net(*weights) -> nn.Sequential:
    """Linear layers fc1, fc2, … holding the given weight matrices."""
    layers = OrderedDict()
    for k, w in enumerate(weights, 1):
        w = torch.tensor(w)
        fc = nn.Linear(w.shape[1], w.shape[0])
        with torch.no_grad():
            fc.weight.copy_(w)
        layers[f"fc{k}"] = fc
    return nn.Sequential(layers)


def test_each_monitor_saves_its_state_under_the_arguments_that_tell_it_apart():
    assert ExplosionStop().state_key == f"ExplosionStop{{'factor': {CONF.explosion.factor}}}"
    assert ExplosionStop(factor=5.0).state_key == "ExplosionStop{'factor': 5.0}"
    assert UpdateRatio().state_key == f"UpdateRatio{{'interval': {CONF.interval}}}"
    assert UpdateRatio(interval=3).state_key == "UpdateRatio{'interval': 3}"
    assert WeightGradStats().state_key == f"WeightGradStats{{'interval': {CONF.interval}}}"
    assert WeightGradStats(interval=4).state_key == "WeightGradStats{'interval': 4}"
    assert (LossProgress().state_key, TrainValGap().state_key) == ("LossProgress{}", "TrainValGap{}")


def test_a_monitor_built_without_arguments_holds_the_configs_numbers():
    m = CONF
    assert ExplosionStop().factor == m.explosion.factor and LossProgress().barely == m.loss_progress.barely_changes
    assert LossProgress().cost_key == "train/loss"
    ratio = UpdateRatio()
    assert (ratio.interval, ratio.low, ratio.high, ratio.high_learning, ratio.phase_done) == (
        m.interval, m.update_ratio.low, m.update_ratio.high, m.update_ratio.high_while_learning, m.phase_done)
    grads = WeightGradStats()
    assert (grads.interval, grads.vanishing, grads.exploding, grads.histogram_every_n_epochs, grads.phase_done) == (
        m.interval, m.weight_stats.vanishing, m.weight_stats.exploding, m.weight_stats.histogram_every_n_epochs,
        m.phase_done)
    gap, g = TrainValGap(), m.train_val_gap
    assert (gap.overfit, gap.none, gap.low_acc, gap.flat_epochs, gap.flat_delta, gap.warmup_epochs, gap.chance_margin,
            gap.persist_epochs, gap.rising) == (g.overfit, g.none, g.low_acc, g.flat_epochs, g.flat_delta,
                                                g.warmup_epochs, g.chance_margin, g.persist_epochs, g.rising)
    assert (gap.num_classes, gap.chance, gap.train_key, gap.val_key) == (None, None, "train/acc", "val/acc")


def test_the_phase_monitors_default_to_the_cost_progress_threshold():
    assert UpdateRatio().barely == CONF.loss_progress.barely_changes == WeightGradStats().barely
    assert UpdateRatio(barely_changes=0.2).barely == 0.2 and WeightGradStats(barely_changes=0.3).barely == 0.3
    assert UpdateRatio(high_while_learning=0.5).high_learning == 0.5


# Under several ranks every monitor judges the mean cost of all ranks.


def test_an_explosion_is_judged_on_the_mean_cost_of_the_ranks():
    stop, ranks = ExplosionStop(factor=3.0), Ranks(1.0, 6.0)
    t = trainer(strategy=ranks)
    for step, cost in enumerate([1.0, 2.0]):  # alone, 2 would stay below 3 × 1
        t.global_step = step
        loss = torch.tensor(cost)
        stop.on_train_batch_end(t, None, {"loss": loss}, None, step)
        assert ranks.seen[-1] is not loss  # the reduction works in place: on a copy
    assert stop.exploded and ranks.ops == ["mean", "mean"]
    assert stop.verdicts[0].message == "training stopped: cost 4 > 3 × initial 1 at step 1 (epoch 1)"
    assert stop.verdicts[0].numbers["cost"] == 4.0


def test_the_cost_progress_starts_from_the_mean_first_cost_of_the_ranks():
    monitor = LossProgress()
    monitor.on_train_batch_end(trainer(strategy=Ranks(3.0)), None, torch.tensor(1.0), None, 0)
    assert monitor.first == 2.0


def test_the_gradient_monitor_keeps_the_mean_cost_of_each_measured_step():
    monitor = WeightGradStats()
    monitor._measured = True
    monitor.on_train_batch_end(trainer(strategy=Ranks(5.0)), None, torch.tensor(1.0), None, 0)
    assert monitor.costs == [3.0] and monitor._measured is False


# UpdateRatio: ‖before − after‖ / ‖after‖ of each weight matrix around one optimiser step.


def ratio_monitor(model, interval=10):
    monitor = UpdateRatio(interval=interval)
    monitor.metrics = Recorder()
    monitor.setup(trainer(), model, "fit")
    return monitor


def optimiser_step(monitor, model, t, change, cost=0.5):
    """The hooks around one step that subtracts `change[name]` from each layer's weight."""
    monitor.on_before_optimizer_step(t, model, None)
    with torch.no_grad():
        for name, delta in change.items():
            getattr(model, name).weight.sub_(torch.tensor(delta))
    t.global_step += 1  # Lightning counts the step before the batch ends
    monitor.on_train_batch_end(t, model, torch.tensor(cost), None, 0)


def test_the_update_ratio_is_the_step_relative_to_the_weights_after_it():
    model = net([[3.0, 0.0], [0.0, 4.0]], [[1.0, 0.0]])
    monitor = ratio_monitor(model)
    assert monitor._names == ["fc1", "fc2"]
    t = trainer(step=20, epoch=1)
    # fc1: ‖ΔW‖ = ‖(0.3, 0.4)‖ = 0.5 and ‖W after‖ = ‖(2.7, 3.6)‖ = 4.5; fc2 ends at 0: no ratio
    optimiser_step(monitor, model, t, {"fc1": [[0.3, 0.0], [0.0, 0.4]], "fc2": [[1.0, 0.0]]}, cost=0.75)
    assert monitor.steps == [20] and monitor.costs == [0.75]
    assert monitor.history["fc1"] == [pytest.approx(0.5 / 4.5)]
    assert monitor.history["fc2"][0] != monitor.history["fc2"][0]  # NaN
    ((step, metrics),) = monitor.metrics.scalar_calls
    assert step == 20 and list(metrics) == ["babysit/update_ratio/fc1", "babysit/update_ratio/fc2"]
    assert metrics["babysit/update_ratio/fc1"] == pytest.approx(1 / 9)
    assert torch.equal(model.fc1.weight, torch.tensor([[2.7, 0.0], [0.0, 3.6]]))  # the weights are left alone


def test_the_update_ratio_is_measured_every_interval_steps_only():
    model = net([[3.0, 4.0]], [[1.0]])
    monitor = ratio_monitor(model, interval=5)
    t = trainer(step=3)
    optimiser_step(monitor, model, t, {"fc1": [[0.3, 0.4]]})
    assert monitor.steps == [] and monitor._pending_step is None
    t.global_step = 5
    optimiser_step(monitor, model, t, {"fc1": [[0.3, 0.4]]})  # ‖ΔW‖ = 0.5, ‖W after‖ = ‖(2.4, 3.2)‖ = 4
    optimiser_step(monitor, model, t, {"fc1": [[0.3, 0.4]]})  # step 6: not measured
    t.global_step = 10
    optimiser_step(monitor, model, t, {"fc1": [[0.6, 0.8]]})  # ‖ΔW‖ = 1, ‖W after‖ = ‖(1.5, 2)‖ = 2.5
    assert monitor.steps == [5, 10]
    assert monitor.history["fc1"] == [pytest.approx(0.5 / 4), pytest.approx(1 / 2.5)]
    assert [s for s, _ in monitor.metrics.scalar_calls] == [5, 10]
    monitor.on_train_batch_end(t, model, torch.tensor(1.0), None, 0)  # no step copied before: nothing
    assert monitor.steps == [5, 10] and len(monitor.costs) == 2


def test_a_network_without_weight_matrices_is_not_measured():
    model = nn.Sequential(nn.BatchNorm1d(3))
    monitor = ratio_monitor(model)
    assert monitor._names == [] and monitor._tags == []
    monitor.on_before_optimizer_step(trainer(step=0), model, None)
    assert monitor._pending_step is None and monitor._before is None


def test_a_new_setup_measures_the_new_network():
    monitor = ratio_monitor(net([[3.0, 4.0]]))
    optimiser_step(monitor, net([[3.0, 4.0]]), trainer(), {})
    model = net([[1.0, 0.0, 0.0], [0.0, 0.0, 2.0]], [[1.0, 1.0]])
    monitor.setup(trainer(), model, "fit")
    assert monitor._tags == ["babysit/update_ratio/fc1", "babysit/update_ratio/fc2"] and monitor._before is None
    optimiser_step(monitor, model, trainer(step=10), {"fc1": [[0.0, 0.0, 0.0], [0.0, 0.0, 1.0]]})
    assert monitor.history["fc1"][-1] == pytest.approx(1 / 2 ** 0.5)  # ‖ΔW‖ = 1, ‖W after‖ = √2


# WeightGradStats: ‖W‖, ‖grad‖ and mean |grad| of each layer just before the optimiser step.


def grad_monitor(model, grads, **options):
    monitor = WeightGradStats(**options)
    monitor.metrics = Recorder()
    monitor.setup(trainer(), model, "fit")
    for name, g in grads.items():
        getattr(model, name).weight.grad = torch.tensor(g)
    return monitor


def test_weight_and_gradient_sizes_per_layer_are_the_norms_and_the_mean_magnitude():
    model = net([[3.0, 4.0]], [[1.0, 0.0, 0.0], [0.0, 2.0, 2.0]])
    monitor = grad_monitor(model, {"fc1": [[1.0, -3.0]], "fc2": [[0.0, 6.0, 0.0], [0.0, 0.0, -8.0]]},
                           histogram_every_n_epochs=0)
    monitor.on_before_optimizer_step(trainer(step=20, epoch=2), model, None)
    assert monitor.steps == [20] and monitor._measured is True
    expected = {"weight_norm": {"fc1": 5.0, "fc2": 3.0}, "grad_norm": {"fc1": 10 ** 0.5, "fc2": 10.0},
                "grad_mean_abs": {"fc1": 4 / 2, "fc2": 14 / 6}}
    for stat, layers in expected.items():
        assert monitor.history[stat] == {n: [pytest.approx(v)] for n, v in layers.items()}, stat
    ((step, metrics),) = monitor.metrics.scalar_calls
    assert step == 20 and metrics == {f"babysit/{stat}/{n}": pytest.approx(v)
                                      for stat, layers in expected.items() for n, v in layers.items()}
    assert monitor.metrics.histogram_calls == []


def test_a_layer_without_a_gradient_is_left_out_and_none_means_no_measurement():
    model = net([[3.0, 4.0]], [[1.0]])
    monitor = grad_monitor(model, {"fc2": [[2.0]]}, histogram_every_n_epochs=0)
    monitor.on_before_optimizer_step(trainer(step=10), model, None)
    assert monitor.history["grad_norm"] == {"fc2": [2.0]} and list(monitor.history["weight_norm"]) == ["fc2"]
    bare = grad_monitor(net([[3.0, 4.0]]), {}, histogram_every_n_epochs=1)
    bare.on_before_optimizer_step(trainer(step=10, epoch=1), None, None)
    assert bare.steps == [] and bare._histogram_epoch == -1 and bare.metrics.histogram_calls == []


def test_sizes_are_measured_every_interval_steps_and_histograms_at_their_epochs():
    model = net([[3.0, 4.0]], [[1.0]])  # fc2 has no gradient: left out
    monitor = grad_monitor(model, {"fc1": [[1.0, 1.0]]}, interval=5, histogram_every_n_epochs=2)
    monitor.on_before_optimizer_step(trainer(step=7, epoch=1), model, None)  # neither
    assert monitor.steps == [] and monitor.metrics.histogram_calls == [] and monitor._histogram_epoch == -1
    monitor.on_before_optimizer_step(trainer(step=11, epoch=2), model, None)  # a histogram only
    assert monitor.steps == [] and monitor._measured is False and monitor._histogram_epoch == 2
    ((step, tensors),) = monitor.metrics.histogram_calls
    assert step == 11 and list(tensors) == ["babysit/weights/fc1", "babysit/grads/fc1"]
    assert torch.equal(tensors["babysit/weights/fc1"], torch.tensor([[3.0, 4.0]]))
    assert torch.equal(tensors["babysit/grads/fc1"], torch.tensor([[1.0, 1.0]]))
    monitor.on_before_optimizer_step(trainer(step=15, epoch=2), model, None)  # sizes; this epoch's histogram is taken
    assert monitor.steps == [15] and len(monitor.metrics.histogram_calls) == 1
    monitor.on_before_optimizer_step(trainer(step=20, epoch=4), model, None)  # both
    assert monitor.steps == [15, 20] and [s for s, _ in monitor.metrics.histogram_calls] == [11, 20]


def test_an_old_checkpoint_without_costs_resumes_with_unknown_costs():
    old = WeightGradStats()
    old.load_state_dict({"history": {"weight_norm": {}}, "steps": [0, 10, 20]})
    assert old.steps == [0, 10, 20] and old.history == {"weight_norm": {}}
    assert len(old.costs) == 3 and all(c != c for c in old.costs) and old._histogram_epoch == -1


# TrainValGap and LossProgress read what the module logged at epoch end.


def test_the_gap_is_logged_and_judged_from_the_logged_accuracies():
    monitor = TrainValGap(num_classes=2)
    monitor.metrics = Recorder()
    monitor.on_train_epoch_end(trainer(step=40, epoch=2, train__acc=0.875, val__acc=0.625), None)
    ((step, metrics),) = monitor.metrics.scalar_calls
    assert step == 40 and metrics == {"babysit/gap": 0.25} and monitor.metrics.flushes == 1
    assert (monitor.epochs, monitor.train_acc, monitor.val_acc) == ([3], [0.875], [0.625])


@pytest.mark.parametrize("metrics", [{"train__acc": 0.5}, {"val__acc": 0.5}, {"train__acc": float("nan"),
                                                                             "val__acc": 0.5},
                                     {"train__acc": 0.5, "val__acc": float("inf")}])
def test_an_epoch_without_both_finite_accuracies_is_not_judged(metrics):
    monitor = TrainValGap(num_classes=2)
    monitor.metrics = Recorder()
    monitor.on_train_epoch_end(trainer(**metrics), None)
    assert monitor.epochs == [] and monitor.metrics.scalar_calls == [] and monitor.metrics.flushes == 0


def test_the_gap_reads_the_first_of_its_keys_that_was_logged():
    monitor = TrainValGap(train_key=("mine/train", "babysit/train_acc"), val_key=("mine/val", "babysit/val_acc"))
    monitor.metrics = Recorder()
    monitor.on_train_epoch_end(trainer(babysit__train_acc=0.75, mine__val=0.5, babysit__val_acc=0.25), None)
    assert (monitor.train_acc, monitor.val_acc) == ([0.75], [0.5])


def test_the_cost_progress_reads_its_own_key_and_skips_an_epoch_without_it():
    monitor = LossProgress(cost_key=("mine/cost", "babysit/cost"))
    monitor.on_train_epoch_end(trainer(babysit__cost=0.75), None)
    monitor.on_train_epoch_end(trainer(train__loss=0.5), None)
    monitor.on_train_epoch_end(trainer(babysit__cost=float("nan")), None)
    assert (monitor.last, monitor.epochs) == (0.75, 1)
    monitor.on_train_epoch_end(trainer(babysit__cost=float("inf")), None)  # logged: the verdict skips it
    assert (monitor.last, monitor.epochs) == (float("inf"), 2)


# The learning phase at its edges.


def test_the_learning_phase_at_its_boundaries():
    assert learning_phase([math.nan, 10.0, 1.5, 1.0, 1.0, 1.0]) == [1, 2]  # from 10: 1.5 is within 10 % of the fall
    assert learning_phase([1.0, 0.3, 0.2, 0.2, 0.9]) == [1, 2]  # the end is 0.2, the median of the last three
    assert learning_phase([2.0, 1.9, 1.9, 1.9], barely=0.06) == [1, 2, 3]  # a 5 % fall of 2.0 barely moved
    assert learning_phase([1.0, 0.5, 0.5, 0.5], barely=0.5) == [1]  # a fall of exactly `barely` moved
    assert learning_phase([1.0, 0.625, 0.25, 0.25, 0.25], done=0.5) == [1]  # exactly at the target: done
    assert learning_phase([1.0, math.nan], barely=0.0) == [1, 2]  # the target never reached: every measurement
    assert learning_phase([1.0, 1.5, 1.0, 0.5], barely=0.0) == [1, 2]  # the first measurement is never the end
