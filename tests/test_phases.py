"""Monitors judge a reading in the phase where it means something: no under-fitting verdict in the
first epochs, small update ratios of a converged layer and large ones of a growing output layer are
information, a verdict that no longer holds gives no advice."""

from types import SimpleNamespace

from babysit.callbacks import TrainValGap, UpdateRatio
from babysit.callbacks.phase import learning_phase, settled_phase
from babysit.report.advice import next_steps
from babysit.verdict import INFO, PASS, WARN

TRAINER = SimpleNamespace(is_global_zero=True, current_epoch=0, global_step=0, loggers=[])


def gap_run(pairs, **options) -> TrainValGap:
    gap = TrainValGap(num_classes=2, **options)
    for epoch, (train, val) in enumerate(pairs, start=1):
        gap.observe(TRAINER, epoch, train, val)
    gap.on_fit_end(TRAINER, None)
    return gap


def test_the_first_epochs_are_not_called_under_fitted():
    gap = gap_run([(0.55, 0.6), (0.7, 0.72), (0.85, 0.83), (0.95, 0.93), (1.0, 0.97)])
    assert [v.status for v in gap.verdicts] == [PASS]


def test_a_short_run_still_rising_is_told_to_train_longer():
    gap = gap_run([(0.55, 0.6), (0.62, 0.66)])
    (final,) = gap.verdicts
    assert final.status == INFO and "still learning" in final.message and "train longer" in final.advice


def test_val_at_chance_while_train_climbs_is_memorising():
    gap = gap_run([(0.5, 0.5), (0.6, 0.48), (0.75, 0.52), (0.9, 0.5), (0.98, 0.49)])
    kinds = [v.numbers["kind"] for v in gap.verdicts]
    assert kinds[0] == "memorising" and gap.verdicts[-1].status == WARN
    assert "labels may not match" in gap.verdicts[-1].advice


def test_overfitting_and_flat_low_accuracy_are_warnings_after_the_warmup():
    over = gap_run([(0.7, 0.65), (0.85, 0.7), (0.95, 0.72), (1.0, 0.74)])
    assert over.verdicts[-1].numbers["kind"] == "overfitting" and over.verdicts[-1].status == WARN
    flat = gap_run([(0.5, 0.5)] * 8)
    assert flat.verdicts[-1].numbers["kind"] == "underfitting" and flat.verdicts[-1].status == WARN


def test_the_learning_phase_ends_when_most_of_the_decrease_is_done():
    costs = [2.3, 1.5, 0.9, 0.5, 0.3, 0.25, 0.22, 0.21, 0.2, 0.2]
    assert learning_phase(costs) == [1, 2, 3, 4]  # 0.3 is the first within 10 % of the decrease 2.3 → 0.2
    assert learning_phase([1.0, 0.999, 1.0, 0.998]) == [1, 2, 3]  # barely moved: it never left it
    assert settled_phase(10, [1, 2, 3, 4]) == [5, 6, 7, 8, 9]
    assert settled_phase(4, [1, 2, 3]) == []  # the cost still fell when the run ended


def ratio_run(history: dict, costs: list[float]) -> UpdateRatio:
    monitor = UpdateRatio(interval=10)
    monitor.steps = [10 * i for i in range(len(costs))]
    monitor.history, monitor.costs = history, costs
    monitor.on_fit_end(TRAINER, None)
    return monitor


def test_a_growing_head_and_a_converged_layer_are_information():
    costs = [0.7, 0.4, 0.15, 0.05, 0.03, 0.02, 0.02, 0.02, 0.02, 0.02]
    head = [0.7, 0.08, 0.03, 0.012, 0.008, 0.006, 0.006, 0.006, 0.006, 0.006]
    conv = [3e-3, 2e-3, 1.5e-3, 9e-4, 5e-4, 2e-4, 1e-4, 6e-5, 4e-5, 3e-5]
    monitor = ratio_run({"conv1": conv, "fc3": head}, costs)
    assert [v.status for v in monitor.verdicts] == [PASS, INFO]
    assert "conv1 fell to" in monitor.verdicts[1].message and "fc3 reached" in monitor.verdicts[1].message


def test_a_layer_out_of_band_in_its_phase_is_a_warning():
    costs = [0.7, 0.4, 0.15, 0.05, 0.03, 0.02, 0.02, 0.02, 0.02, 0.02]
    monitor = ratio_run({"fc1": [5e-2] * 10, "fc2": [2e-5] * 10}, costs)
    (verdict,) = monitor.verdicts
    assert verdict.status == WARN
    assert "lr too high for layer fc1" in verdict.message and "lr too low for layer fc2" in verdict.message


def test_advice_comes_from_the_verdicts_that_still_hold():
    summary = {"status": "finished", "preflight": {"checks": []}, "monitors": {"verdicts": [
        {"check": "train_val_gap", "status": WARN, "advice": "raise capacity", "epoch": 1},
        {"check": "train_val_gap", "status": PASS, "advice": "", "epoch": 30},
        {"check": "dead_units", "status": WARN, "advice": "lower the learning rate", "epoch": 3},
        {"check": "dead_units", "status": WARN, "advice": "lower the learning rate", "epoch": None},
    ]}}
    steps = next_steps(summary)
    assert not any("raise capacity" in s for s in steps)
    assert any("lower the learning rate" in s for s in steps)
