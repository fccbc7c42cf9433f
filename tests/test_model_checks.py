"""The model checks (batch independence, parameters learn, raw scores, reg balance, eval determinism, input
dependence) on a tiny probe, with the classic bugs planted in tiny models: exact statuses, numbers and lines."""

import copy
import math

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F
from omegaconf import OmegaConf

from babysit.preflight.model_checks import (
    _identical_rows,
    check_batch_independence,
    check_eval_determinism,
    check_input_dependence,
    check_parameters_learn,
    check_raw_scores,
    check_reg_balance,
)
from babysit.verdict import FAIL, INFO, PASS, WARN
from tests.test_preflight_logic import TinyProbe

DEFAULTS = OmegaConf.load("conf/babysit/default.yaml")


class ModelProbe(TinyProbe):
    """TinyProbe's data and loss around another model (built under seed 1)."""

    def __init__(self, make, **kwargs):
        super().__init__(**kwargs)
        torch.manual_seed(1)
        self.model = make()


class Linear(nn.Module):
    """A linear classifier of 4-d points into 3 classes, with a twist in `forward`."""

    def __init__(self):
        super().__init__()
        self.lin = nn.Linear(4, 3)

    def forward(self, x):
        return self.lin(x)


class SubtractsTheBatchMean(Linear):
    def forward(self, x):
        return self.lin(x - x.mean(0, keepdim=True))


class AddsItsNeighbour(Linear):
    def forward(self, x):
        return self.lin(x + x.roll(1, 0))  # example 0 reads the last example of the batch


class IgnoresItsInput(Linear):
    def forward(self, x):
        return self.lin.bias.expand(len(x), -1)


class Softmax(Linear):
    def forward(self, x):
        return self.lin(x).softmax(1)


class SoftmaxAtEvaluation(Linear):
    def forward(self, x):
        return self.lin(x) if self.training else self.lin(x).softmax(1)


class DropoutAlwaysOn(Linear):
    def forward(self, x):
        return self.lin(F.dropout(x, 0.5, training=True))


class Fixed(nn.Module):
    """Returns the same rows for every example, `drift` more on each call."""

    def __init__(self, row, drift=0.0):
        super().__init__()
        self.row, self.drift, self.calls = torch.tensor([row]), drift, 0
        self.dummy = nn.Parameter(torch.zeros(1))

    def forward(self, x):
        out = self.row.expand(len(x), -1) + self.calls * self.drift + 0 * self.dummy
        self.calls += 1
        return out


def own_gradient(probe) -> float:
    """|∂(Σ scores₀)/∂x₀| at its largest for the linear model: the column sums of the weight."""
    return float(probe.model.lin.weight.detach().sum(0).abs().max())


# ---------------------------------------------------------------- batch independence


def test_a_model_that_keeps_examples_apart_passes():
    probe = ModelProbe(Linear)
    v = check_batch_independence(probe, examples=4)
    assert (v.check, v.status, v.advice) == ("batch_independence", PASS, "")
    assert v.message == ("batch independence: in eval mode the scores of example 0 depend on no other example of its "
                         "batch (checked against 3)")
    assert v.numbers == {"examples": 4, "own_gradient": pytest.approx(own_gradient(probe), rel=1e-6),
                         "max_other_gradient": 0.0, "mixed": 0}
    assert check_batch_independence(probe, examples=6).message.endswith("(checked against 5)")


def test_a_model_that_subtracts_the_batch_mean_mixes_every_example():
    probe = ModelProbe(SubtractsTheBatchMean)
    v = check_batch_independence(probe, examples=4)
    own, other = 0.75 * own_gradient(probe), 0.25 * own_gradient(probe)
    assert (v.check, v.status) == ("batch_independence", FAIL)
    assert v.numbers == {"examples": 4, "own_gradient": pytest.approx(own, rel=1e-5),
                         "max_other_gradient": pytest.approx(other, rel=1e-5), "mixed": 3}
    assert v.message == (f"batch independence: the scores of example 0 depend on 3 of the other 3 examples of its "
                         f"batch in eval mode (max |∂s₀/∂xⱼ| {other:.2e}, its own input {own:.2e})")
    assert v.advice == ("the model mixes examples across the batch: a view/reshape over the batch dimension (use "
                        "x.flatten(1), not x.view(-1, …) with the batch size in the wrong place), a reduction over "
                        "dim 0, or batch norm left in training mode at evaluation")


