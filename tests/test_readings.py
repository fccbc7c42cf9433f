"""What the monitors read from a run, on given steps: the epoch's cost and accuracies, the layer names,
a group of callbacks acting as one, a monitor's verdicts in a checkpoint, and the metric writer."""

import math
from types import SimpleNamespace

import lightning.pytorch as pl
import numpy as np
import pytest
import torch
import torch.nn as nn

from babysit.callbacks.group import CallbackGroup, _pass_on
from babysit.callbacks.layers import modules_of_type, weight_layers
from babysit.callbacks.loggers import BINS, MetricWriter, _histogram
from babysit.callbacks.monitor import VERDICTS_KEY, Monitor, logged, step_cost
from babysit.callbacks.readings import COST, TRAIN_ACC, VAL_ACC, EpochReadings
from babysit.verdict import PASS, WARN, Verdict
from tests.fakes import MetricLogger


class Module(SimpleNamespace):
    """What EpochReadings calls on a LightningModule: log, log_dict and a forward hook."""

    def __init__(self):
        super().__init__(logged={}, hooks=[])

    def log(self, key, value, sync_dist=False):
        assert sync_dist
        self.logged[key] = float(value)

    def log_dict(self, values, sync_dist=False):
        assert sync_dist
        self.logged.update({k: float(v) for k, v in values.items()})

    def register_forward_hook(self, hook):
        self.hooks.append(hook)
        return SimpleNamespace(remove=lambda: self.hooks.remove(hook))


def trainer(sanity=False):
    return SimpleNamespace(sanity_checking=sanity, is_global_zero=True, current_epoch=0, loggers=[],
                           state=SimpleNamespace(fn="fit"))


def step(readings, module, scores, y, loss=None, stage="train", dataloader_idx=0):
    """A forward pass that produced `scores`, then the batch-end hook of `stage`."""
    for hook in module.hooks:
        hook(None, (), torch.tensor(scores, dtype=torch.float))
    batch = (torch.zeros(len(y), 2), torch.tensor(y))
    if stage == "train":
        readings.on_train_batch_end(trainer(), module, loss, batch, 0)
    else:
        readings.on_validation_batch_end(trainer(), module, None, batch, 0, dataloader_idx)


def fitted_readings():
    readings, module = EpochReadings(), Module()
    readings.setup(trainer(), module, "fit")
    readings.on_train_epoch_start(trainer(), module)
    return readings, module


def test_an_epoch_logs_the_mean_cost_of_its_steps_and_the_accuracy_of_its_scores():
    readings, module = fitted_readings()
    step(readings, module, [[2.0, 1.0], [0.0, 3.0]], [0, 0], loss=torch.tensor(1.0))  # 1 of 2 right
    step(readings, module, [[2.0, 1.0], [1.0, 0.0], [0.0, 1.0]], [0, 0, 1], loss={"loss": torch.tensor(4.0)})
    readings.on_train_epoch_end(trainer(), module)
    assert module.logged == {COST: 2.5, TRAIN_ACC: pytest.approx(4 / 5)}
    assert readings.width == 2


def test_validation_counts_only_the_first_loader_and_not_the_sanity_check():
    readings, module = fitted_readings()
    readings.on_validation_epoch_start(trainer(), module)
    step(readings, module, [[0.0, 1.0], [0.0, 1.0]], [1, 0], stage="val")
    step(readings, module, [[0.0, 1.0]], [0], stage="val", dataloader_idx=1)  # a second loader: not counted
    for hook in module.hooks:  # a hook called without a loader index: the first loader
        hook(None, (), torch.tensor([[1.0, 0.0]]))
    readings.on_validation_batch_end(trainer(), module, None, (torch.zeros(1, 2), torch.tensor([0])), 0)
    readings.on_validation_epoch_end(trainer(sanity=True), module)
    assert module.logged == {}
    readings.on_validation_epoch_end(trainer(), module)
    assert module.logged == {VAL_ACC: pytest.approx(2 / 3)}
    readings.on_validation_epoch_start(trainer(), module)  # the next validation starts from nothing
    step(readings, module, [[0.0, 1.0]], [1], stage="val")
    readings.on_validation_epoch_end(trainer(), module)
    assert module.logged == {VAL_ACC: 1.0}


def test_a_new_training_epoch_keeps_the_validation_sums_and_drops_the_training_ones():
    readings, module = fitted_readings()
    step(readings, module, [[1.0, 0.0]], [0], loss=torch.tensor(3.0))
    readings.on_validation_epoch_start(trainer(), module)
    step(readings, module, [[1.0, 0.0]], [1], stage="val")
    readings.on_train_epoch_start(trainer(), module)
    assert set(readings._sums) == {"val/correct", "val/seen"}
    step(readings, module, [[1.0, 0.0]], [0], loss=torch.tensor(1.0))
    readings.on_train_epoch_end(trainer(), module)
    assert module.logged == {COST: 1.0, TRAIN_ACC: 1.0}


