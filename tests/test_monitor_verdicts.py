"""The monitors' verdicts from given readings: exact lines, numbers and the state a checkpoint keeps."""

import inspect
import math
from pathlib import Path

import pytest
import torch
from omegaconf import OmegaConf

from babysit.callbacks import ExplosionStop, TrainValGap, UpdateRatio, WeightGradStats
from babysit.callbacks.babysitter import MONITORS, WITH_INTERVAL, WITH_PHASE
from babysit.callbacks.loss_progress import LossProgress
from babysit.callbacks.monitor import step_cost
from babysit.callbacks.phase import learning_phase, settled_phase
from babysit.verdict import FAIL, INFO, PASS, WARN
from tests.fakes import trainer


def feed(stop: ExplosionStop, costs, outputs=lambda c: torch.tensor(c)):
    t = trainer()
    for step, cost in enumerate(costs):
        t.global_step = step
        stop.on_train_batch_end(t, None, outputs(cost), None, step)
        if t.should_stop:
            break
    return t


def test_an_explosion_is_a_fail_with_its_numbers_and_stops_the_trainer():
    stop = ExplosionStop(factor=3.0)
    t = feed(stop, [0.5, 1.0, 1.6, 0.1])
    assert t.should_stop and stop.exploded and (stop.step, stop.epoch) == (2, 1)
    (verdict,) = stop.verdicts
    assert (verdict.check, verdict.status, verdict.message) == (
        "explosion", FAIL, "training stopped: cost 1.6 > 3 × initial 0.5 at step 2 (epoch 1)")
    assert verdict.numbers == {"cost": pytest.approx(1.6), "initial": 0.5, "factor": 3.0}
    assert (verdict.epoch, verdict.step) == (1, 2) and "learning rate" in verdict.advice
    assert stop.max_cost == pytest.approx(1.6)
    t.should_stop = False
    stop.on_train_batch_end(t, None, torch.tensor(100.0), None, 3)  # once exploded, it stays quiet
    assert len(stop.verdicts) == 1 and not t.should_stop


def test_exactly_factor_times_the_start_is_not_yet_an_explosion():
    stop = ExplosionStop(factor=2.0)
    feed(stop, [0.5, 1.0, 0.9])
    assert not stop.exploded
    stop.on_fit_end(trainer(), None)
    assert [(v.status, v.message) for v in stop.verdicts] == [(PASS, "cost stayed below 2 × initial 0.5 (max 1)")]
    assert stop.verdicts[0].numbers == {"initial": 0.5, "max": 1.0, "factor": 2.0}


def test_the_first_finite_cost_is_the_initial_one_and_a_non_tensor_output_is_skipped():
    stop = ExplosionStop(factor=3.0)
    t = trainer()
    stop.on_train_batch_end(t, None, None, None, 0)
    stop.on_train_batch_end(t, None, {"loss": 1.0}, None, 0)  # not a tensor
    assert stop.initial is None and stop.max_cost == -math.inf
    feed(stop, [2.0, 5.0], outputs=lambda c: {"loss": torch.tensor(c)})
    assert stop.initial == 2.0 and not stop.exploded and stop.max_cost == 5.0
    nan_first = ExplosionStop(factor=3.0)
    feed(nan_first, [math.nan])
    assert nan_first.exploded and nan_first.initial is None
    assert nan_first.verdicts[0].message == "training stopped: cost nan at step 0 (epoch 1)"


def test_a_negative_start_is_never_called_an_explosion_by_the_factor():
    stop = ExplosionStop(factor=3.0)
    feed(stop, [-1.0, 5.0, 50.0])
    assert not stop.exploded


def test_no_verdict_at_fit_end_without_steps_or_after_an_explosion():
    quiet = ExplosionStop()
    quiet.on_fit_end(trainer(), None)
    exploded = ExplosionStop(factor=3.0)
    feed(exploded, [1.0, 4.0])
    exploded.on_fit_end(trainer(), None)
    assert quiet.verdicts == [] and [v.status for v in exploded.verdicts] == [FAIL]


