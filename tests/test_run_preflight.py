"""run_preflight on a tiny probe: which checks run and in which order, the options each check gets,
the verdicts' seconds, checks that cannot run, the RNG, the preview of a batch; and make_probe."""

import functools
import math
import types

import numpy as np
import pytest
import torch
import torch.nn as nn

import babysit.preflight as preflight
from babysit.errors import BabysitError
from babysit.module import Classifier
from babysit.preflight import make_probe, run_preflight
from babysit.preflight.classifier_probe import ClassifierProbe
from babysit.preflight.data_checks import (
    check_class_balance,
    check_duplicates,
    check_input_statistics,
    check_label_sanity,
)
from babysit.preflight.initial_loss import check_initial_loss, check_reg_up, initial_losses
from babysit.preflight.lr_bounds import check_too_high, check_too_low, loss_trace
from babysit.preflight.lr_range import check_range, sweep
from babysit.preflight.model_checks import (
    check_batch_independence,
    check_eval_determinism,
    check_input_dependence,
    check_parameters_learn,
    check_raw_scores,
    check_reg_balance,
)
from babysit.preflight.overfit import overfit_tiny
from babysit.run_files import PREVIEW
from babysit.settings import settings
from babysit.verdict import FAIL, INFO, PASS, WARN, console
from tests.test_preflight_logic import TinyProbe

ALL = ["class_balance", "duplicates", "input_statistics", "raw_scores", "initial_loss", "reg_up", "reg_balance",
       "batch_independence", "parameters_learn", "eval_determinism", "overfit_tiny", "label_sanity",
       "input_dependence", "lr_too_low", "lr_too_high", "lr_range"]
LR = 0.1
# few steps everywhere (the defaults train for hundreds)
FAST = {"initial_loss": {"batches": 2}, "overfit": {"epochs": 4, "print_every": 3},
        "input_dependence": {"steps": 2}, "lr_bounds": {"steps": 2}, "range_test": {"steps": 6}}
# every threshold away from its default, so that each one can be told from the default and from the others
CUSTOM = {
    "class_balance": {"max_ratio": 1.5},
    "duplicates": {"max_examples": 5, "hash_side": 2, "near_rms": 0.03, "max_fraction": 0.2},
    "input_statistics": {"max_abs_mean": 0.5, "std_range": [0.3, 4.0]},
    "initial_loss": {"batches": 3, "rel_tolerance": 0.2},
    "reg_up": {"l2": 50.0},
    "reg_balance": {"max_ratio": 0.25},
    "batch_independence": {"examples": 4},
    "eval_determinism": {"rel_tolerance": 1e-3},
    "overfit": {"examples": 12, "epochs": 8, "lr": 0.2, "target_acc": 0.9, "max_final_cost": 0.3, "print_every": 3},
    "label_sanity": {"z": 2.0},
    "input_dependence": {"examples": 9, "steps": 3, "lr": 0.3, "ratio": 0.8, "min_acc_gain": 0.2},
    "lr_bounds": {"steps": 4, "too_low": 1e-5, "barely_changes": 0.02, "too_high": 1e5},
    "monitors": {"explosion": {"factor": 2.0}},
    "range_test": {"start": 1e-4, "end": 100.0, "steps": 7, "stop_factor": 3.0, "smoothing": 0.3, "slack": 4.0},
}