def test_scores_that_do_not_match_the_batch_or_no_scores_leave_the_accuracy_unmeasured():
    readings, module = fitted_readings()
    step(readings, module, [[1.0, 0.0]], [0, 1], loss=torch.tensor(2.0))  # 1 score row, 2 targets
    readings.on_train_batch_end(trainer(), module, torch.tensor(4.0), (torch.zeros(1, 2), torch.tensor([0])), 1)
    readings.on_train_batch_end(trainer(), module, None, "not a batch", 2)  # no loss, unreadable batch
    readings.on_train_epoch_end(trainer(), module)
    assert module.logged == {COST: 3.0}
    assert readings.width is None


def test_only_two_dimensional_tensor_outputs_are_taken_as_scores():
    readings, module = fitted_readings()
    readings._keep(None, (), torch.ones(3))
    readings._keep(None, (), (torch.ones(2, 2),))
    assert readings._scores is None
    readings._keep(None, (), torch.ones(2, 3, requires_grad=True))
    assert readings._scores.shape == (2, 3) and not readings._scores.requires_grad


def test_the_forward_hook_is_registered_once_and_removed_at_teardown():
    readings, module = fitted_readings()
    readings.setup(trainer(), module, "validate")
    assert len(module.hooks) == 1
    readings.teardown(trainer(), module, "fit")
    assert module.hooks == [] and readings._handle is None
    readings.teardown(trainer(), module, "fit")  # twice is harmless


def test_switched_off_readings_measure_nothing_and_keep_no_state():
    readings, module = EpochReadings(), Module()
    readings.active = False
    readings.setup(trainer(), module, "fit")
    assert module.hooks == []
    readings._sums = {"train/cost": torch.tensor(1.0), "train/steps": torch.tensor(1), "val/seen": torch.tensor(1),
                      "val/correct": torch.tensor(1)}
    for hook in ("on_train_epoch_start", "on_validation_epoch_start", "on_validation_epoch_end", "on_train_epoch_end"):
        getattr(readings, hook)(trainer(), module)
    readings.on_train_batch_end(trainer(), module, torch.tensor(1.0), (torch.zeros(1, 2), torch.tensor([0])), 0)
    readings.on_validation_batch_end(trainer(), module, None, (torch.zeros(1, 2), torch.tensor([0])), 0)
    assert module.logged == {} and float(readings._sums["train/steps"]) == 1 and len(readings._sums) == 4
    assert readings.state_dict() == {}


def test_an_epoch_in_progress_survives_a_checkpoint():
    readings, module = fitted_readings()
    assert readings.state_dict() == {}  # nothing summed yet
    step(readings, module, [[1.0, 0.0], [1.0, 0.0]], [0, 1], loss=torch.tensor(2.0))
    state = readings.state_dict()
    assert state["width"] == 2 and float(state["sums"]["train/cost"]) == 2.0
    restored, restored_module = EpochReadings(), Module()
    restored.load_state_dict(state)
    restored.setup(trainer(), restored_module, "fit")
    step(restored, restored_module, [[1.0, 0.0]], [0], loss=torch.tensor(4.0))
    restored.on_train_epoch_end(trainer(), restored_module)
    assert restored_module.logged == {COST: 3.0, TRAIN_ACC: pytest.approx(2 / 3)} and restored.width == 2
    state["sums"]["train/cost"] += 100  # the checkpoint holds copies
    assert float(readings._sums["train/cost"]) == 2.0


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 2, 3)
        self.norm = nn.BatchNorm2d(2)
        self.act = nn.ReLU()
        self.fc = nn.Linear(2, 3)


class Wrapper(nn.Module):
    def __init__(self, extra: bool = False):
        super().__init__()
        self.net = Net()
        if extra:
            self.head = nn.Linear(3, 3)
        self.loss = nn.CrossEntropyLoss()  # a child without parameters does not count


def test_layer_names_are_relative_to_the_one_child_that_holds_the_network():
    names, weights = weight_layers(Wrapper())
    assert names == ["conv", "fc"]
    assert [w.shape for w in weights] == [(2, 1, 3, 3), (3, 2)]  # no biases, no norm gains
    assert [n for n, _ in modules_of_type(Wrapper(), (nn.ReLU, nn.Linear))] == ["act", "fc"]