def test_the_explosion_state_rides_in_the_checkpoint():
    stop = ExplosionStop(factor=3.0)
    feed(stop, [1.0, 2.5])
    assert stop.state_dict() == {"initial": 1.0, "max_cost": 2.5}
    resumed = ExplosionStop(factor=3.0)
    resumed.load_state_dict(stop.state_dict())
    feed(resumed, [3.5])
    assert resumed.exploded and resumed.verdicts[0].message.startswith("training stopped: cost 3.5 > 3 × initial 1 ")


def test_a_step_cost_is_read_from_a_tensor_or_a_dict():
    assert step_cost(torch.tensor(0.25)) == 0.25 and step_cost({"loss": torch.tensor(0.5)}) == 0.5
    assert math.isnan(step_cost({"loss": 0.5})) and math.isnan(step_cost(None))
    assert step_cost(torch.tensor(0.75), trainer()) == 0.75


COSTS = [0.7, 0.4, 0.15, 0.05, 0.03, 0.02, 0.02, 0.02, 0.02, 0.02]  # learning: measurements 1–3


def ratios(history: dict, costs=COSTS, **options) -> UpdateRatio:
    monitor = UpdateRatio(interval=10, **options)
    monitor.history = {name: list(v) for name, v in history.items()}
    monitor.steps = [10 * i for i in range(len(costs))]
    monitor.costs = list(costs)
    monitor.on_fit_end(trainer(step=100, epoch=4), None)
    return monitor


def test_healthy_update_ratios_pass_with_the_medians_of_both_phases():
    monitor = ratios({"fc1": [1e-3] * 4 + [2e-3] * 6, "fc2": [3e-3] * 10})
    (verdict,) = monitor.verdicts
    assert (verdict.check, verdict.status, verdict.message) == (
        "update_ratio", PASS, "update ratio within [1e-04, 1e-02] in all 2 layers (medians 1.0e-03 … 3.0e-03 while "
                              "the cost fell and once settled)")
    n = verdict.numbers
    assert n["medians_learning"] == {"fc1": 1e-3, "fc2": 3e-3} and n["medians_settled"] == {"fc1": 2e-3, "fc2": 3e-3}
    assert (n["low"], n["high"], n["measurements"]) == (1e-4, 1e-2, 10)
    assert (n["learning_steps"], n["settled_steps"]) == ("steps 10–30", "steps 40–90")
    assert n["medians"] == {"fc1": 2e-3, "fc2": 3e-3} and (verdict.epoch, verdict.step) == (4, 100)


def test_a_run_that_ended_while_the_cost_still_fell_is_judged_on_the_learning_side_only():
    falling = [1.0, 0.9, 0.8, 0.7, 0.6]
    monitor = ratios({"fc1": [1e-3, 2e-3, 5e-2, 5e-2, 5e-2]}, costs=falling)
    verdict, note = monitor.verdicts
    assert note.status == INFO and note.message.endswith("fc1 reached 5.0e-02 while the weights were still growing")
    assert verdict.status == PASS and verdict.message.endswith(
        "(medians 5.0e-02 … 5.0e-02 while the cost fell (the run ended while it still fell))")
    assert verdict.numbers["settled_steps"] == "no steps"
    monitor = ratios({"fc1": [1e-3, 2e-1, 2e-1, 2e-1, 2e-1]}, costs=falling)
    assert monitor.verdicts[0].message == ("lr too high for layer fc1: median 2.0e-01 > 1e-01 while the cost fell "
                                           "(steps 10–30)")


def test_out_of_band_layers_are_each_named_with_their_phase():
    monitor = ratios({"fc1": [5e-2] * 10, "fc2": [2e-5] * 10, "fc3": [1e-3] * 10})
    (verdict,) = monitor.verdicts
    assert verdict.status == WARN and verdict.message == (
        "lr too high for layer fc1: median 5.0e-02 > 1e-02 once the weights settled (steps 40–90); "
        "lr too low for layer fc2: median 2.0e-05 < 1e-04 while the cost fell (steps 10–30)")
    assert verdict.advice == "‖ΔW‖/‖W‖ should sit near 1e-3: scale the learning rate by about 1e-3 / median"
    nan = ratios({"fc1": [math.nan] * 10})
    assert nan.verdicts[0].message.startswith("lr too low for layer fc1: median nan")