def test_only_the_examples_actually_read_are_counted_as_mixed():
    probe = ModelProbe(AddsItsNeighbour)
    v = check_batch_independence(probe, examples=5)
    assert v.status == FAIL and v.numbers["mixed"] == 1
    assert v.numbers["max_other_gradient"] == pytest.approx(own_gradient(probe), rel=1e-6)
    assert "depend on 1 of the other 4 examples" in v.message


def test_batch_norm_is_checked_in_eval_mode():
    probe = ModelProbe(lambda: nn.Sequential(nn.BatchNorm1d(4), nn.Linear(4, 3)))
    assert check_batch_independence(probe, examples=4).status == PASS


def test_a_model_that_reads_no_input_cannot_mix_examples():
    v = check_batch_independence(ModelProbe(IgnoresItsInput), examples=4)
    assert (v.check, v.status) == ("batch_independence", PASS)
    assert v.message == ("batch independence: the scores depend on no input at all, so on no other example either")
    assert v.numbers == {"examples": 4, "own_gradient": 0.0}


class IntegerProbe(ModelProbe):
    def __init__(self):
        super().__init__(Linear)
        self.model = nn.Sequential(Float(), self.model)
        self.x = (self.x * 10).long()


class Float(nn.Module):
    def forward(self, x):
        return x.float()


@pytest.mark.parametrize("probe, examples, why", [
    (IntegerProbe, 4, "the inputs are not floating point"),
    (IntegerProbe, 2, "the inputs are not floating point"),
    (IntegerProbe, 1, "batches of one example"),
    (lambda: ModelProbe(Linear), 1, "batches of one example"),
])
def test_batch_independence_is_not_checked_on_integer_inputs_or_batches_of_one(probe, examples, why):
    v = check_batch_independence(probe(), examples)
    assert (v.check, v.status, v.message) == ("batch_independence", INFO, f"batch independence not checked: {why}")
    assert v.numbers == {}


def test_a_mixing_example_among_the_first_ones_of_a_larger_batch_is_found():
    probe = ModelProbe(SubtractsTheBatchMean)
    assert check_batch_independence(probe, examples=2).numbers["mixed"] == 1


# ---------------------------------------------------------------- parameters learn


def test_a_healthy_model_learns_every_parameter_at_the_given_lr():
    probe = TinyProbe()
    v = check_parameters_learn(probe, lr=0.3)
    assert (v.check, v.status, v.advice) == ("parameters_learn", PASS, "")
    assert v.message == "every parameter learns: all 2 trainable tensors got a gradient and moved in one step"
    assert v.numbers == {"trainable": 2, "no_gradient": [], "not_updated": [], "frozen": [], "identical_units": [],
                         "frozen_on_purpose": 0, "lr": 0.3}
    assert probe.seen_lrs == [0.3]


def test_at_lr_zero_nothing_moves():
    v = check_parameters_learn(TinyProbe(), lr=0.0)
    assert v.status == FAIL
    assert v.message == ("after one step: 2 get a gradient but the optimiser does not move them (0.weight, 0.bias)")
    assert v.numbers["not_updated"] == ["0.weight", "0.bias"] and v.numbers["no_gradient"] == []


def _frozen(names):
    probe = ModelProbe(lambda: nn.Sequential(*[nn.Linear(4, 4) for _ in range(3)], nn.Linear(4, 3)))
    for name, p in probe.model.named_parameters():
        p.requires_grad_(name not in names)
    return probe


def test_a_tensor_frozen_by_mistake_is_named():
    probe = _frozen({"0.bias"})
    v = check_parameters_learn(probe, lr=0.1)
    assert (v.check, v.status) == ("parameters_learn", WARN)
    assert v.message == ("1 tensor(s) are frozen (requires_grad=False): 0.bias; the other 7 get a gradient and move")
    assert v.advice == ("a layer left frozen by mistake never learns: set requires_grad=True, or freeze on purpose "
                        "with transfer.mode=freeze")
    assert v.numbers["frozen"] == ["0.bias"] and v.numbers["trainable"] == 7


def test_a_tensor_frozen_on_purpose_passes_and_is_counted():
    probe = _frozen({"0.bias"})
    probe.frozen_on_purpose = frozenset({"0.bias"})
    v = check_parameters_learn(probe, lr=0.1)
    assert (v.status, v.message) == (
        PASS, "every parameter learns: all 7 trainable tensors got a gradient and moved in one step (1 frozen on "
              "purpose)")
    assert v.numbers["frozen"] == [] and v.numbers["frozen_on_purpose"] == 1