def test_with_two_children_holding_parameters_the_names_are_full_paths():
    assert weight_layers(Wrapper(extra=True))[0] == ["net.conv", "net.fc", "head"]
    assert [n for n, _ in modules_of_type(Wrapper(extra=True), (nn.Linear,))] == ["net.fc", "head"]
    assert weight_layers(Net())[0] == ["conv", "fc"]  # the network itself: its own children's names


def test_frozen_weights_are_not_layers_to_watch():
    model = Wrapper()
    model.net.conv.weight.requires_grad_(False)
    assert weight_layers(model)[0] == ["fc"]


class Member(pl.Callback):
    def __init__(self, key, calls, state=None):
        self.key, self.calls, self.state, self.loaded = key, calls, state, None

    @property
    def state_key(self):
        return self.key

    def on_train_start(self, trainer, pl_module):
        self.calls.append((self.key, trainer, pl_module))

    def state_dict(self):
        return self.state or {}

    def load_state_dict(self, state_dict):
        self.loaded = state_dict


def test_a_group_passes_each_hook_on_in_order_and_keeps_each_members_state_under_its_key():
    calls = []
    a, b, quiet = Member("a", calls, {"x": 1}), Member("b", calls, {"y": 2}), Member("c", calls)
    group = CallbackGroup([a, b, quiet])
    group.on_train_start("T", "M")
    assert calls == [("a", "T", "M"), ("b", "T", "M"), ("c", "T", "M")]
    group.on_train_end("T", "M")  # no member overrides it: nothing happens
    assert group.state_dict() == {"a": {"x": 1}, "b": {"y": 2}}
    group.load_state_dict({"b": {"y": 3}})
    assert (a.loaded, b.loaded, quiet.loaded) == (None, {"y": 3}, None)


def test_a_passed_on_hook_keeps_its_name_and_all_its_arguments():
    calls = []
    group = SimpleNamespace(_targets={"on_demo": [lambda *a, **k: calls.append((a, k))]})
    method = _pass_on("on_demo")
    assert method.__name__ == method.__qualname__ == "on_demo"
    method(group, 1, 2, key=3)
    assert calls == [((1, 2), {"key": 3})]


class Judge(Monitor):
    pass


def test_a_monitor_prints_its_verdict_on_rank_zero_only_and_keeps_it_in_checkpoints(capsys):
    judge = Judge(interval=5)
    assert judge.state_key == "Judge{'interval': 5}"
    verdict = Verdict("demo", WARN, "a reading")
    assert judge.record(SimpleNamespace(is_global_zero=False), verdict) is verdict
    assert capsys.readouterr().out == ""
    judge.record(SimpleNamespace(is_global_zero=True), Verdict("demo", PASS, "fine"))
    assert "fine" in capsys.readouterr().out
    checkpoint = {}
    judge.on_save_checkpoint(None, None, checkpoint)
    assert [v["message"] for v in checkpoint[VERDICTS_KEY][judge.state_key]] == ["a reading", "fine"]
    resumed = Judge(interval=5)
    resumed.on_load_checkpoint(SimpleNamespace(state=SimpleNamespace(fn="fit")), None, checkpoint)
    assert [(v.status, v.message) for v in resumed.verdicts] == [(WARN, "a reading"), (PASS, "fine")]
    other = Judge(interval=10)  # another instance's verdicts are not its own
    other.on_load_checkpoint(SimpleNamespace(state=SimpleNamespace(fn="fit")), None, checkpoint)
    assert other.verdicts == []


def test_a_test_run_from_a_checkpoint_keeps_the_verdicts_of_the_run():
    judge = Judge()
    judge.verdicts = [Verdict("demo", PASS, "kept")]
    judge.on_load_checkpoint(SimpleNamespace(state=SimpleNamespace(fn="test")), None, {VERDICTS_KEY: {}})
    assert [v.message for v in judge.verdicts] == ["kept"]


def test_the_first_logged_key_wins_and_none_logged_is_nan():
    t = SimpleNamespace(callback_metrics={"b": torch.tensor(2.0), "c": torch.tensor(3.0)})
    assert logged(t, ("a", "c", "b")) == 3.0 and logged(t, "b") == 2.0
    assert logged(SimpleNamespace(callback_metrics={"val_acc": torch.tensor(0.5)}), "val_acc") == 0.5
    assert math.isnan(logged(t, ("a", "z")))


def test_scalars_reach_every_plain_logger_at_once_and_the_record_with_their_epoch():
    writer, plain = MetricWriter(), MetricLogger()
    t = SimpleNamespace(loggers=[plain], current_epoch=3, is_global_zero=True)
    writer.scalars(t, {"a": 1.0}, step=7)
    assert plain.logged == [(7, {"a": 1.0})] and writer.rows is None
    writer.rows = []
    writer.scalars(t, {"b": 2.0}, step=8)
    assert writer.rows == [{"step": 8, "epoch": 3, "b": 2.0}]
    writer.histograms(t, {"w": torch.ones(3)}, step=8)  # no TensorBoard logger: nothing pending
    assert writer._pending == []


