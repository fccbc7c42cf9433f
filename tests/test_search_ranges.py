"""Search ranges: how a config entry becomes a range, where a value lies in it, and the exact
range the next stage gets from the top trials of this one."""

import math

import optuna.distributions as od
import pytest

from babysit.errors import BabysitError
from babysit.search.space import Param, narrow

LR = Param("optimizer.lr", "log", 1e-6, 1e-3)
DROP = Param("model.dropout", "uniform", 0.0, 0.8)
WIDTH = Param("model.width", "int", 8, 64)


def test_each_kind_of_range_is_read_from_the_config():
    assert Param.from_config("optimizer.lr", {"type": "log", "low": 1e-6, "high": 1e-3}) == LR
    assert Param.from_config("model.dropout", {"type": "uniform", "low": 0, "high": 0.8}) == DROP
    assert Param.from_config("model.width", {"type": "int", "low": 8, "high": 64}) == WIDTH
    assert Param.from_config("model.norm", {"type": "choice", "choices": ["none", "batch"]}) == Param(
        "model.norm", "choice", choices=("none", "batch"))
    assert Param.from_config("model.norm", {"type": "choice", "choices": ["batch"]}).choices == ("batch",)
    assert Param.from_config("a", {"type": "log", "low": 1, "high": 2}).low == 1.0


@pytest.mark.parametrize(("spec", "message"), [
    ({"type": "logg", "low": 1, "high": 2}, "search param p: type='logg' must be one of log, uniform, int, choice"),
    ({"low": 1, "high": 2}, "search param p: type=None must be one of log, uniform, int, choice"),
    ({"type": "choice"}, "search param p: give choices: [a, b, …]"),
    ({"type": "choice", "choices": []}, "search param p: give choices: [a, b, …]"),
    ({"type": "log", "low": 2, "high": 2}, "search param p: need numbers low < high, got low=2 high=2"),
    ({"type": "log", "low": 3, "high": 2}, "search param p: need numbers low < high, got low=3 high=2"),
    ({"type": "uniform", "low": "a", "high": 2}, "search param p: need numbers low < high, got low='a' high=2"),
    ({"type": "uniform", "low": 0, "high": None}, "search param p: need numbers low < high, got low=0 high=None"),
    ({"type": "log", "low": 0, "high": 1}, "search param p: a log range needs low > 0, got 0"),
    ({"type": "log", "low": -1, "high": 1}, "search param p: a log range needs low > 0, got -1"),
])
def test_a_bad_range_is_named_in_one_line(spec, message):
    with pytest.raises(BabysitError) as error:
        Param.from_config("p", spec)
    assert str(error.value) == message


def test_a_uniform_range_may_start_at_zero_and_a_log_range_just_above():
    assert Param.from_config("p", {"type": "uniform", "low": -1, "high": 1}).low == -1.0
    assert Param.from_config("p", {"type": "log", "low": 1e-9, "high": 1}).low == 1e-9


def test_distributions_are_optunas_of_the_same_range():
    assert LR.distribution() == od.FloatDistribution(1e-6, 1e-3, log=True)
    assert DROP.distribution() == od.FloatDistribution(0.0, 0.8, log=False)
    assert Param("w", "int", 7.6, 64.4).distribution() == od.IntDistribution(8, 64)
    assert Param("n", "choice", choices=("a", "b")).distribution() == od.CategoricalDistribution(("a", "b"))


def test_position_is_measured_in_the_ranges_own_space():
    assert LR.position(1e-6) == 0 and LR.position(1e-3) == 1
    assert LR.position(1e-5) == pytest.approx(1 / 3) and LR.position(1e-4) == pytest.approx(2 / 3)
    assert DROP.position(0.2) == pytest.approx(0.25) and WIDTH.position(36) == pytest.approx(0.5)


