"""The search plan from a preflight summary: the exact ranges, epochs per trial, scoring and the lines that say why."""

import math

import pytest
from omegaconf import OmegaConf

from babysit.errors import BabysitError
from babysit.search.plan import LR, REG, Plan, fallback, given, lr_range, make_plan, reg_range, scoring, trial_epochs

SWEEPER = "conf/hparams_search/coarse_to_fine.yaml"


def summary(*checks: dict, train=None, val=None, batch=None) -> dict:
    """Shaped like the preflight's summary: its checks, the split sizes and the hparams."""
    out = {"preflight": {"checks": list(checks)}, "data": {"sizes": {}}, "hparams": {}}
    if train is not None:
        out["data"]["sizes"]["train"] = train
    if val is not None:
        out["data"]["sizes"]["val"] = val
    if batch is not None:
        out["hparams"]["data/batch_size"] = batch
    return out


def check(name: str, **numbers) -> dict:
    return {"check": name, "status": "PASS", "message": "", "numbers": numbers}


def lr_check(low=1e-3, high=1e-1):
    return check("lr_range", low=low, high=high)


def reg_check(loss=2.0, weights=50.0):
    return check("reg_up", loss_reg_off=loss, weights_sq=weights)


def overfit_check(reached):
    return check("overfit_tiny", reached_epoch=reached)


def balance_check(train, val):
    return check("class_balance", counts={"train": train, "val": val})


# the learning rate


def test_the_lr_range_is_the_range_tests_range_widened_on_each_side():
    s = summary(check("initial_loss"), lr_check(2e-3, 5e-2))
    found, source, warning = lr_range(s, {"type": "log", "low": 1, "high": 2}, widen=4.0)
    assert found == {"type": "log", "low": pytest.approx(2e-3 / 4), "high": pytest.approx(5e-2 * 4)}
    assert source == "range test: the loss falls from 2.0e-03 to 5.0e-02, widened ×4 on each side"
    assert warning is None


def test_a_widening_of_2_5_prints_as_it_is():
    _, source, _ = lr_range(summary(lr_check(1e-4, 1e-2)), None, widen=2.5)
    assert source == "range test: the loss falls from 1.0e-04 to 1.0e-02, widened ×2.5 on each side"


@pytest.mark.parametrize(("checks", "why"), [
    ([check("lr_range")], "the range test found no usable range"),
    ([{"check": "lr_range", "status": "WARN", "message": "", "numbers": None}], "the range test found no usable range"),
    ([check("lr_range", high=0.1)], "the range test found no usable range"),
    ([check("initial_loss", low=1e-3, high=1e-1)], "the range test did not run"),
    ([], "the range test did not run"),
])
def test_without_a_measured_range_the_configured_one_is_kept_with_a_warning(checks, why):
    configured = {"type": "log", "low": 1e-5, "high": 1.0}
    found, source, warning = lr_range(summary(*checks), configured, widen=3.0)
    assert found is configured
    assert source == f"configured ({why})"
    assert warning == f"{why}: the learning rate is searched in its configured range"


@pytest.mark.parametrize("s", [{}, {"preflight": None}, {"preflight": {}}, {"preflight": {"checks": []}}])
def test_a_summary_without_checks_means_the_range_test_did_not_run(s):
    warning = "the range test did not run: the learning rate is searched in its configured range"
    assert lr_range(s, None, 3.0) == (None, "configured (the range test did not run)", warning)


def test_the_first_check_of_the_name_is_the_one_read():
    s = summary(check("reg_up"), lr_check(1e-3, 1e-2), lr_check(1e-1, 1.0))
    found, _, _ = lr_range(s, None, 1.0)
    assert (found["low"], found["high"]) == (1e-3, 1e-2)


# the regularisation