@pytest.fixture(autouse=True, scope="module")
def one_thread():
    """Tiny tensors: one thread is many times faster than several on a busy machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def options(given=None, **changes):
    """conf/babysit/default.yaml, then `given` (FAST when not given), then `changes`, as the Babysitter
    composes them."""
    return settings(FAST if given is None else given, **changes)


class ImageProbe(TinyProbe):
    """TinyProbe with 2 × 2 one-channel images as the network sees them, raw images of three splits
    (val holds a copy of a training image), imbalanced class counts and named classes."""

    counts = {"train": [10, 8, 6], "val": [2, 5, 1]}

    def __init__(self, l2: float = 0.5, consumes_rng: bool = False, **kwargs):
        super().__init__(l2=l2, **kwargs)
        self.consumes_rng = consumes_rng
        g = torch.Generator().manual_seed(3)
        train = torch.rand(8, 1, 4, 4, generator=g)
        val = torch.cat([train[2:3], torch.rand(4, 1, 4, 4, generator=g)])
        self.splits = {"train": train, "val": val, "test": torch.rand(4, 1, 4, 4, generator=g)}
        self.asked: list[int] = []

    def fresh(self):
        if self.consumes_rng:
            torch.rand(1)  # as a model's random init would
        return super().fresh()

    def raw_splits(self, max_examples):
        self.asked.append(max_examples)
        return {k: v[:max_examples] for k, v in self.splits.items()}

    def training_view(self):
        x, y = self.first_batch()
        return x.view(-1, 1, 2, 2), y

    def class_counts(self):
        return self.counts, ["a", "b", "c"], "examples"

    def class_names(self):
        return ["a", "b", "c"]


def same(got, want):
    """Equal verdicts, the seconds aside (repr: NaN equals NaN)."""
    got_numbers = {k: v for k, v in got.numbers.items() if k != "seconds"}
    assert (got.check, got.status, got.message, got.advice) == (want.check, want.status, want.message, want.advice)
    assert repr(got_numbers) == repr(want.numbers)


def checks(verdicts):
    return [v.check for v in verdicts]


def by_check(verdicts):
    return {v.check: v for v in verdicts}


def test_every_check_runs_in_the_lectures_order_with_the_thresholds_of_the_options():
    probe = ImageProbe()
    with console.capture() as shown:
        verdicts = run_preflight(options(CUSTOM), probe, LR)
    assert checks(verdicts) == ALL
    got = by_check(verdicts)
    p = ImageProbe()  # the same checks, called by hand with the thresholds of CUSTOM
    balance = check_class_balance(ImageProbe.counts, ["a", "b", "c"], 1.5, "examples")
    loss, cost_up = initial_losses(p, 3, 50.0)
    fit = overfit_tiny(p, 12, 8, 0.2, 0.9, 0.3, 3, echo=lambda line: None)
    want = {
        "class_balance": balance,
        "duplicates": check_duplicates({k: v[:5] for k, v in p.splits.items()}, 2, 0.03, 0.2),
        "input_statistics": check_input_statistics(p.training_view()[0], 0.5, (0.3, 4.0)),
        "raw_scores": check_raw_scores(p),
        "initial_loss": check_initial_loss(loss, (math.log(3), "ln(3) = 1.0986"), 3, 0.2, 6),
        "reg_up": check_reg_up(loss, cost_up, 50.0),
        "reg_balance": check_reg_balance(p, 3, 0.25),
        "batch_independence": check_batch_independence(p, 4),
        "parameters_learn": check_parameters_learn(p, LR),
        "eval_determinism": check_eval_determinism(p, 1e-3),
        "overfit_tiny": fit,
        "label_sanity": check_label_sanity(fit.numbers["val_acc"], 6, 5 / 8, True, 2.0),
        "input_dependence": check_input_dependence(p, 9, 3, 0.3, 0.8, 0.2),
        "lr_too_low": check_too_low(loss_trace(p, 1e-5, 4), 1e-5, 0.02),
        "lr_too_high": check_too_high(loss_trace(p, 1e5, 4), 1e5, 2.0),
        "lr_range": check_range(sweep(p, 1e-4, 100.0, 7, 3.0, 0.3), LR, 4.0),
    }
    for name in ALL:
        same(got[name], want[name])
    assert got["class_balance"].status == WARN  # 10:6 is beyond 1.5:1 (the default 3:1 passes it)
    assert got["duplicates"].status == PASS  # 1 of 5 val images is a copy: not beyond 0.2 (the default 0 warns)
    assert got["label_sanity"].numbers["baseline"] == 5 / 8  # val's majority class
    assert probe.asked == [5]
    # the run's optimiser: one step at the run's lr, then the two bounds, then the sweep from its start
    assert probe.seen_lrs == [LR, 1e-5, 1e5, 1e-4]
    lines = shown.get().splitlines()
    assert lines[0] == "Preflight (babysit.preflight=false skips it)"
    assert lines[1] == f"[WARN] {got['class_balance'].message}"
    assert lines[2] == f"       → {got['class_balance'].advice}"
    assert lines[3] == f"[PASS] {got['duplicates'].message}"
    epochs = [line.split(":")[0] for line in lines if line.startswith("  Finished epoch")]
    assert epochs == [f"  Finished epoch {e} / 8" for e in (1, 3, 6, 8)]
    said = [line for line in lines[1:] if not line.startswith("  Finished epoch")]
    assert said == [line for v in verdicts for line in v.text().splitlines()]


@pytest.mark.parametrize(("switch", "gone"), [
    ("class_balance", {"class_balance"}),
    ("duplicates", {"duplicates"}),
    ("input_statistics", {"input_statistics"}),
    ("raw_scores", {"raw_scores"}),
    ("initial_loss", {"initial_loss"}),
    ("reg_up", {"reg_up"}),
    ("reg_balance", {"reg_balance"}),
    ("batch_independence", {"batch_independence"}),
    ("parameters_learn", {"parameters_learn"}),
    ("eval_determinism", {"eval_determinism"}),
    ("overfit", {"overfit_tiny", "label_sanity"}),
    ("label_sanity", {"label_sanity"}),
    ("input_dependence", {"input_dependence"}),
    ("lr_bounds", {"lr_too_low", "lr_too_high"}),
    ("range_test", {"lr_range"}),
])
def test_a_check_switched_off_is_left_out_and_the_others_keep_their_order(switch, gone):
    verdicts = run_preflight(options(**{switch: {"enabled": False}}), ImageProbe(), LR)
    assert checks(verdicts) == [c for c in ALL if c not in gone]


def test_with_every_check_off_nothing_runs():
    off = {name: False for name in ("class_balance", "duplicates", "input_statistics", "raw_scores", "initial_loss",
                                    "reg_up", "reg_balance", "batch_independence", "parameters_learn",
                                    "eval_determinism", "overfit", "label_sanity", "input_dependence", "lr_bounds",
                                    "range_test")}
    probe = ImageProbe()
    assert run_preflight(options(**off), probe, LR) == []
    assert probe.asked == [] and probe.seen_lrs == []


def test_reg_up_runs_without_the_initial_loss_check():
    got = by_check(run_preflight(options(initial_loss=False), ImageProbe(), LR))
    loss, cost_up = initial_losses(ImageProbe(), FAST["initial_loss"]["batches"], 1e3)
    same(got["reg_up"], check_reg_up(loss, cost_up, 1e3))
    assert "initial_loss" not in got


@pytest.mark.parametrize("reg_up", [True, False])
def test_a_trained_head_gets_an_info_instead_of_the_initial_loss_check(reg_up):
    probe = ImageProbe()
    probe.head_trained = True
    verdicts = run_preflight(options(reg_up={"enabled": reg_up}), probe, LR)
    infos = [v for v in verdicts if v.check == "initial_loss"]
    assert len(infos) == 1 and (infos[0].status, infos[0].advice) == (INFO, "")
    assert infos[0].message == ("initial loss not checked: the output layer comes trained (transfer.head=keep), so the "
                                "loss does not start at chance")
    assert ("reg_up" in checks(verdicts)) == reg_up
    assert checks(verdicts) == [c for c in ALL if reg_up or c != "reg_up"]


class SummedProbe(ImageProbe):
    """Scores ≈ 0 (the loss of each example ≈ ln 3), summed over the batch of 6."""

    def __init__(self):
        super().__init__()
        with torch.no_grad():
            self.model[0].weight.mul_(1e-3)
            self.model[0].bias.zero_()

    def step(self, model, batch):
        scores = self.scores(model, batch)
        return nn.functional.cross_entropy(scores, batch[1], reduction="sum"), scores


def test_a_loss_summed_over_the_batch_is_told_with_the_batch_size():
    got = by_check(run_preflight(options(), SummedProbe(), LR))["initial_loss"]
    assert (got.status, got.numbers["batch_size"]) == (FAIL, 6)
    assert "≈ batch size 6 × ln(3) = 1.0986 (reg off): the loss is summed" in got.message


def test_the_initial_loss_uses_the_tolerance_of_the_options():
    loose = by_check(run_preflight(options(initial_loss={"rel_tolerance": 0.5}), ImageProbe(), LR))["initial_loss"]
    tight = by_check(run_preflight(options(initial_loss={"rel_tolerance": 1e-4}), ImageProbe(), LR))["initial_loss"]
    rel = loose.numbers["relative_error"]
    assert 3e-4 < rel < 0.5 and tight.numbers["relative_error"] == rel
    assert (loose.status, tight.status) == (PASS, FAIL)
    assert loose.message.endswith("(tolerance 50%)")


class TwoClassSubset(ImageProbe):
    """The tiny subset only ever holds classes 0 and 1."""

    def examples(self, count):
        keep = self.y < 2
        return self.x[keep][:count], self.y[keep][:count]


@pytest.mark.parametrize(("counts", "balance", "baseline"), [
    ({"train": [10, 8, 6], "val": [2, 5, 1]}, True, 5 / 8),  # val's majority class
    ({"train": [10, 8, 6]}, True, 10 / 24),  # no val counts: train's
    ({"train": [10, 8, 6], "val": [2, 5, 1]}, False, 1 / 3),  # no counts at all: chance
])
def test_label_sanity_compares_with_the_majority_baseline_of_val_then_train_then_chance(counts, balance, baseline):
    probe = ImageProbe()
    probe.counts = counts
    got = by_check(run_preflight(options(class_balance={"enabled": balance}, label_sanity={"z": 0.5}), probe, LR))
    fit = got["overfit_tiny"].numbers
    assert got["label_sanity"].numbers["baseline"] == pytest.approx(baseline, rel=1e-12)
    same(got["label_sanity"], check_label_sanity(fit["val_acc"], 6, baseline, True, 0.5))
    assert got["label_sanity"].status == PASS


def test_label_sanity_is_not_judged_when_the_tiny_subset_misses_a_class():
    got = by_check(run_preflight(options(), TwoClassSubset(), LR))
    assert got["overfit_tiny"].numbers["classes_seen"] == 2
    assert (got["label_sanity"].status, got["label_sanity"].message) == (
        INFO, "label sanity not judged: the tiny subset does not hold every class")


def test_without_raw_images_the_duplicates_are_not_checked():
    got = by_check(run_preflight(options(), TinyProbe(l2=0.5), LR))["duplicates"]
    assert (got.status, got.advice) == (INFO, "")
    assert got.message == "duplicates not checked: only the DataLoaders' (transformed) batches are known"


def test_duplicates_warn_beyond_the_fraction_of_the_options():
    probe = ImageProbe()
    got = by_check(run_preflight(options(duplicates={"max_examples": 7}), probe, LR))["duplicates"]
    assert got.status == WARN and got.numbers["checked"] == {"train": 7, "val": 5, "test": 4}
    assert got.numbers["leaks"]["val"] == {"exact": 1, "near_or_exact": 1, "of": 5}
    assert probe.asked == [7]


GUARDED = ["raw_scores", "reg_balance", "batch_independence", "parameters_learn", "eval_determinism",
           "input_dependence"]


@pytest.mark.parametrize("check", GUARDED)
def test_a_check_that_cannot_run_says_so_and_the_others_still_run(monkeypatch, check):
    def broken(*args):
        raise ValueError("no scores here")

    monkeypatch.setattr(preflight, f"check_{check}", broken)
    verdicts = run_preflight(options(), ImageProbe(), LR)
    assert checks(verdicts) == ALL
    got = by_check(verdicts)[check]
    assert (got.status, got.advice) == (INFO, "")
    assert got.message == f"{check} could not run on this model (ValueError: no scores here)"
    assert list(got.numbers) == ["seconds"]
    normal = run_preflight(options(), ImageProbe(), LR)
    assert [v.message for v in verdicts if v.check != check] == [v.message for v in normal if v.check != check]


@pytest.mark.parametrize("check", GUARDED)
def test_a_user_error_in_a_check_stops_the_preflight(monkeypatch, check):
    def misconfigured(*args):
        raise BabysitError("set babysit.batch.input_key")

    monkeypatch.setattr(preflight, f"check_{check}", misconfigured)
    with pytest.raises(BabysitError, match="set babysit.batch.input_key"):
        run_preflight(options(), ImageProbe(), LR)


class WrongShape(ImageProbe):
    """A model that returns one number per batch element of the flattened scores."""

    def __init__(self):
        super().__init__()
        self.model = nn.Sequential(self.model[0], nn.Flatten(0))


def test_scores_of_the_wrong_shape_stop_the_preflight_before_any_check():
    probe = WrongShape()
    with pytest.raises(BabysitError, match="returned"):
        run_preflight(options(), probe, LR)
    assert probe.asked == []


def test_the_checks_leave_the_global_rng_as_it_was():
    probe = ImageProbe(consumes_rng=True)
    torch.manual_seed(5)
    before = torch.get_rng_state()
    probe.fresh()
    assert not torch.equal(torch.get_rng_state(), before)  # the probe draws random numbers …
    torch.set_rng_state(before)
    run_preflight(options(), probe, LR)
    assert torch.equal(torch.get_rng_state(), before)  # … and the preflight gives them back


def test_the_rng_of_a_gpu_is_left_alone(monkeypatch):
    """Only the CPU generator is forked: a GPU the run does not use is never initialised for it."""
    def untouched(*args, **kwargs):
        raise AssertionError("a GPU's RNG was read")

    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.setattr(torch.cuda, "get_rng_state", untouched)
    run_preflight(options(), ImageProbe(), LR)


def test_the_preview_of_a_training_batch_is_written_to_out_dir(tmp_path):
    probe = ImageProbe()
    run_preflight(options(), probe, LR, tmp_path)
    saved = np.load(tmp_path / PREVIEW)
    x, y = probe.training_view()
    assert saved["images"].shape == (6, 2, 2, 1)
    assert (saved["images"].reshape(6, -1).min(1) == 0).all() and (saved["images"].reshape(6, -1).max(1) == 255).all()
    assert saved["labels"].tolist() == y.tolist()
    assert saved["classes"].tolist() == ["a", "b", "c"]


def test_no_preview_without_out_dir_or_without_the_input_statistics(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    run_preflight(options(), ImageProbe(), LR)
    run_preflight(options(input_statistics=False), ImageProbe(), LR, tmp_path / "run")
    assert list(tmp_path.rglob("*")) == []


class Clock:
    """perf_counter that advances TICK per reading."""

    TICK = 0.1234567

    def __init__(self):
        self.now = 100.0

    def perf_counter(self):
        self.now += self.TICK
        return self.now


@pytest.mark.parametrize("head_trained", [False, True])
def test_each_verdict_records_the_seconds_since_its_check_started(monkeypatch, head_trained):
    monkeypatch.setattr(preflight, "time", types.SimpleNamespace(perf_counter=Clock().perf_counter))
    monkeypatch.setattr(preflight, "check_eval_determinism", functools.partial(_raise, ValueError))
    probe = ImageProbe()
    probe.head_trained = head_trained
    seconds = {v.check: v.numbers["seconds"] for v in run_preflight(options(), probe, LR)}
    one = round(Clock.TICK, 3)
    assert one == 0.123
    # reg_up is timed from the start of the initial losses it shares with the initial-loss check
    reg_up = one if head_trained else round(2 * Clock.TICK, 3)
    assert seconds == {c: (reg_up if c == "reg_up" else one) for c in ALL}


def _raise(error, *args):
    raise error("guarded")


class NotAClassifier(nn.Module):
    pass


def tiny_classifier():
    return Classifier(nn.Linear(4, 3), nn.CrossEntropyLoss(), functools.partial(torch.optim.SGD, lr=LR), 3)


class Recorded:
    def __init__(self, *args):
        self.args = args


def test_make_probe_uses_babysits_data_module_for_its_own_classifier(monkeypatch):
    monkeypatch.setattr("babysit.preflight.lightning_probe.LightningProbe", Recorded)
    module = tiny_classifier()
    dm = types.SimpleNamespace(examples=lambda split, idx: None, num_classes=3)
    probe = make_probe(types.SimpleNamespace(datamodule=dm), module, "fmt")
    assert isinstance(probe, ClassifierProbe) and (probe.module, probe.dm) == (module, dm)


@pytest.mark.parametrize("mine", [True, False])
def test_make_probe_reads_any_other_module_through_its_dataloaders(monkeypatch, mine):
    monkeypatch.setattr("babysit.preflight.lightning_probe.LightningProbe", Recorded)
    module = tiny_classifier() if mine else NotAClassifier()
    # babysit's Classifier on another data module, or another module on babysit's data module
    dm = types.SimpleNamespace() if mine else types.SimpleNamespace(examples=None)
    trainer = types.SimpleNamespace(datamodule=dm)
    loss_fn = nn.functional.cross_entropy
    probe = make_probe(trainer, module, "fmt", loss_fn, 7)
    assert isinstance(probe, Recorded) and probe.args == (trainer, module, "fmt", loss_fn, 7)
    assert make_probe(trainer, module, "fmt").args == (trainer, module, "fmt", None, None)
