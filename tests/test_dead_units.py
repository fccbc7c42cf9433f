"""The dead-ReLU monitor driven hook by hook: the fractions it logs, its history, the steps it measures and
its exact verdict lines."""

from collections import OrderedDict
from types import SimpleNamespace

import pytest
import torch
import torch.nn as nn
from omegaconf import OmegaConf

from babysit.callbacks import DeadUnits
from babysit.verdict import PASS, WARN
from tests.fakes import MetricLogger

ADVICE = ("lower the learning rate (one big step can push a unit below all its inputs for good), "
          "use kaiming init, or model.activation=leaky_relu")


class Strategy:
    def __init__(self):
        self.ops = []

    def reduce(self, tensor, reduce_op):
        self.ops.append(reduce_op)
        return tensor


def trainer(step=0, epoch=0):
    return SimpleNamespace(is_global_zero=True, current_epoch=epoch, global_step=step, loggers=[MetricLogger()],
                           strategy=Strategy())


def mlp(*biases) -> nn.Module:
    """Linear → ReLU layers with zero weights: unit i of layer k outputs relu(biases[k][i]) for every input."""
    layers, width = OrderedDict(), 2
    for k, bias in enumerate(biases, 1):
        fc = nn.Linear(width, len(bias))
        with torch.no_grad():
            fc.weight.zero_()
            fc.bias.copy_(torch.tensor(bias))
        layers[f"fc{k}"], layers[f"act{k}"], width = fc, nn.ReLU(), len(bias)
    return nn.Sequential(layers)


class Activations(nn.Module):
    """ReLUs applied to given pre-activations, one tensor per module call: full control of every output."""

    def __init__(self):
        super().__init__()
        self.relu, self.relu6, self.leaky = nn.ReLU(), nn.ReLU6(), nn.LeakyReLU()

    def forward(self, calls):
        return [getattr(self, name)(x) for name, x in calls]


def measure(monitor, model, t, x, step=None):
    """One training step as Lightning runs it: batch start, the forward, then the global step moves on."""
    if step is not None:
        t.global_step = step
    monitor.on_train_batch_start(t, model, None, 0)
    model(x)
    t.global_step += 1
    monitor.on_train_batch_end(t, model, None, None, 0)
    t.global_step -= 1


def monitor(model, **kwargs) -> DeadUnits:
    m = DeadUnits(**kwargs)
    m.setup(None, model, "fit")
    return m


X = torch.randn(5, 2, generator=torch.Generator().manual_seed(0))


# the fractions


def test_the_fraction_of_units_at_zero_is_logged_per_layer_with_its_step():
    model = mlp([-1.0, -1.0, 1.0, 2.0], [-3.0, 0.5, 1.0])
    dead, t = monitor(model, threshold=0.9, interval=1), trainer(step=7, epoch=2)
    dead.metrics.rows = []
    measure(dead, model, t, X)
    assert dead.steps == [7]
    assert dead.history == {"act1": [2 / 4], "act2": [1 / 3]}
    assert t.loggers[0].logged == [(7, {"babysit/dead_units/act1": 0.5, "babysit/dead_units/act2": 1 / 3})]
    assert dead.metrics.rows == [{"step": 7, "epoch": 2, "babysit/dead_units/act1": 0.5,
                                  "babysit/dead_units/act2": 1 / 3}]
    assert t.strategy.ops == ["sum"]  # one reduction of all layers' sums over the ranks
    assert dead.verdicts == [] and dead.flagged == {}


def test_a_unit_is_dead_only_at_exactly_zero_on_the_whole_batch():
    model = mlp([0.0, 1e-4, -1e-4, 3.0])
    dead = monitor(model, interval=1)
    measure(dead, model, trainer(), X)
    assert dead.history == {"act1": [0.5]}


def test_a_unit_alive_for_one_sample_of_the_batch_is_alive():
    x = -torch.ones(4, 3)
    x[2, 1] = 0.5
    model = Activations()
    dead = monitor(model, interval=1)
    measure(dead, model, trainer(), [("relu", x)])
    assert dead.history == {"relu": [2 / 3]}