def test_the_reg_top_is_where_the_penalty_at_init_reaches_a_share_of_the_data_loss():
    s = summary(lr_check(), reg_check(loss=2.5, weights=40.0))
    found, source, warning = reg_range(s, None, decades=3.0, top_share=0.5)
    top = 0.5 * 2 * 2.5 / 40.0  # ½·l2·Σw² = 0.5 × loss
    assert 0.5 * top * 40.0 == pytest.approx(0.5 * 2.5)
    assert found == {"type": "log", "low": pytest.approx(top / 1e3), "high": pytest.approx(top)}
    assert source == ("at init ½·l2·Σw² (Σw² = 40) reaches 0.5 × the data loss 2.5000 at l2 = 6.25e-02; "
                      "searched 3 decades below that")
    assert warning is None


def test_the_reg_line_rounds_the_sum_of_squares_to_four_digits():
    _, source, _ = reg_range(summary(reg_check(loss=1.23456, weights=123.456)), None, decades=2.5, top_share=1.5)
    top = 1.5 * 2 * 1.23456 / 123.456
    assert source == (f"at init ½·l2·Σw² (Σw² = 123.5) reaches 1.5 × the data loss 1.2346 at l2 = {top:.2e}; "
                      "searched 2.5 decades below that")


@pytest.mark.parametrize("numbers", [
    {}, {"weights_sq": 10.0}, {"loss_reg_off": 1.0}, {"loss_reg_off": 0.0, "weights_sq": 10.0},
    {"loss_reg_off": 1.0, "weights_sq": 0.0}, {"loss_reg_off": 1.0, "weights_sq": -1.0},
    {"loss_reg_off": math.inf, "weights_sq": 10.0}, {"loss_reg_off": math.nan, "weights_sq": 10.0},
])
def test_without_a_usable_measurement_the_reg_range_is_the_configured_one(numbers):
    configured = {"type": "log", "low": 1e-5, "high": 1e5}
    found, source, warning = reg_range(summary(check("reg_up", **numbers)), configured, 4, 1.0)
    assert found is configured
    assert (source, warning) == ("configured (no measurement of the weights at init)", None)


@pytest.mark.parametrize("s", [{}, summary(), summary(lr_check()),
                               summary({"check": "reg_up", "status": "WARN", "message": "", "numbers": None})])
def test_no_reg_check_keeps_the_configured_reg_range(s):
    assert reg_range(s, None, 4, 1.0) == (None, "configured (no measurement of the weights at init)", None)


def test_small_weights_still_give_a_range():
    found, _, _ = reg_range(summary(reg_check(loss=0.5, weights=0.25)), None, decades=1, top_share=1.0)
    assert found["high"] == pytest.approx(4.0) and found["low"] == pytest.approx(0.4)


# the epochs per trial


def test_a_coarse_trial_gets_factor_times_the_overfit_steps_in_epochs():
    s = summary(overfit_check(30), train=1000, batch=64)  # 16 steps an epoch
    coarse, fine, how = trial_epochs(s, factor=4, min_epochs=3, final_epochs=40)
    assert math.ceil(1000 / 64) == 16 and math.ceil(4 * 30 / 16) == 8
    assert (coarse, fine) == (8, 16)
    assert how == ("the overfit check needed 30 steps to reach train acc 1.00; a coarse trial gets 4 × that = 120 "
                   "steps = 8 epochs of 16 steps (at least 3, at most half the final 40); a fine trial twice that (16)")


def test_a_fractional_factor_rounds_the_epochs_up():
    s = summary(overfit_check(15), train=100, batch=10)
    coarse, fine, how = trial_epochs(s, factor=2.5, min_epochs=1, final_epochs=100)
    assert (coarse, fine) == (4, 8)  # 37.5 steps / 10 per epoch
    assert "gets 2.5 × that = 37.5 steps = 4 epochs of 10 steps (at least 1, at most half the final 100)" in how


def test_the_coarse_epochs_are_at_least_the_minimum():
    coarse, fine, _ = trial_epochs(summary(overfit_check(2), train=640, batch=64), 4, min_epochs=3, final_epochs=40)
    assert (coarse, fine) == (3, 6)