def test_the_band_edges_themselves_are_inside():
    monitor = ratios({"fc1": [1e-4] * 4 + [1e-2] * 6, "fc2": [1e-1] * 4 + [1e-3] * 6})
    assert [v.status for v in monitor.verdicts] == [PASS, INFO]
    assert monitor.verdicts[1].message.endswith(": fc2 reached 1.0e-01 while the weights were still growing")


def test_readings_outside_the_band_where_expected_are_information():
    monitor = ratios({"conv1": [3e-3, 2e-3, 1.5e-3, 9e-4, 5e-4, 2e-4, 1e-4, 6e-5, 4e-5, 3e-5],
                      "fc3": [0.7, 0.08, 0.03, 0.012, 0.008, 0.006, 0.006, 0.006, 0.006, 0.006]})
    assert [v.status for v in monitor.verdicts] == [PASS, INFO]
    assert monitor.verdicts[1].message == ("outside the band only where that is expected: conv1 fell to 3.0e-05 as "
                                           "the cost flattened; fc3 reached 7.0e-01 while the weights were still "
                                           "growing")


def test_one_measurement_spans_one_step_and_no_measurement_gives_no_verdict():
    monitor = ratios({"fc1": [1e-3, 1e-3]}, costs=[1.0, 0.5])
    assert monitor.verdicts[0].numbers["learning_steps"] == "step 10"
    empty = UpdateRatio()
    empty.on_fit_end(trainer(), None)
    assert empty.verdicts == []


def test_the_update_ratio_history_rides_in_the_checkpoint():
    monitor = ratios({"fc1": [1e-3] * 10})
    state = monitor.state_dict()
    assert state == {"history": {"fc1": [1e-3] * 10}, "steps": monitor.steps, "costs": COSTS}
    resumed = UpdateRatio()
    resumed.load_state_dict(state)
    assert (resumed.history, resumed.steps, resumed.costs) == (state["history"], state["steps"], COSTS)
    old = UpdateRatio()
    old.load_state_dict({"history": {}, "steps": [0, 10]})
    assert len(old.costs) == 2 and all(math.isnan(c) for c in old.costs)


def gap(train, val, **options) -> TrainValGap:
    monitor = TrainValGap(num_classes=2, **options)
    for epoch, (t, v) in enumerate(zip(train, val, strict=True), start=1):
        monitor.observe(trainer(), epoch, t, v)
    return monitor


def test_memorising_is_named_when_val_stays_at_chance():
    monitor = gap([0.6, 0.8, 0.9, 0.95], [0.5, 0.55, 0.5, 0.52])
    (verdict,) = monitor.verdicts
    assert (verdict.status, verdict.message) == (
        WARN, "memorising: train reaches 0.90 while val stays at chance (0.50, chance 0.50) at epoch 3")
    assert "labels may not match" in verdict.advice and verdict.numbers["kind"] == "memorising"
    assert verdict.numbers["chance"] == 0.5 and verdict.numbers["low"] == 0.75 and verdict.epoch == 3
    monitor.observe(trainer(), 5, 0.95, 0.9)
    assert [v.status for v in monitor.verdicts] == [WARN, PASS]  # the all-clear when it ends


def test_flat_and_under_fitting_name_the_gain_over_the_window():
    under = gap([0.6] * 6, [0.6] * 6, flat_epochs=2).judge()[1]
    assert (under.status, under.message) == (
        WARN, "under-fitting: val 0.60 (< 0.75) gained +0.000 over 2 epochs, train 0.60 vs val 0.60 (gap 0.00), "
              "at epoch 6")
    assert under.advice.startswith("raise capacity")
    flat = gap([0.7] * 6, [0.6] * 6, flat_epochs=2).judge()[1]
    assert flat.message.startswith("accuracy flat and low: val 0.60 (< 0.75) gained +0.000 over 2 epochs")
    assert flat.advice.startswith("check the learning rate") and flat.numbers["kind"] == "flat"
    rising = gap([0.5, 0.55, 0.6], [0.5, 0.55, 0.6], flat_epochs=1).judge()[1]
    assert (rising.status, rising.message) == (
        PASS, "still learning: val 0.60 (< 0.75) was still rising at epoch 3, train 0.60 vs val 0.60 (gap 0.00)")
    assert gap([0.5, 0.55, 0.6], [0.5, 0.55, 0.6], flat_epochs=1).judge(final=True)[1].status == INFO