def test_the_units_of_a_conv_map_are_its_channels():
    x = -torch.ones(2, 3, 2, 2)
    x[1, 1, 0, 1] = 1.0  # channel 1: alive at one position of one sample
    x[:, 2] = 1.0
    y = -torch.ones(2, 4, 5)
    y[0, 3, 4] = 2.0
    model = Activations()
    dead = monitor(model, interval=1)
    measure(dead, model, trainer(), [("relu", x), ("relu6", y)])
    assert dead.history == {"relu": [1 / 3], "relu6": [3 / 4]}


def test_a_one_dimensional_output_is_one_unit():
    model = Activations()
    dead = monitor(model, interval=1)
    measure(dead, model, trainer(), [("relu", torch.tensor([-1.0, -2.0, 0.0])), ("relu6", torch.tensor([-1.0, 3.0]))])
    assert dead.history == {"relu": [1.0], "relu6": [0.0]}


def test_a_module_called_twice_gets_one_entry_per_call_and_leaky_units_are_not_watched():
    model = Activations()
    dead, t = monitor(model, threshold=0.5, interval=1), trainer()
    calls = [("relu", torch.tensor([[-1.0, 1.0]])), ("leaky", -torch.ones(1, 5)),
             ("relu", torch.tensor([[-1.0, -1.0, -1.0, 1.0]])), ("relu6", torch.tensor([[1.0, 1.0, 1.0]])),
             ("relu", torch.tensor([[1.0, 1.0, 1.0, 1.0, 1.0]]))]
    measure(dead, model, t, calls)
    assert dead.history == {"relu": [0.5], "relu.call2": [0.75], "relu6": [0.0], "relu.call3": [0.0]}
    assert list(t.loggers[0].logged[0][1]) == [f"babysit/dead_units/{n}" for n in ("relu", "relu.call2", "relu6",
                                                                                     "relu.call3")]
    assert dead.flagged == {"relu.call2": 1}
    assert [v.message for v in dead.verdicts] == ["75% of the units of relu.call2 are dead (> 50%) at step 0 (epoch 1)"]


def test_three_layers_of_different_widths_each_read_their_own_units():
    model = mlp([-1.0, 1.0], [-1.0, -1.0, -1.0, 1.0, 1.0], [-1.0, -1.0, -1.0])
    dead = monitor(model, threshold=1.0, interval=1)
    measure(dead, model, trainer(), X)
    assert dead.history == {"act1": [0.5], "act2": [0.6], "act3": [1.0]}


# when it measures


def test_it_measures_every_interval_steps_and_hooks_only_those_steps():
    model = mlp([-1.0, 1.0])
    dead, t = monitor(model, interval=3), trainer()
    hooked = []
    for step in range(10):
        t.global_step = step
        dead.on_train_batch_start(t, model, None, step)
        hooked.append(len(model.act1._forward_hooks))
        model(X)
        dead.on_train_batch_end(t, model, None, None, step)
        assert not model.act1._forward_hooks
    assert hooked == [1, 0, 0, 1, 0, 0, 1, 0, 0, 1]
    assert dead.steps == [0, 3, 6, 9] and dead.history == {"act1": [0.5] * 4}
    assert [step for step, _ in t.loggers[0].logged] == [0, 3, 6, 9]


def test_batches_that_share_a_step_are_measured_once():
    model = mlp([-1.0, 1.0])
    dead, t = monitor(model, interval=2), trainer()
    for step in (0, 0, 1, 1, 2, 2):  # gradient accumulation: two batches a step
        measure(dead, model, t, X, step=step)
    assert dead.steps == [0, 2] and dead.history == {"act1": [0.5, 0.5]}


def test_a_second_batch_start_before_the_end_adds_no_hooks():
    model = mlp([-1.0, 1.0])
    dead, t = monitor(model, interval=1), trainer()
    dead.on_train_batch_start(t, model, None, 0)
    dead.on_train_batch_start(t, model, None, 0)
    assert len(model.act1._forward_hooks) == 1
    model(X)
    dead.on_train_batch_end(t, model, None, None, 0)
    assert not model.act1._forward_hooks and dead.history == {"act1": [0.5]}