def test_the_coarse_epochs_are_at_most_half_the_final_and_the_fine_at_most_the_final():
    s = summary(overfit_check(500), train=100, batch=10)
    assert trial_epochs(s, 4, min_epochs=3, final_epochs=21)[:2] == (10, 20)
    assert trial_epochs(s, 4, min_epochs=3, final_epochs=5)[:2] == (3, 5)  # min wins over half the final
    assert trial_epochs(s, 4, min_epochs=3, final_epochs=2)[:2] == (3, 2)


def test_exactly_half_the_final_is_allowed():
    s = summary(overfit_check(50), train=100, batch=10)  # 4 × 50 / 10 = 20 epochs
    assert trial_epochs(s, 4, 3, final_epochs=40)[:2] == (20, 40)
    assert trial_epochs(s, 4, 3, final_epochs=41)[:2] == (20, 40)
    assert trial_epochs(s, 4, 3, final_epochs=39)[:2] == (19, 38)


@pytest.mark.parametrize(("data", "hparams", "per_epoch"), [
    (None, None, 1), ({}, {}, 1), ({"sizes": None}, {"data/batch_size": None}, 1), ({"sizes": {}}, {}, 1),
    ({"sizes": {"train": 10}}, {}, 10), ({"sizes": {"train": 0}}, {"data/batch_size": 8}, 1),
    ({"sizes": {"train": 17}}, {"data/batch_size": 8}, 3), ({"sizes": {"train": 16}}, {"data/batch_size": 8}, 2),
    ({"sizes": {"val": 50}}, {"data/batch_size": 8}, 1),
])
def test_the_steps_per_epoch_come_from_the_train_size_and_batch(data, hparams, per_epoch):
    s = {"preflight": {"checks": [overfit_check(24)]}, "data": data, "hparams": hparams}
    coarse, _, how = trial_epochs(s, factor=1, min_epochs=1, final_epochs=1000)
    assert coarse == math.ceil(24 / per_epoch)
    assert f"epochs of {per_epoch} steps" in how


@pytest.mark.parametrize("checks", [[overfit_check(0)], [overfit_check(None)], [check("overfit_tiny")], [],
                                    [{"check": "overfit_tiny", "status": "FAIL", "message": "", "numbers": None}]])
def test_an_overfit_check_that_never_reached_acc_1_gives_a_quarter_of_the_final(checks):
    coarse, fine, how = trial_epochs(summary(*checks, train=100, batch=10), 4, min_epochs=3, final_epochs=40)
    assert (coarse, fine) == (10, 20)
    assert how == ("the overfit check did not reach train acc 1.00: a quarter of the final 40 epochs; "
                   "a fine trial twice that (20)")


def test_a_quarter_of_a_short_final_is_raised_to_the_minimum():
    assert trial_epochs(summary(), 4, min_epochs=3, final_epochs=11)[:2] == (3, 6)
    assert trial_epochs(summary(), 4, min_epochs=3, final_epochs=13)[:2] == (3, 6)
    assert trial_epochs(summary(), 4, min_epochs=3, final_epochs=5)[:2] == (3, 5)


def test_the_overfit_check_is_found_among_others():
    s = summary(lr_check(), check("reg_up"), overfit_check(20), train=10, batch=10)
    assert trial_epochs(s, 1, 1, 100)[:2] == (20, 40)


# the scoring of the fine trials


def test_a_large_val_split_scores_on_it():
    assert scoring(summary(val=200), examples=200, folds=3) == (0, "the val split holds 200 examples: fine trials "
                                                                    "are scored on it")


def test_a_small_val_split_is_cross_validated():
    folds, why = scoring(summary(balance_check([40, 50], [9, 11]), val=20), examples=200, folds=3)
    assert folds == 3
    assert why == ("the val split holds 20 examples (< 200): one example is 0.050 of accuracy, so fine trials are "
                   "scored by 3-fold cross-validation on train + val")