def test_the_histogram_has_equal_bins_from_the_minimum_to_the_maximum():
    a = np.array([0.0, 0.2, 1.0, 2.0, 2.0])
    counts, edges = _histogram(a, 0.0, 2.0)
    assert len(counts) == BINS and len(edges) == BINS + 1 and edges[0] == 0.0 and edges[-1] == 2.0
    assert sum(counts) == 5 and counts[-1] == 2 and counts[0] == 1 and counts[BINS // 2] == 1 and counts[3] == 1
    counts, edges = _histogram(np.array([2.0, 2.0]), 2.0, 2.0)  # one value: a bin of width 1 around it
    assert (edges[0], edges[-1]) == (1.5, 2.5) and counts[BINS // 2] == 2 and sum(counts) == 2


def test_tensorboard_gets_one_event_per_measurement_at_flush_and_no_histogram_of_non_finite_values(tmp_path):
    from lightning.pytorch.loggers import TensorBoardLogger
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    board = TensorBoardLogger(tmp_path, name="", version="")
    t = SimpleNamespace(loggers=[board], current_epoch=0, is_global_zero=True)
    writer = MetricWriter()
    writer.scalars(t, {"ratio/fc": 0.5, "ratio/conv": 0.25}, step=3)
    writer.histograms(t, {"w/bad": torch.tensor([1.0, math.inf]), "w/fc": torch.tensor([1.0, 2.0, 3.0, 4.0])}, step=3)
    writer.scalars(SimpleNamespace(loggers=[board], current_epoch=0, is_global_zero=False), {"rank1": 1.0}, step=3)
    assert len(writer._pending) == 2  # nothing written before the flush; rank 1 writes nothing
    writer.flush()
    assert writer._pending == []
    board.experiment.flush()
    events = EventAccumulator(str(tmp_path), size_guidance={"histograms": 0}).Reload()
    assert sorted(events.Tags()["scalars"]) == ["ratio/conv", "ratio/fc"]
    assert events.Scalars("ratio/fc")[0].step == 3 and events.Scalars("ratio/fc")[0].value == 0.5
    assert events.Tags()["histograms"] == ["w/fc"]
    histogram = events.Histograms("w/fc")[0].histogram_value
    assert (histogram.min, histogram.max, histogram.num, histogram.sum, histogram.sum_squares) == (1, 4, 4, 10, 30)
    assert histogram.bucket_limit[0] == 1 and histogram.bucket[0] == 0 and sum(histogram.bucket) == 4


def test_the_sums_stay_on_the_device_of_the_scores_and_the_loss():
    readings, module = fitted_readings()
    readings._scores = torch.zeros(2, 3, device="meta")
    batch = (torch.zeros(2, 2, device="meta"), torch.zeros(2, dtype=torch.long, device="meta"))
    readings.on_train_batch_end(trainer(), module, torch.zeros((), device="meta"), batch, 0)
    assert {k: v.device.type for k, v in readings._sums.items()} == dict.fromkeys(
        ["train/cost", "train/steps", "train/correct", "train/seen"], "meta")


def test_under_ddp_the_step_cost_is_the_mean_over_the_ranks_of_a_copy():
    seen = []

    def reduce(tensor, reduce_op):
        seen.append(reduce_op)
        return tensor.mul_(0.5)  # the real all-reduce works in place too

    loss = torch.tensor(3.0)
    ddp = SimpleNamespace(world_size=2, strategy=SimpleNamespace(reduce=reduce))
    assert step_cost(loss, ddp) == 1.5 and seen == ["mean"] and float(loss) == 3.0
    assert step_cost(loss, SimpleNamespace(world_size=1, strategy=None)) == 3.0


def test_a_monitor_flushes_its_metrics_at_each_epoch_end_and_when_training_ends_or_fails():
    judge = Judge()
    flushed = []
    judge.metrics.flush = lambda: flushed.append(True)
    judge.on_train_epoch_end(None, None)
    judge.on_train_end(None, None)
    judge.on_exception(None, None, RuntimeError())
    assert len(flushed) == 3 and isinstance(Judge().metrics, MetricWriter)


def test_a_checkpoint_without_verdicts_resumes_with_none():
    judge = Judge()
    judge.verdicts = [Verdict("demo", PASS, "from before")]
    judge.on_load_checkpoint(SimpleNamespace(state=SimpleNamespace(fn="fit")), None, {})
    assert judge.verdicts == []