def test_the_gap_thresholds_are_strict():
    at_overfit = gap([0.9, 0.95, 0.95, 0.95], [0.9, 0.8, 0.8, 0.8]).judge()[1]  # gap 0.15: not above
    assert at_overfit.numbers["kind"] == "ok"
    gained = gap([0.6] * 3, [0.6, 0.6, 0.61], flat_epochs=2).judge()[1]  # +0.01 = flat_delta: not flat
    assert gained.numbers["kind"] == "learning"


def test_the_chance_measured_by_the_preflight_replaces_one_over_c():
    monitor = TrainValGap(num_classes=2)
    assert monitor.chance_level == 0.5
    monitor.chance = 0.8
    assert monitor.chance_level == 0.8 and monitor.low_threshold == pytest.approx(0.9)
    assert TrainValGap().chance_level == 0.0 and TrainValGap().low_threshold == 0.5


def test_the_gap_history_rides_in_the_checkpoint():
    monitor = gap([0.6, 0.8, 0.9], [0.6, 0.7, 0.8])
    state = monitor.state_dict()
    assert state == {"train_acc": [0.6, 0.8, 0.9], "val_acc": [0.6, 0.7, 0.8], "epochs": [1, 2, 3], "kind": "ok"}
    resumed = TrainValGap(num_classes=2)
    resumed.load_state_dict(state)
    assert resumed.state_dict() == state


def test_no_gap_verdict_at_fit_end_without_epochs():
    monitor = TrainValGap(num_classes=2)
    monitor.on_fit_end(trainer(), None)
    assert monitor.verdicts == []
    monitor = gap([0.6, 0.9], [0.6, 0.9])
    monitor.on_fit_end(trainer(), None)
    assert [v.status for v in monitor.verdicts] == [PASS]


def test_the_learning_phase_runs_until_most_of_the_decrease_is_done():
    assert learning_phase(COSTS) == [1, 2, 3]  # 0.05 is within 10 % of the decrease from 0.7 to 0.02
    assert learning_phase(COSTS, done=0.5) == [1, 2]
    assert learning_phase([1.0, 0.995, 0.996]) == [1, 2]  # barely moved: it never left the learning phase
    assert learning_phase([1.0, 0.98, 0.98], barely=0.05) == [1, 2]
    assert learning_phase([1.0, 0.98, 0.98], barely=0.01) == [1]
    assert learning_phase([0.5]) == [0] and learning_phase([]) == []
    assert learning_phase([math.nan, math.nan]) == [1]
    assert learning_phase([math.nan, 1.0, 0.5, 0.1, 0.1, 0.1]) == [1, 2, 3]  # starts from the first finite cost
    assert learning_phase([0.0, 0.0, 0.0]) == [1, 2] and learning_phase([-1.0, -2.0]) == [1]
    assert learning_phase([1.0, 0.1, 0.1, 0.1]) == [1]  # never less than one measurement after init
    assert learning_phase([1.0, 0.9, 0.8, 0.7]) == [1, 2]  # the end is the median of the last three


def test_the_settled_phase_is_what_follows_if_two_measurements_are_left():
    assert settled_phase(10, [1, 2, 3]) == [4, 5, 6, 7, 8, 9]
    assert settled_phase(6, [1, 2, 3]) == [4, 5] and settled_phase(5, [1, 2, 3]) == []
    assert settled_phase(3, []) == [0, 1, 2] and settled_phase(1, []) == []