def test_two_folds_are_enough_to_cross_validate_and_one_is_none():
    assert scoring(summary(val=8), examples=200, folds=2)[0] == 2
    assert scoring(summary(val=8), examples=200, folds=1) == (0, "the val split holds 8 examples: fine trials are "
                                                                 "scored on it")
    assert scoring(summary(val=8), examples=200, folds=0)[0] == 0


def test_a_split_one_below_the_examples_is_small():
    assert scoring(summary(val=199), examples=200, folds=3)[0] == 3
    assert scoring(summary(val=201), examples=200, folds=3)[0] == 0


@pytest.mark.parametrize("s", [{}, {"data": None}, {"data": {"sizes": None}}, summary(train=100)])
def test_an_unknown_val_size_is_zero(s):
    folds, why = scoring(s, examples=200, folds=3)
    assert folds == 3
    assert why.startswith("the val split holds 0 examples (< 200): one example is 1.000 of accuracy, ")


def test_more_folds_than_the_smallest_pooled_class_is_an_error():
    s = summary(balance_check([5, 2, 9], [1, 1, 0]), val=2)
    with pytest.raises(BabysitError) as error:
        scoring(s, examples=200, folds=4)
    assert str(error.value) == ("hydra.sweeper.small_val.folds=4 is larger than the smallest class (3 examples in "
                                "train+val): use 3 or fewer")
    assert scoring(s, examples=200, folds=3)[0] == 3  # exactly the smallest class is fine


def test_a_class_with_one_example_is_told_to_use_two_folds():
    with pytest.raises(BabysitError, match=r"\(1 examples in train\+val\): use 2 or fewer$"):
        scoring(summary(balance_check([1, 7], [0, 2]), val=2), examples=200, folds=2)


def test_the_class_sizes_do_not_matter_with_a_large_split_or_without_cv():
    s = summary(balance_check([1, 1], [0, 0]), val=500)
    assert scoring(s, examples=200, folds=3)[0] == 0
    at_the_limit = summary(balance_check([1, 1], [0, 0]), val=200)
    assert scoring(at_the_limit, examples=200, folds=3) == (0, "the val split holds 200 examples: fine trials are "
                                                               "scored on it")
    assert scoring(summary(balance_check([1, 1], [0, 0]), val=5), examples=200, folds=0)[0] == 0


@pytest.mark.parametrize("counts", [{}, {"train": [1, 1]}, {"val": [1, 1]}, {"train": [1, 1], "val": []}])
def test_counts_of_one_split_only_raise_nothing(counts):
    s = summary(check("class_balance", counts=counts), val=2)
    assert scoring(s, examples=200, folds=3)[0] == 3


def test_unequal_class_lists_pool_the_classes_both_have():
    s = summary(balance_check([10, 10, 1], [1, 1]), val=2)
    assert scoring(s, examples=200, folds=3)[0] == 3
    with pytest.raises(BabysitError, match="smallest class \\(11 examples"):
        scoring(s, examples=200, folds=12)


def test_class_counts_missing_or_empty_raise_nothing():
    for c in (check("class_balance"), check("class_balance", counts=None),
              {"check": "class_balance", "status": "PASS", "message": "", "numbers": None}):
        assert scoring(summary(c, val=2), examples=200, folds=3)[0] == 3


# given bounds and fallbacks


@pytest.mark.parametrize(("spec", "expected"), [
    (None, False), ({}, False), ({"type": "log"}, False), ({"type": "log", "low": 1e-3}, False),
    ({"type": "log", "high": 1.0}, False), ({"type": "log", "low": None, "high": 1.0}, False),
    ({"type": "log", "low": 1e-3, "high": None}, False), ({"type": "log", "low": 1e-3, "high": 1.0}, True),
    ({"type": "uniform", "low": 0, "high": 0}, True), ({"type": "choice", "choices": [1, 2]}, True),
    ({"type": "choice"}, True), ({"low": 1, "high": 2}, True),
])
def test_given_means_both_bounds_or_a_choice(spec, expected):
    assert given(spec) is expected