def test_the_step_measured_is_the_one_at_batch_start():
    model = mlp([-1.0, -1.0, -1.0, 1.0])
    dead, t = monitor(model, threshold=0.5, interval=5), trainer(epoch=2)
    measure(dead, model, t, X, step=5)
    assert dead.steps == [5] and t.loggers[0].logged[0][0] == 5
    assert (dead.verdicts[0].step, dead.verdicts[0].epoch) == (5, 3)


def test_nothing_is_measured_without_a_batch_start_or_without_a_forward():
    model = mlp([-1.0, 1.0])
    dead, t = monitor(model, interval=1), trainer()
    model(X)
    dead.on_train_batch_end(t, model, None, None, 0)
    dead.on_train_batch_start(t, model, None, 0)
    dead.on_train_batch_end(t, model, None, None, 0)  # no forward in between
    assert not model.act1._forward_hooks
    assert dead.steps == [] and dead.history == {} and t.loggers[0].logged == [] and t.strategy.ops == []
    measure(dead, model, t, X)  # the step was not measured, so it still is
    assert dead.steps == [0]


def test_a_monitor_that_was_not_set_up_hooks_nothing():
    model = mlp([-1.0, 1.0])
    dead, t = DeadUnits(interval=1), trainer()
    measure(dead, model, t, X)
    assert dead.steps == [] and not model.act1._forward_hooks


def test_an_exception_removes_the_hooks_and_flushes_the_metrics():
    model = mlp([-1.0, 1.0])
    dead, t = monitor(model, interval=1), trainer()
    flushed = []
    dead.metrics.flush = lambda: flushed.append(True)
    dead.on_exception(t, model, RuntimeError())  # before any step
    dead.on_train_batch_start(t, model, None, 0)
    dead.on_exception(t, model, RuntimeError())
    assert not model.act1._forward_hooks and flushed == [True, True]
    model(X)
    dead.on_train_batch_end(t, model, None, None, 0)
    assert dead.steps == []
    measure(dead, model, t, X, step=1)
    dead.on_exception(t, model, RuntimeError())  # after a measured step
    assert dead.steps == [1] and flushed == [True, True, True]


# the verdicts


def test_exactly_the_threshold_is_not_flagged_and_above_it_is_flagged_once():
    half, most = mlp([-1.0, -1.0, 1.0, 1.0]), mlp([-1.0, -1.0, -1.0, 1.0])
    at, above, t = monitor(half, threshold=0.5, interval=1), monitor(most, threshold=0.5, interval=1), trainer()
    for step in range(3):
        t.current_epoch = step
        measure(at, half, t, X, step=step)
        measure(above, most, t, X, step=step)
    assert at.verdicts == [] and at.flagged == {}
    assert above.flagged == {"act1": 1}
    (verdict,) = above.verdicts
    assert (verdict.check, verdict.status) == ("dead_units", WARN)
    assert verdict.message == "75% of the units of act1 are dead (> 50%) at step 0 (epoch 1)"
    assert verdict.advice == ADVICE
    assert verdict.numbers == {"layer": "act1", "fraction": 0.75}
    assert (verdict.epoch, verdict.step) == (1, 0)


def test_a_layer_is_flagged_when_it_first_goes_above_and_each_layer_on_its_own():
    model = mlp([-1.0, 1.0, 1.0, 1.0], [1.0, 1.0])
    dead, t = monitor(model, threshold=0.25, interval=10), trainer()
    measure(dead, model, t, X, step=0)
    with torch.no_grad():
        model.fc1.bias.copy_(torch.tensor([-1.0, -1.0, 1.0, 1.0]))
        model.fc2.bias.fill_(-1.0)
    t.current_epoch = 3
    measure(dead, model, t, X, step=20)
    assert dead.flagged == {"act1": 4, "act2": 4}
    assert [v.message for v in dead.verdicts] == [
        "50% of the units of act1 are dead (> 25%) at step 20 (epoch 4)",
        "100% of the units of act2 are dead (> 25%) at step 20 (epoch 4)",
    ]
    assert dead.history == {"act1": [0.25, 0.5], "act2": [0.0, 1.0]}