def cost_run(first, last, epochs=3, barely=0.01) -> LossProgress:
    monitor = LossProgress(barely_changes=barely)
    monitor.first, monitor.last, monitor.epochs = first, last, epochs
    monitor.on_fit_end(trainer(epoch=epochs), None)
    return monitor


def test_a_cost_that_barely_moved_means_the_learning_rate_is_too_low():
    (flat,) = cost_run(2.0, 1.99).verdicts
    assert (flat.check, flat.status, flat.message) == (
        "loss_progress", WARN, "cost 2.000000 → 1.990000 over 3 epoch(s) (-0.50%): barely changes → learning rate "
                               "too low")
    assert flat.numbers == {"first_cost": 2.0, "last_epoch_cost": 1.99, "relative_change": pytest.approx(-0.005),
                            "epochs": 3}
    assert "optimizer.lr" in flat.advice and flat.epoch == 3
    (fell,) = cost_run(2.0, 0.5).verdicts
    assert (fell.status, fell.message) == (PASS, "cost 2.000000 → 0.500000 over 3 epoch(s) (-75.00%)")
    assert cost_run(2.0, 1.98).verdicts[0].status == PASS  # 1 % is the threshold itself
    assert cost_run(0.0, 0.0).verdicts[0].status == WARN
    assert cost_run(None, 1.0).verdicts == [] and cost_run(1.0, None).verdicts == []
    assert cost_run(math.inf, 1.0).verdicts == [] and cost_run(1.0, math.nan).verdicts == []


def test_the_cost_progress_reads_the_first_step_and_each_epochs_logged_cost():
    monitor = LossProgress()
    t = trainer()
    monitor.on_train_batch_end(t, None, None, None, 0)
    assert monitor.first is None
    monitor.on_train_batch_end(t, None, torch.tensor(2.0), None, 0)
    monitor.on_train_batch_end(t, None, torch.tensor(9.0), None, 1)
    t.callback_metrics = {"train/loss": torch.tensor(1.5)}
    monitor.on_train_epoch_end(t, None)
    t.callback_metrics = {}
    monitor.on_train_epoch_end(t, None)  # nothing logged: not an epoch of cost
    assert monitor.state_dict() == {"first": 2.0, "last": 1.5, "epochs": 1}
    resumed = LossProgress()
    resumed.load_state_dict(monitor.state_dict())
    assert resumed.state_dict() == monitor.state_dict()


def grads_run(mean_abs: dict, norms: dict, costs=COSTS, **options) -> WeightGradStats:
    monitor = WeightGradStats(**options)
    monitor.history = {"weight_norm": {n: [1.0] * len(costs) for n in mean_abs}, "grad_norm": norms,
                       "grad_mean_abs": mean_abs}
    monitor.steps, monitor.costs = list(range(len(costs))), list(costs)
    monitor.on_fit_end(trainer(step=9, epoch=2), None)
    return monitor


def test_healthy_gradients_pass_with_their_range():
    norms = {"fc1": [0.5] * 10, "fc2": [1.5] * 9 + [2.5]}
    (verdict,) = grads_run({"fc1": [1e-3] * 10, "fc2": [2e-2] * 10}, norms).verdicts
    assert (verdict.check, verdict.status, verdict.message) == (
        "gradients", PASS, "gradients healthy in all 2 layers: median mean |grad| 1.0e-03 … 2.0e-02, grad norm ≤ 2.5")
    assert verdict.numbers == {"median_grad_mean_abs": {"fc1": 1e-3, "fc2": 2e-2},
                               "max_grad_norm": {"fc1": 0.5, "fc2": 2.5}}