def test_ranges_describe_themselves_as_the_lecture_writes_them():
    assert LR.describe() == "optimizer.lr = 10**U(-6.00, -3.00)"
    assert DROP.describe() == "model.dropout ∈ [0, 0.8]"
    assert Param("n", "choice", choices=("a", "b")).describe() == "n ∈ ['a', 'b']"
    assert LR.as_dict() == {"type": "log", "low": 1e-6, "high": 1e-3}
    assert Param("n", "choice", choices=("a", "b")).as_dict() == {"type": "choice", "choices": ["a", "b"]}


def decades(p: Param) -> tuple[float, float]:
    return math.log10(p.low), math.log10(p.high)


def test_inside_the_range_the_next_one_spans_the_top_trials_centred_on_the_best():
    n = narrow(LR, 1e-4, [1e-4, 1e-5, 3e-4], shrink=0.25, edge=0.1)
    assert n.warning is None  # the top trials span 1.48 decades: half-width 0.74 around the best (-4)
    low, high = decades(n.param)
    assert high - low == pytest.approx(math.log10(3e-4 / 1e-5)) and (low + high) / 2 == pytest.approx(-4)
    n = narrow(LR, 2e-5, [2e-5], shrink=0.25, edge=0.1)  # one trial: `shrink` of the old width
    assert decades(n.param) == pytest.approx((math.log10(2e-5) - 0.375, math.log10(2e-5) + 0.375))
    assert n.param.type == "log" and n.param.name == "optimizer.lr"


def test_inside_the_range_the_next_one_stays_inside_the_old_one():
    n = narrow(LR, 1.5e-6, [1.5e-6, 1e-4], shrink=0.25, edge=0.05)  # 6 % of the range: past the 5 % edge
    low, high = decades(n.param)
    half = math.log10(1e-4 / 1.5e-6) / 2
    assert n.warning is None and low == pytest.approx(-6) and high == pytest.approx(-6 + 2 * half)
    n = narrow(LR, 9e-4, [9e-4, 1e-5], shrink=0.25, edge=0.01)
    assert n.warning is None and decades(n.param)[1] == pytest.approx(-3)


def test_at_an_edge_the_next_range_is_recentred_past_it_with_a_warning():
    n = narrow(LR, 9.5e-4, [9.5e-4], shrink=0.25, edge=0.1)
    assert n.warning == ("best optimizer.lr = 0.00095 lies near the upper edge of [1e-06, 0.001] (99% of the "
                         "log-range): the next range is recentred on it and reaches past that edge")
    assert decades(n.param) == pytest.approx((math.log10(9.5e-4) - 0.375, math.log10(9.5e-4) + 0.375))
    n = narrow(DROP, 0.02, [0.02], shrink=0.5, edge=0.1)
    assert n.warning == ("best model.dropout = 0.02 lies near the lower edge of [0, 0.8] (2% of the range): the "
                         "next range is recentred on it and reaches past that edge")
    assert (n.param.low, n.param.high) == pytest.approx((-0.18, 0.22))


def test_the_edge_fraction_itself_counts_as_the_edge():
    unit = Param("p", "uniform", 0.0, 1.0)
    assert "lower edge" in narrow(unit, 0.1, [0.1], shrink=0.5, edge=0.1).warning
    assert "upper edge" in narrow(unit, 0.9, [0.9], shrink=0.5, edge=0.1).warning
    assert narrow(unit, 0.1001, [0.1001], shrink=0.5, edge=0.1).warning is None
    assert narrow(unit, 0.8999, [0.8999], shrink=0.5, edge=0.1).warning is None


def test_an_integer_range_rounds_outwards_and_a_choice_stays():
    n = narrow(WIDTH, 30, [30, 41], shrink=0.1, edge=0.05)  # 24.5 .. 35.5
    assert (n.param.low, n.param.high) == (24, 36) and n.param.type == "int"
    choice = Param("model.norm", "choice", choices=("none", "batch"))
    assert narrow(choice, "batch", ["batch"], 0.25, 0.1) == type(narrow(choice, "batch", [], 0.25, 0.1))(choice)
    assert narrow(LR, 1e-4, [], shrink=0.25, edge=0.1).param == narrow(LR, 1e-4, [1e-4], shrink=0.25, edge=0.1).param