def test_the_end_names_the_layers_still_above_the_threshold():
    model = mlp([-1.0, -1.0, -1.0, 1.0], [-1.0, 1.0], [-1.0, -1.0, -1.0, -1.0, 1.0])
    dead, t = monitor(model, threshold=0.5, interval=1), trainer()
    measure(dead, model, t, X)
    t.current_epoch, t.global_step = 4, 50
    dead.on_fit_end(t, model)
    final = dead.verdicts[-1]
    assert (final.check, final.status, final.advice) == ("dead_units", WARN, ADVICE)
    assert final.message == "dead units at the end of training: act1 75%, act3 80% (> 50%)"
    assert final.numbers == {"last": {"act1": 0.75, "act2": 0.5, "act3": 0.8}, "threshold": 0.5,
                             "first_flagged_epoch": {"act1": 1, "act3": 1}}
    assert (final.epoch, final.step) == (4, 50)


def test_the_end_reads_the_last_measurement_and_passes_with_the_worst_layer():
    model = mlp([-1.0, -1.0, -1.0, 1.0], [-1.0, 1.0, 1.0, 1.0, 1.0])
    dead, t = monitor(model, threshold=0.6, interval=1), trainer()
    measure(dead, model, t, X, step=0)
    with torch.no_grad():
        model.fc1.bias.copy_(torch.tensor([-1.0, -1.0, 1.0, 1.0]))
        model.fc2.bias.copy_(torch.tensor([-1.0, 1.0, 1.0, 1.0, 1.0]))
    measure(dead, model, t, X, step=1)
    dead.on_fit_end(t, model)
    assert len(dead.verdicts) == 2  # act1 at step 0, then the end
    final = dead.verdicts[-1]
    assert (final.check, final.status) == ("dead_units", PASS)
    assert final.message == "dead units ≤ 60% in all 2 ReLU layers at the end (most: 50% in act1)"
    assert final.numbers == {"last": {"act1": 0.5, "act2": 0.2}, "threshold": 0.6,
                             "first_flagged_epoch": {"act1": 1}}
    assert (final.advice, final.epoch, final.step) == ("", None, None)


def test_no_verdict_at_the_end_without_a_measurement():
    dead = monitor(mlp([1.0]))
    dead.on_fit_end(trainer(), None)
    assert dead.verdicts == []


# defaults and checkpoints


def test_the_defaults_are_the_configured_ones():
    conf = OmegaConf.load("conf/babysit/default.yaml").monitors
    dead = DeadUnits()
    assert (dead.threshold, dead.interval) == (conf.dead_units.threshold, conf.interval)
    assert dead.state_key == f"DeadUnits{{'interval': {conf.interval}}}"
    assert DeadUnits(interval=3).state_key == "DeadUnits{'interval': 3}"


def test_a_resumed_monitor_keeps_its_history_and_does_not_flag_again():
    model = mlp([-1.0, -1.0, -1.0, 1.0])
    dead, t = monitor(model, threshold=0.5, interval=2), trainer()
    measure(dead, model, t, X, step=0)
    state = dead.state_dict()
    assert state == {"history": {"act1": [0.75]}, "steps": [0], "flagged": {"act1": 1}}
    resumed = monitor(model, threshold=0.5, interval=2)
    resumed.load_state_dict(state)
    assert (resumed.history, resumed.steps, resumed.flagged) == ({"act1": [0.75]}, [0], {"act1": 1})
    measure(resumed, model, t, X, step=0)  # the step the checkpoint already measured
    measure(resumed, model, t, X, step=2)
    assert resumed.steps == [0, 2] and resumed.history == {"act1": [0.75, 0.75]} and resumed.verdicts == []


@pytest.mark.parametrize(("threshold", "printed"), [(0.1, "10%"), (0.3, "30%"), (0.125, "12%")])
def test_the_threshold_is_printed_as_a_percentage(threshold, printed):
    model = mlp([-1.0, -1.0, 1.0, 1.0])
    dead, t = monitor(model, threshold=threshold, interval=1), trainer()
    measure(dead, model, t, X)
    assert dead.verdicts[0].message == f"50% of the units of act1 are dead (> {printed}) at step 0 (epoch 1)"