@pytest.mark.parametrize("names, shown", [
    (["0.weight", "0.bias", "1.weight", "1.bias"], "0.weight, 0.bias, 1.weight, 1.bias"),
    (["0.weight", "0.bias", "1.weight", "1.bias", "2.weight"], "0.weight, 0.bias, 1.weight, 1.bias and 1 more"),
    (["0.weight", "0.bias", "1.weight", "1.bias", "2.weight", "2.bias"],
     "0.weight, 0.bias, 1.weight, 1.bias and 2 more"),
])
def test_four_names_are_shown_and_the_rest_counted(names, shown):
    v = check_parameters_learn(_frozen(set(names)), lr=0.1)
    assert v.message == (f"{len(names)} tensor(s) are frozen (requires_grad=False): {shown}; the other "
                         f"{8 - len(names)} get a gradient and move")


class WithSpare(Linear):
    """A layer the forward pass never uses, and a tensor it uses times zero."""

    def __init__(self):
        super().__init__()
        self.unused = nn.Linear(4, 3)
        self.zeroed = nn.Parameter(torch.ones(3))

    def forward(self, x):
        return self.lin(x) + 0 * self.zeroed


def test_tensors_without_a_gradient_fail():
    v = check_parameters_learn(ModelProbe(WithSpare), lr=0.1)
    assert (v.check, v.status) == ("parameters_learn", FAIL)
    assert v.message == "after one step: 3 trainable tensor(s) get no gradient (zeroed, unused.weight, unused.bias)"
    assert v.advice == ("a layer the forward pass never uses, an output computed under torch.no_grad() or .detach(), "
                        "or parameters missing from the optimiser (configure_optimizers must pass self.parameters())")
    assert v.numbers["no_gradient"] == ["zeroed", "unused.weight", "unused.bias"]
    assert v.numbers["not_updated"] == [] and v.numbers["identical_units"] == []


class PartialOptimizer(ModelProbe):
    def optimizer(self, model, lr):
        return torch.optim.SGD([model.lin.weight], lr=lr)


def test_tensors_the_optimiser_does_not_move_fail_next_to_those_without_a_gradient():
    v = check_parameters_learn(PartialOptimizer(WithSpare), lr=0.1)
    assert v.message == ("after one step: 3 trainable tensor(s) get no gradient (zeroed, unused.weight, unused.bias); "
                         "1 get a gradient but the optimiser does not move them (lin.bias)")
    assert v.numbers["not_updated"] == ["lin.bias"]
    only = check_parameters_learn(PartialOptimizer(Linear), lr=0.1)
    assert (only.status, only.message) == (
        FAIL, "after one step: 1 get a gradient but the optimiser does not move them (lin.bias)")


def test_the_step_minimises_the_cost_with_its_regularisation():
    # with a huge l2, the cost's gradient moves the weight the other way than the data loss alone
    probe = TinyProbe(l2=100.0)
    model = probe.fresh()
    check_parameters_learn(probe, lr=0.1)
    probe.cost(model, probe.first_batch()).backward()
    assert float(model[0].weight.grad.abs().sum()) > 0  # the probe's own model is untouched by the check
    assert probe.model[0].weight.grad is None


def constant(*layers):
    net = nn.Sequential(*layers)
    for p in net.parameters():
        nn.init.constant_(p, 0.1 if p.ndim > 1 else 0.0)
    return net


def test_a_constant_initialisation_leaves_the_hidden_units_identical():
    # every hidden unit computes the same and gets the same gradient; the output rows get one per class and drift
    # apart
    probe = ModelProbe(lambda: constant(nn.Linear(4, 5), nn.ReLU(), nn.Linear(5, 3)))
    v = check_parameters_learn(probe, lr=0.1)
    assert (v.check, v.status) == ("parameters_learn", FAIL)
    assert v.message.startswith("symmetric units: every unit of 0.weight starts identical and is still identical "
                                "after a step, so they compute the same feature forever")
    assert v.advice == "initialise the weights randomly (model.init=kaiming or xavier), not with a constant"
    assert v.numbers["identical_units"] == ["0.weight"]