@pytest.mark.parametrize(("spec", "expected"), [
    (None, None), ({}, None), ({"type": "log"}, None), ({"fallback": []}, None), ({"fallback": None}, None),
    ({"fallback": [1e-5, 1e5]}, {"type": "log", "low": 1e-5, "high": 1e5}),
    ({"type": "uniform", "fallback": [0.0, 0.5]}, {"type": "uniform", "low": 0.0, "high": 0.5}),
])
def test_the_fallback_is_the_configured_pair_with_its_type(spec, expected):
    assert fallback(spec) == expected


# the whole plan


def settings(widen=3.0, decades=4, top_share=1.0, factor=4, min_epochs=3, examples=200, folds=3) -> dict:
    return {"widen": widen, "reg": {"decades": decades, "top_share": top_share},
            "budget": {"factor": factor, "min_epochs": min_epochs}, "small_val": {"examples": examples, "folds": folds}}


def test_the_configured_plan_settings_are_the_ones_these_tests_default_to():
    plan = OmegaConf.to_container(OmegaConf.load(SWEEPER).hydra.sweeper.plan)
    assert plan == settings()


def full_summary() -> dict:
    return summary(check("initial_loss"), lr_check(1e-3, 1e-1), reg_check(loss=2.0, weights=50.0),
                   overfit_check(30), balance_check([40, 40], [10, 10]), train=1000, val=20, batch=64)


OPEN = {LR: {"type": "log", "low": None, "high": None}, REG: {"type": "log", "low": None, "high": None,
                                                             "fallback": [1e-5, 1e5]}}


def test_a_plan_measures_the_open_ranges_and_keeps_the_given_ones():
    configured = {**OPEN, "model.width": {"type": "choice", "choices": [16, 32]},
                  "model.dropout": {"type": "uniform", "low": 0.0, "high": 0.5}}
    plan = make_plan(full_summary(), configured, settings(widen=2.0, decades=3, top_share=0.5, factor=2,
                                                           min_epochs=1, examples=100, folds=4),
                     ["coarse", "mid", "fine"], final_epochs=30)
    top = 0.5 * 2 * 2.0 / 50.0
    assert plan.params == {
        "model.width": {"type": "choice", "choices": [16, 32]},
        "model.dropout": {"type": "uniform", "low": 0.0, "high": 0.5},
        LR: {"type": "log", "low": pytest.approx(5e-4), "high": pytest.approx(0.2)},
        REG: {"type": "log", "low": pytest.approx(top / 1e3), "high": pytest.approx(top)},
    }
    assert list(plan.params) == ["model.width", "model.dropout", LR, REG]
    assert plan.sources == {
        "model.width": "configured", "model.dropout": "configured",
        LR: "range test: the loss falls from 1.0e-03 to 1.0e-01, widened ×2 on each side",
        REG: ("at init ½·l2·Σw² (Σw² = 50) reaches 0.5 × the data loss 2.0000 at l2 = 4.00e-02; "
              "searched 3 decades below that"),
    }
    coarse = math.ceil(2 * 30 / 16)
    assert plan.epochs == {"coarse": coarse, "mid": 2 * coarse, "fine": 2 * coarse}
    assert plan.budget == trial_epochs(full_summary(), 2, 1, 30)[2]
    assert plan.budget.startswith("the overfit check needed 30 steps to reach train acc 1.00; a coarse trial gets 2 ×")
    assert (plan.cv_folds, plan.scoring) == scoring(full_summary(), 100, 4)
    assert plan.cv_folds == 4 and plan.warnings == []


def test_the_plan_as_a_dict_holds_every_field():
    plan = make_plan(full_summary(), dict(OPEN), settings(), ["coarse", "fine"], final_epochs=40)
    assert plan.as_dict() == {"params": plan.params, "sources": plan.sources, "epochs": {"coarse": 8, "fine": 16},
                              "budget": plan.budget, "cv_folds": 3, "scoring": plan.scoring, "warnings": []}
    assert Plan({}, {}, {}, "", 0, "").warnings == []