def test_vanishing_gradients_are_judged_while_the_cost_fell():
    small_late = [1e-3] * 4 + [1e-9] * 6  # a converged layer: tiny only after the learning phase
    assert grads_run({"fc1": small_late}, {"fc1": [1.0] * 10}).verdicts[0].status == PASS
    (verdict,) = grads_run({"fc1": [1e-9] * 10, "fc2": [1e-3] * 10}, {"fc1": [1.0] * 10, "fc2": [1.0] * 10}).verdicts
    assert (verdict.check, verdict.status, verdict.message) == (
        "vanishing_gradients", WARN, "vanishing gradients in fc1: median mean |grad| 1.0e-09 < 1e-07 while the cost "
                                     "should fall")
    assert verdict.numbers == {"median_grad_mean_abs": {"fc1": 1e-9}, "threshold": 1e-7}
    assert "model.init=kaiming" in verdict.advice and (verdict.epoch, verdict.step) == (2, 9)
    assert grads_run({"fc1": [1e-7] * 10}, {"fc1": [1.0] * 10}).verdicts[0].status == PASS  # the threshold itself


def test_exploding_gradients_are_judged_at_any_step_and_nan_counts():
    (verdict,) = grads_run({"fc1": [1e-3] * 10}, {"fc1": [1.0] * 9 + [5e3]}).verdicts
    assert (verdict.check, verdict.status, verdict.message) == (
        "exploding_gradients", WARN, "exploding gradients in fc1: grad norm up to 5.0e+03 > 1e+03")
    assert verdict.numbers == {"max_grad_norm": {"fc1": 5e3}, "threshold": 1e3} and "clip" in verdict.advice
    nan = grads_run({"fc1": [1e-3] * 10}, {"fc1": [1.0] * 9 + [math.nan]}).verdicts[0]
    assert nan.message == "exploding gradients in fc1: grad norm up to nan > 1e+03"
    assert grads_run({"fc1": [1e-3] * 10}, {"fc1": [1e3] * 10}).verdicts[0].status == PASS
    both = grads_run({"fc1": [1e-9] * 10}, {"fc1": [5e3] * 10}).verdicts
    assert [v.check for v in both] == ["vanishing_gradients", "exploding_gradients"]
    empty = WeightGradStats()
    empty.on_fit_end(trainer(), None)
    assert empty.verdicts == []


def test_the_gradient_history_rides_in_the_checkpoint():
    monitor = grads_run({"fc1": [1e-3] * 10}, {"fc1": [1.0] * 10})
    state = monitor.state_dict()
    assert state["steps"] == list(range(10)) and state["costs"] == COSTS and state["histogram_epoch"] == -1
    resumed = WeightGradStats()
    resumed.load_state_dict(state)
    assert resumed.state_dict() == state
    old = WeightGradStats()
    old.load_state_dict({"history": state["history"], "steps": [0, 10]})
    assert len(old.costs) == 2 and old._histogram_epoch == -1


def test_a_monitor_built_without_arguments_judges_by_the_configs_numbers():
    conf = OmegaConf.load(Path(__file__).resolve().parents[1] / "conf" / "babysit" / "default.yaml")
    monitors = OmegaConf.to_container(conf.monitors)
    for name, cls in MONITORS.items():
        defaults = {k: p.default for k, p in inspect.signature(cls.__init__).parameters.items()
                    if p.default is not inspect.Parameter.empty}
        expected = {k: v for k, v in monitors[name].items() if k != "enabled"}
        if cls in WITH_INTERVAL:
            expected["interval"] = monitors["interval"]
        if cls in WITH_PHASE:
            expected["phase_done"] = monitors["phase_done"]
        assert {k: defaults[k] for k in expected} == expected, name


def test_a_fresh_explosion_monitor_reports_nothing_happened():
    stop = ExplosionStop()
    assert (stop.exploded, stop.reason, stop.step, stop.epoch, stop.initial) == (False, "", None, None, None)
    zero = ExplosionStop(factor=3.0)
    feed(zero, [0.0, 0.5, 0.7])  # a start at 0: no factor of it to exceed
    assert not zero.exploded
    feed(stop, [1.0, 4.0])
    assert stop.verdicts[0].advice == ("lower the learning rate (e.g. ÷10), check the data for NaN/inf and the loss "
                                       "for log(0)")
    healthy = ExplosionStop()
    feed(healthy, [1.0, 0.5])
    healthy.on_fit_end(trainer(), None)
    assert healthy.verdicts[0].check == "explosion"