def test_an_all_zero_initialisation_starves_the_layers_of_gradient_too():
    probe = ModelProbe(lambda: nn.Sequential(nn.Linear(4, 5), nn.ReLU(), nn.Linear(5, 3)))
    for p in probe.model.parameters():
        nn.init.zeros_(p)
    v = check_parameters_learn(probe, lr=0.1)
    assert (v.check, v.status) == ("parameters_learn", FAIL)
    assert v.message == ("symmetric units: every unit of 0.weight, 2.weight starts identical and is still identical "
                         "after a step, so they compute the same feature forever; 3 trainable tensor(s) get no "
                         "gradient (0.weight, 0.bias, 2.weight)")
    assert v.numbers == {"trainable": 4, "no_gradient": ["0.weight", "0.bias", "2.weight"], "not_updated": [],
                         "frozen": [], "identical_units": ["0.weight", "2.weight"], "frozen_on_purpose": 0, "lr": 0.1}


class FixedReadout(nn.Module):
    """Two identical hidden units read out by a fixed matrix: they get equal, non-zero gradients."""

    def __init__(self):
        super().__init__()
        self.hidden = constant(nn.Linear(4, 2))
        self.register_buffer("readout", torch.tensor([[1.0, 1.0], [0.0, 0.0], [0.0, 0.0]]))

    def forward(self, x):
        return self.hidden(x) @ self.readout.T


def test_identical_units_that_all_get_a_gradient_still_fail():
    v = check_parameters_learn(ModelProbe(FixedReadout), lr=0.1)
    assert (v.status, v.message) == (FAIL, "symmetric units: every unit of hidden.0.weight starts identical and is "
                                           "still identical after a step, so they compute the same feature forever")
    assert v.numbers["no_gradient"] == [] and v.numbers["not_updated"] == []


@pytest.mark.parametrize("w, identical", [
    (torch.ones(2, 3), True), (torch.ones(2, 3, 2), True), (torch.ones(1, 3), False), (torch.ones(3), False),
    (torch.tensor([[1.0, 2.0], [1.0, 2.0], [1.0, 2.5]]), False), (torch.tensor([[1.0, 2.0], [1.0, 2.5]]), False),
])
def test_identical_rows_need_a_matrix_of_at_least_two_equal_rows(w, identical):
    assert _identical_rows(w) is identical


# ---------------------------------------------------------------- raw scores


def test_raw_scores_pass():
    probe = TinyProbe()
    v = check_raw_scores(probe)
    with torch.no_grad():
        scores = probe.model(probe.first_batch()[0])
    assert (v.check, v.status, v.advice) == ("raw_scores", PASS, "")
    assert v.message == "the model outputs raw scores (logits), as the loss expects"
    assert v.numbers == {"min_score": float(scores.min()), "max_row_sum_error": float((scores.sum(1) - 1).abs().max())}


@pytest.mark.parametrize("model", [Softmax, SoftmaxAtEvaluation])
def test_probabilities_fail(model):
    v = check_raw_scores(ModelProbe(model))
    assert (v.check, v.status) == ("raw_scores", FAIL)
    assert v.message == ("the model outputs probabilities (every row ≥ 0 and sums to 1), not raw scores, to a loss "
                         "that applies its own softmax")
    assert v.advice == ("remove the softmax from forward() and give the logits to the loss (softmax only for reading "
                        "predictions)")
    assert v.numbers["min_score"] >= 0 and v.numbers["max_row_sum_error"] < 1e-6


@pytest.mark.parametrize("row, status", [
    ([0.0, 1.0, 0.0], FAIL),  # one-hot rows are probabilities
    ([0.25, 0.25, 0.50005], FAIL),  # a sum off by less than 1e-4
    ([0.25, 0.25, 0.5002], PASS),  # off by more
    ([1.5, -0.5, 0.0], PASS),  # sums to 1 but a negative score
    ([0.5, 0.5, 0.5], PASS),  # all ≥ 0 but no probabilities
])
def test_probabilities_are_rows_of_non_negative_scores_that_sum_to_one(row, status):
    v = check_raw_scores(ModelProbe(lambda: Fixed(row)))
    assert v.status == status
    assert v.numbers["min_score"] == min(row)
    assert v.numbers["max_row_sum_error"] == pytest.approx(abs(sum(row) - 1), abs=1e-6)


def test_only_one_row_of_probabilities_is_not_enough():
    class HalfSoftmax(Linear):
        def forward(self, x):
            s = self.lin(x)
            return torch.cat([s[:1].softmax(1), s[1:] + 10])

    assert check_raw_scores(ModelProbe(HalfSoftmax)).status == PASS


# ---------------------------------------------------------------- reg balance


def by_hand(probe, batches):
    model = probe.fresh()
    with torch.no_grad():
        losses = [float(F.cross_entropy(model(x), y)) for x, y in probe.train_batches(batches)]
    return sum(losses) / len(losses), 0.5 * probe.reg.l2 * float((model[0].weight.detach() ** 2).sum())