def test_open_ranges_after_given_ones_are_measured_too():
    configured = {"model.dropout": {"type": "uniform", "low": 0.0, "high": 0.5}, **OPEN,
                  "model.width": {"type": "choice", "choices": [16, 32]}}
    plan = make_plan(full_summary(), configured, settings(), ["coarse"], final_epochs=40)
    assert list(plan.params) == ["model.dropout", "model.width", LR, REG]
    assert plan.sources[LR].startswith("range test: ") and plan.sources[REG].startswith("at init ")


def test_a_measured_range_keeps_the_configured_type():
    configured = {LR: {"type": "uniform", "low": None, "high": None}, REG: {"low": None, "high": None}}
    plan = make_plan(full_summary(), configured, settings(), ["coarse"], final_epochs=40)
    assert plan.params[LR]["type"] == "uniform" and plan.params[REG]["type"] == "log"
    assert plan.params[LR]["low"] == pytest.approx(1e-3 / 3)


def test_without_a_range_test_the_lr_falls_back_with_a_warning():
    s = full_summary()
    s["preflight"]["checks"] = [c for c in s["preflight"]["checks"] if c["check"] != "lr_range"]
    configured = {LR: {"type": "log", "low": None, "high": None, "fallback": [1e-4, 1.0]}}
    plan = make_plan(s, configured, settings(), ["coarse", "fine"], final_epochs=40)
    assert plan.params == {LR: {"type": "log", "low": 1e-4, "high": 1.0}}
    assert plan.sources == {LR: "configured (the range test did not run)"}
    assert plan.warnings == ["the range test did not run: the learning rate is searched in its configured range"]


def test_the_reg_falls_back_silently():
    s = full_summary()
    s["preflight"]["checks"] = [c for c in s["preflight"]["checks"] if c["check"] != "reg_up"]
    plan = make_plan(s, {REG: OPEN[REG]}, settings(), ["coarse"], final_epochs=40)
    assert plan.params == {REG: {"type": "log", "low": 1e-5, "high": 1e5}}
    assert plan.sources == {REG: "configured (no measurement of the weights at init)"} and plan.warnings == []


def test_an_open_range_nothing_measured_and_without_fallback_is_an_error():
    s = summary(overfit_check(30), train=100, batch=10)
    with pytest.raises(BabysitError) as error:
        make_plan(s, {LR: {"type": "log", "low": None, "high": None}}, settings(), ["coarse"], 40)
    assert str(error.value) == (f"search param {LR}: nothing measured it and it has no fallback: give low and high")


def test_an_open_range_of_another_key_is_an_error():
    with pytest.raises(BabysitError) as error:
        make_plan(full_summary(), {"model.dropout": {"type": "uniform", "low": 0.1}}, settings(), ["coarse"], 40)
    assert str(error.value) == (f"search param model.dropout: give low and high (only {LR} and {REG} are measured)")


def test_a_small_split_with_few_examples_of_a_class_stops_the_plan():
    s = full_summary()
    s["preflight"]["checks"][-1] = balance_check([2, 40], [0, 10])
    with pytest.raises(BabysitError, match="folds=3 is larger than the smallest class"):
        make_plan(s, dict(OPEN), settings(), ["coarse"], 40)


def test_a_plan_with_one_stage_and_no_overfit_reading():
    s = full_summary()
    s["preflight"]["checks"] = [c for c in s["preflight"]["checks"] if c["check"] != "overfit_tiny"]
    plan = make_plan(s, {}, settings(min_epochs=2), ["only"], final_epochs=20)
    assert plan.params == {} and plan.sources == {}
    assert plan.epochs == {"only": 5}
    assert plan.budget == ("the overfit check did not reach train acc 1.00: a quarter of the final 20 epochs; "
                           "a fine trial twice that (10)")