def test_the_cost_progress_counts_epochs_and_needs_both_ends():
    monitor = LossProgress()
    t = trainer()
    t.callback_metrics = {"train/loss": torch.tensor(1.5)}
    monitor.on_train_epoch_end(t, None)
    monitor.on_train_epoch_end(t, None)
    assert monitor.epochs == 2
    half = LossProgress(barely_changes=0.5)
    half.first = 1.0
    half.on_fit_end(trainer(), None)  # no epoch's cost yet
    assert half.verdicts == []
    (verdict,) = cost_run(2.0, 1.0, barely=0.5).verdicts  # exactly the threshold: it moved
    assert (verdict.check, verdict.status, verdict.epoch) == ("loss_progress", PASS, 3)
    assert verdict.numbers == {"first_cost": 2.0, "last_epoch_cost": 1.0, "relative_change": -0.5, "epochs": 3}
    assert cost_run(2.0, 1.99).verdicts[0].advice == ("raise optimizer.lr (e.g. ×10), or run the preflight's lr "
                                                      "range test")


def test_histograms_are_taken_every_n_epochs_once_each():
    monitor = WeightGradStats(histogram_every_n_epochs=2)
    assert [monitor._histogram_due(e) for e in range(5)] == [True, False, True, False, True]
    monitor._histogram_epoch = 2
    assert not monitor._histogram_due(2) and monitor._histogram_due(4)
    assert not any(WeightGradStats(histogram_every_n_epochs=0)._histogram_due(e) for e in range(3))
    state = grads_run({"fc1": [1e-3] * 10}, {"fc1": [1.0] * 10}).state_dict()
    resumed = WeightGradStats()
    resumed.load_state_dict({**state, "histogram_epoch": 3})
    assert resumed._histogram_epoch == 3


def test_gradient_verdicts_name_every_layer_and_use_the_runs_phase_settings():
    two = grads_run({"fc1": [1e-9] * 10, "fc2": [1e-8] * 10}, {"fc1": [5e3] * 10, "fc2": [6e3] * 10}).verdicts
    assert two[0].message == ("vanishing gradients in fc1: median mean |grad| 1.0e-09 < 1e-07, fc2: median mean "
                              "|grad| 1.0e-08 < 1e-07 while the cost should fall")
    assert two[0].advice == "try kaiming init / batch norm / ReLU (model.init=kaiming, model.norm=batch)"
    assert two[1].message == ("exploding gradients in fc1: grad norm up to 5.0e+03 > 1e+03, fc2: grad norm up to "
                              "6.0e+03 > 1e+03")
    assert two[1].advice == "lower the learning rate, clip gradients (trainer.gradient_clip_val=1) or add batch norm"
    assert (two[1].epoch, two[1].step) == (2, 9)
    late = [1e-3] * 4 + [1e-9] * 6
    assert grads_run({"fc1": late}, {"fc1": [1.0] * 10}, barely_changes=0.99).verdicts[0].check == (
        "vanishing_gradients")  # a 97 % fall counts as barely moving: every measurement is judged
    early = [1e-3, 1e-9, 1e-3, 1e-3] + [1e-3] * 6
    assert grads_run({"fc1": early}, {"fc1": [1.0] * 10}, phase_done=0.3).verdicts[0].check == "vanishing_gradients"
    short = grads_run({"fc1": [1e-3] * 3, "fc2": [1e-3] * 10}, {"fc1": [1.0] * 3, "fc2": [1.0] * 10})
    assert short.verdicts[0].status == PASS  # a layer measured on fewer steps is judged on those


def test_the_cost_of_each_measured_step_is_kept_once():
    monitor = WeightGradStats()
    t = trainer()
    monitor.on_train_batch_end(t, None, torch.tensor(1.0), None, 0)
    assert monitor.costs == []
    monitor._measured = True
    monitor.on_train_batch_end(t, None, torch.tensor(2.0), None, 0)
    monitor.on_train_batch_end(t, None, torch.tensor(3.0), None, 1)
    assert monitor.costs == [2.0] and WeightGradStats()._measured is False