def test_a_small_penalty_passes_with_its_share_of_the_data_loss():
    probe = TinyProbe(l2=0.1)
    loss, penalty = by_hand(probe, 3)
    v = check_reg_balance(probe, batches=3, max_ratio=1.0)
    assert (v.check, v.status, v.advice) == ("reg_balance", PASS, "")
    assert v.numbers == {"data_loss": pytest.approx(loss, rel=1e-6), "penalty": pytest.approx(penalty, rel=1e-4),
                         "max_ratio": 1.0}
    assert v.message == f"regularisation {penalty:.3g} vs data loss {loss:.4f} at init ({penalty / loss:.2%} of it)"


def test_a_penalty_above_the_ratio_times_the_loss_warns():
    probe = TinyProbe(l2=100.0)
    loss, penalty = by_hand(probe, 2)
    v = check_reg_balance(probe, batches=2, max_ratio=1.0)
    assert (v.check, v.status) == ("reg_balance", WARN)
    assert v.message == (f"the regularisation term ({penalty:.4g}) is {penalty / loss:.0f}× the data loss "
                         f"({loss:.4f}) at init: training will mostly shrink the weights and the data loss can hardly "
                         f"move")
    assert v.advice == "lower the regularisation (e.g. reg.l2 ÷ 100; search it in log space, coarse-to-fine)"
    assert v.numbers["penalty"] == pytest.approx(penalty, rel=1e-5)
    assert check_reg_balance(probe, batches=2, max_ratio=penalty / loss * 1.01).status == PASS


class DoubledCost(TinyProbe):
    def cost(self, model, batch):
        return 2 * self.loss(model, batch)


def test_a_penalty_exactly_at_the_ratio_passes():
    probe = DoubledCost()
    v = check_reg_balance(probe, batches=1, max_ratio=1.0)
    loss = by_hand(probe, 1)[0]
    assert v.status == PASS and v.numbers["penalty"] == v.numbers["data_loss"] == pytest.approx(loss, rel=1e-6)
    assert v.message == f"regularisation {loss:.3g} vs data loss {loss:.4f} at init (100.00% of it)"
    assert check_reg_balance(probe, batches=1, max_ratio=0.999).status == WARN


# ---------------------------------------------------------------- eval determinism


def test_a_deterministic_model_passes():
    probe = TinyProbe()
    v = check_eval_determinism(probe, rel_tolerance=1e-5)
    with torch.no_grad():
        top = float(probe.model(probe.first_batch()[0]).abs().max())
    assert (v.check, v.status, v.advice) == ("eval_determinism", PASS, "")
    assert v.message == "evaluation is deterministic: two passes agree (max |Δ| 0.0e+00)"
    assert v.numbers == {"max_difference": 0.0, "max_score": top, "rel_tolerance": 1e-5}


def test_dropout_left_on_at_evaluation_fails():
    torch.manual_seed(0)
    v = check_eval_determinism(ModelProbe(DropoutAlwaysOn), rel_tolerance=1e-5)
    assert (v.check, v.status) == ("eval_determinism", FAIL)
    assert v.message.startswith("two evaluation passes over the same batch differ (max |Δscore| ")
    assert v.advice == ("something random stays on in eval mode: dropout called with training=True (use nn.Dropout or "
                        "F.dropout(x, training=self.training)), or a noise layer that ignores model.eval()")


def test_dropout_as_a_module_is_off_in_eval_mode():
    probe = ModelProbe(lambda: nn.Sequential(nn.Dropout(0.5), nn.Linear(4, 3)))
    assert check_eval_determinism(probe, rel_tolerance=0.0).status == PASS


@pytest.mark.parametrize("tolerance, status", [(0.25, PASS), (0.24, FAIL)])
def test_a_difference_exactly_at_the_tolerance_of_the_largest_score_passes(tolerance, status):
    # the largest score is -2 (in size): the second pass is 0.5 higher everywhere
    v = check_eval_determinism(ModelProbe(lambda: Fixed([-2.0, 1.0, 0.5], drift=0.5)), tolerance)
    assert v.status == status
    assert v.numbers == {"max_difference": 0.5, "max_score": 2.0, "rel_tolerance": tolerance}
    assert v.message == ("evaluation is deterministic: two passes agree (max |Δ| 5.0e-01)" if status == PASS else
                         "two evaluation passes over the same batch differ (max |Δscore| 0.5, scores up to 2)")


def test_all_zero_scores_are_measured_against_one():
    v = check_eval_determinism(ModelProbe(lambda: Fixed([0.0, 0.0, 0.0], drift=0.5)), rel_tolerance=0.5)
    assert v.status == PASS and v.numbers["max_score"] == 1.0
    assert check_eval_determinism(ModelProbe(lambda: Fixed([0.0, 0.0, 0.0], drift=0.5)), 0.49).status == FAIL


# ---------------------------------------------------------------- input dependence


def train_by_hand(probe, examples, steps, lr):
    """(loss, accuracy) after plain SGD on the first examples, with the real and with zeroed inputs."""
    x, y = probe.examples(examples)
    finals = []
    for inputs in (x, torch.zeros_like(x)):
        model = copy.deepcopy(probe.model)
        optimizer = torch.optim.SGD(model.parameters(), lr=lr)
        for _ in range(steps):
            optimizer.zero_grad()
            F.cross_entropy(model(inputs), y).backward()
            optimizer.step()
        with torch.no_grad():
            scores = model(inputs)
            finals.append((float(F.cross_entropy(scores, y)), float((scores.argmax(1) == y).float().mean())))
    return finals


def test_a_model_that_reads_its_input_learns_more_than_the_class_prior():
    probe = TinyProbe()
    (real, real_acc), (zero, zero_acc) = train_by_hand(probe, 4, 10, 0.5)
    assert (real_acc, zero_acc) == (1.0, 0.5)  # on zeros only the prior: class 0, two of the four
    v = check_input_dependence(probe, examples=4, steps=10, lr=0.5, ratio=0.95, min_acc_gain=0.3)
    assert (v.check, v.status, v.advice) == ("input_dependence", PASS, "")
    assert v.numbers == {"real_inputs": pytest.approx(real, rel=1e-5), "zero_inputs": pytest.approx(zero, rel=1e-5),
                         "real_acc": 1.0, "zero_acc": 0.5, "steps": 10, "examples": 4, "ratio": 0.95,
                         "min_acc_gain": 0.3}
    assert v.message == (f"the output depends on the input: after 10 steps the loss is {real:.4f} on the real inputs "
                         f"and {zero:.4f} on zeroed ones (train acc 1.00 vs 0.50)")


def test_a_model_that_ignores_its_input_fails():
    i = DEFAULTS.input_dependence
    v = check_input_dependence(ModelProbe(IgnoresItsInput), 6, 5, i.lr, i.ratio, i.min_acc_gain)
    assert (v.check, v.status) == ("input_dependence", FAIL)
    assert v.numbers["real_inputs"] == v.numbers["zero_inputs"] and v.numbers["real_acc"] == v.numbers["zero_acc"]
    real, acc = v.numbers["real_inputs"], v.numbers["real_acc"]
    assert v.message == (f"the output does not come to depend on the input: after 5 steps the loss is {real:.4f} on "
                         f"the real inputs and {real:.4f} on zeroed ones (train acc {acc:.2f} vs {acc:.2f})")
    assert v.advice == ("the forward pass ignores x (a constant, a buffer or torch.zeros_like(x) in its place, inputs "
                        "overwritten before the model), or no gradient reaches the layers that read it")


@pytest.mark.parametrize("gain, status", [(0.5, PASS), (0.5 + 1e-9, FAIL)])
def test_an_accuracy_gain_exactly_at_the_minimum_passes(gain, status):
    # a ratio of 0 leaves the accuracy alone to decide
    assert check_input_dependence(TinyProbe(), 4, 10, 0.5, ratio=0.0, min_acc_gain=gain).status == status


def test_a_loss_exactly_at_the_ratio_of_the_zeroed_one_fails():
    probe = TinyProbe()
    (real, _), (zero, _) = train_by_hand(probe, 4, 10, 0.5)
    numbers = check_input_dependence(probe, 4, 10, 0.5, ratio=1.0, min_acc_gain=2.0).numbers
    real, zero = numbers["real_inputs"], numbers["zero_inputs"]
    ratio = real / zero
    while ratio * zero != real:  # the ratio whose product with the zeroed loss is exactly the real loss
        ratio = math.nextafter(ratio, 1.0 if ratio * zero < real else 0.0)
    assert check_input_dependence(probe, 4, 10, 0.5, ratio=ratio, min_acc_gain=2.0).status == FAIL
    above = math.nextafter(ratio, 1.0)
    while above * zero == real:
        above = math.nextafter(above, 1.0)
    assert check_input_dependence(probe, 4, 10, 0.5, ratio=above, min_acc_gain=2.0).status == PASS
