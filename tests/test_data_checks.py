"""The data checks (class balance, copies across splits, input statistics, label sanity): exact statuses,
numbers and lines on tiny hand-made data."""

import math

import numpy as np
import pytest
import torch

from babysit.preflight.data_checks import (
    check_class_balance,
    check_duplicates,
    check_input_statistics,
    check_label_sanity,
)
from babysit.verdict import INFO, PASS, WARN

# ---------------------------------------------------------------- class balance


def test_an_imbalance_above_the_ratio_warns_with_the_majority_baseline():
    counts = {"train": [10, 2, 5], "val": [3, 1, 1], "test": [0, 0, 0]}
    v = check_class_balance(counts, ["a", "b", "c"], max_ratio=3.0)
    assert (v.check, v.status) == ("class_balance", WARN)
    assert v.message == ("classes imbalanced 5:1 in train (a 10, b 2, c 5): always answering 'a' scores 0.59 — "
                         "accuracy flatters")
    assert v.advice == ("judge the run by balanced accuracy (in summary.json) against the majority baseline, and "
                        "weight the loss by class or resample the rare classes")
    # an empty split has no baseline
    assert v.numbers == {"counts": counts, "classes": ["a", "b", "c"], "majority_class": "a",
                         "majority_baseline": {"train": 10 / 17, "val": 3 / 5}, "ratio": 5.0, "max_ratio": 3.0,
                         "counted": "every example"}


def test_a_ratio_exactly_at_the_limit_is_balanced():
    v = check_class_balance({"train": [3, 9]}, [0, 1], max_ratio=3.0)
    assert (v.check, v.status) == ("class_balance", PASS)
    assert v.message == "classes balanced within 3.0:1 in train (0 3, 1 9); majority baseline 0.75"
    assert v.numbers["majority_class"] == "1" and v.numbers["ratio"] == 3.0 and v.advice == ""
    assert check_class_balance({"train": [3, 10]}, [0, 1], max_ratio=3.0).status == WARN


def test_the_first_of_tied_classes_is_the_majority():
    v = check_class_balance({"train": [2, 6, 6]}, ["x", "y", "z"], max_ratio=2.0)
    assert v.status == WARN and v.numbers["majority_class"] == "y"
    assert v.message == ("classes imbalanced 3:1 in train (x 2, y 6, z 6): always answering 'y' scores 0.43 — "
                         "accuracy flatters")


def test_an_empty_class_counts_as_one_in_the_ratio():
    v = check_class_balance({"train": [7, 0]}, [0, 1], max_ratio=3.0)
    assert v.numbers["ratio"] == 7.0 and v.message.startswith("classes imbalanced 7:1 in train (0 7, 1 0)")


def test_what_was_counted_is_named_in_the_line():
    v = check_class_balance({"train": [4, 5]}, [0, 1], max_ratio=3.0, counted="the first 9 batches")
    assert v.message == "classes balanced within 1.2:1 in the first 9 batches (0 4, 1 5); majority baseline 0.56"
    assert v.numbers["counted"] == "the first 9 batches"
    w = check_class_balance({"train": [1, 5]}, [0, 1], max_ratio=3.0, counted="sampled examples")
    assert w.message.startswith("classes imbalanced 5:1 in sampled examples (0 1, 1 5):")


def test_only_the_first_ten_classes_are_spelled_out():
    many = list(range(12))
    counts = {"train": [5] * 11 + [1]}
    v = check_class_balance(counts, many, max_ratio=3.0)
    spread = ", ".join(f"{c} 5" for c in range(10))
    assert v.message == (f"classes imbalanced 5:1 in train ({spread}, …): always answering 0 scores 0.09 — "
                         "accuracy flatters")
    ok = check_class_balance({"train": [5] * 12}, many, max_ratio=3.0)
    assert ok.message == f"classes balanced within 1.0:1 in train ({spread}, …); majority baseline 0.08"
    ten = check_class_balance({"train": [5] * 10}, list(range(10)), max_ratio=3.0)
    assert ten.message == f"classes balanced within 1.0:1 in train ({spread}); majority baseline 0.10"
    ten_bad = check_class_balance({"train": [5] * 9 + [1]}, list(range(10)), max_ratio=3.0)
    assert "…" not in ten_bad.message
    eleven = check_class_balance({"train": [5] * 11}, list(range(11)), max_ratio=3.0)
    assert eleven.message == f"classes balanced within 1.0:1 in train ({spread}, …); majority baseline 0.09"
    eleven_bad = check_class_balance({"train": [5] * 10 + [1]}, list(range(11)), max_ratio=3.0)
    assert eleven_bad.message.startswith(f"classes imbalanced 5:1 in train ({spread}, …): always answering 0")


def test_a_split_of_one_example_has_a_baseline_of_one():
    v = check_class_balance({"train": [3, 2], "val": [0, 1]}, [0, 1], max_ratio=3.0)
    assert v.numbers["majority_baseline"] == {"train": 0.6, "val": 1.0}


def test_counts_beyond_the_named_classes_are_left_out_of_the_line():
    v = check_class_balance({"train": [5, 4, 3]}, ["a", "b"], max_ratio=3.0)
    assert v.message == "classes balanced within 1.7:1 in train (a 5, b 4); majority baseline 0.42"


# ---------------------------------------------------------------- duplicates

SIDE = 2  # 2 × 2 thumbnails of 4 × 4 images


def _images(n: int, seed: int) -> torch.Tensor:
    """n RGB 4 × 4 images of 8-bit values in [0, 1], with pixel 0 black and pixel 1 white (the range)."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randint(0, 256, (n, 3, 4, 4), generator=g).float() / 255
    x[:, :, 0, 0], x[:, :, 0, 1] = 0.0, 1.0
    return x


def test_exact_and_near_copies_in_val_and_test_are_counted_and_warned_about():
    train = _images(6, 0)
    val = torch.cat([train[:1] + 1e-4,  # an exact copy, re-encoded: the same 8-bit pixels
                     train[1:2] + 0.005,  # a near copy: every pixel 1.3 levels brighter, same average hash
                     _images(2, 1)])
    test = torch.cat([train[2:3], _images(4, 2)])
    v = check_duplicates({"train": train, "val": val, "test": test}, SIDE, tolerance=0.02, max_fraction=0.1)
    assert (v.check, v.status) == ("duplicates", WARN)
    assert v.message == ("copies of training images in the held-out splits: 2 of 4 val images (1 exact); "
                         "1 of 5 test images (1 exact) also appear in train")
    assert v.advice == ("val/test accuracy is inflated by images the model has seen: remove the copies before "
                        "splitting (deduplicate the source), then split again")
    assert v.numbers == {"hash_side": SIDE, "tolerance": 0.02, "checked": {"train": 6, "val": 4, "test": 5},
                         "leaks": {"val": {"exact": 1, "near_or_exact": 2, "of": 4},
                                   "test": {"exact": 1, "near_or_exact": 1, "of": 5}}}


def test_a_share_of_copies_exactly_at_the_limit_passes():
    train = _images(6, 0)
    val = torch.cat([train[:1], _images(3, 1)])
    v = check_duplicates({"train": train, "val": val}, SIDE, tolerance=0.02, max_fraction=0.25)
    assert (v.check, v.status) == ("duplicates", PASS)
    assert v.message == "no training image reappears in val or test (1 of 4 val images (1 exact))"
    assert v.advice == ""
    assert check_duplicates({"train": train, "val": val}, SIDE, 0.02, max_fraction=0.24).status == WARN


def test_distinct_images_pass_and_missing_or_empty_splits_are_skipped():
    train = _images(6, 0)
    v = check_duplicates({"train": train, "val": _images(3, 1), "test": train[:0]}, SIDE, 0.02, 0.0)
    assert (v.status, v.message) == (PASS, "no training image reappears in val or test (0 of 3 val images (0 exact))")
    assert v.numbers["leaks"] == {"val": {"exact": 0, "near_or_exact": 0, "of": 3}}
    assert v.numbers["checked"] == {"train": 6, "val": 3, "test": 0}
    alone = check_duplicates({"train": train}, SIDE, 0.02, 0.0)
    assert (alone.status, alone.message) == (PASS, "no training image reappears in val or test (nothing to compare)")
    assert alone.numbers == {"hash_side": SIDE, "tolerance": 0.02, "checked": {"train": 6}, "leaks": {}}


def test_a_copy_too_far_in_pixels_is_not_a_near_copy():
    train = _images(6, 0)
    # the same average hash (a brightness shift keeps every thumbnail pixel on its side of the mean), but an RMS
    # difference of 0.03 of the range, above the tolerance of 0.02
    val = train[1:2] + 0.03
    assert check_duplicates({"train": train, "val": val}, SIDE, 0.02, 0.0).status == PASS
    assert check_duplicates({"train": train, "val": val}, SIDE, 0.04, 0.0).numbers["leaks"]["val"] == {
        "exact": 0, "near_or_exact": 1, "of": 1}


def test_the_closest_of_the_candidates_with_the_same_hash_confirms_a_near_copy():
    base = _images(1, 0)
    train = torch.cat([base + 0.2, base, base + 0.1])  # three images with the same average hash
    val = base + 0.005
    leaks = check_duplicates({"train": train, "val": val}, SIDE, 0.02, 0.0).numbers["leaks"]
    assert leaks["val"] == {"exact": 0, "near_or_exact": 1, "of": 1}


def test_an_exact_copy_counts_even_where_no_near_copy_is_confirmed():
    train = _images(6, 0)
    copies = train[3:5].clone()
    copies[0, 0, 0, 0] = -0.0  # a black pixel of negative zero is the same 8-bit pixel
    v = check_duplicates({"train": train, "val": copies}, SIDE, tolerance=0.0, max_fraction=0.0)
    assert v.numbers["leaks"]["val"] == {"exact": 2, "near_or_exact": 2, "of": 2} and v.status == WARN


def test_an_rms_difference_exactly_at_the_tolerance_is_not_a_near_copy():
    g = torch.Generator().manual_seed(0)
    train = torch.randint(0, 5, (3, 1, 4, 4), generator=g).float() / 4  # quarters: every difference is exact
    train[:, :, 0, 0], train[:, :, 0, 1] = 0.0, 1.0
    val = train[1:2] + 0.25  # an RMS difference of exactly 0.25 of the range
    assert check_duplicates({"train": train, "val": val}, SIDE, 0.25, 0.0).numbers["leaks"]["val"] == {
        "exact": 0, "near_or_exact": 0, "of": 1}
    assert check_duplicates({"train": train, "val": val}, SIDE, 0.2501, 0.0).numbers["leaks"]["val"] == {
        "exact": 0, "near_or_exact": 1, "of": 1}


def test_test_is_checked_even_when_val_is_empty():
    train = _images(6, 0)
    v = check_duplicates({"train": train, "val": train[:0], "test": train[:2]}, SIDE, 0.02, 0.0)
    assert v.numbers["leaks"] == {"test": {"exact": 2, "near_or_exact": 2, "of": 2}} and v.status == WARN


def test_the_tolerance_is_a_share_of_the_training_pixel_range():
    train = _images(6, 0) * 10  # pixels in [0, 10]: a shift of 0.1 is 1 % of the range
    val = train[2:3] + 0.1
    assert check_duplicates({"train": train, "val": val}, SIDE, 0.02, 0.0).numbers["leaks"]["val"] == {
        "exact": 0, "near_or_exact": 1, "of": 1}
    assert check_duplicates({"train": train, "val": val}, SIDE, 0.005, 0.0).status == PASS


def test_the_exact_hash_quantises_the_training_range_to_256_levels():
    train = _images(6, 0) * 2 - 1  # range [-1, 1]: one level is 2 / 255
    shifted = train[:1] + 0.6 / 255  # less than half a level: the same 8-bit pixels
    moved = train[1:2] + 1.2 / 255  # more than half a level: other pixels
    leaks = check_duplicates({"train": train, "val": shifted, "test": moved}, SIDE, 0.0, 0.0).numbers["leaks"]
    assert leaks == {"val": {"exact": 1, "near_or_exact": 1, "of": 1},
                     "test": {"exact": 0, "near_or_exact": 0, "of": 1}}


def test_constant_training_images_get_a_range_of_one():
    train = torch.full((3, 1, 4, 4), 0.5)
    # with a range of 1 a level is 1/255: 0.003 rounds to one level up (no exact copy) and is 0.3 % off (near)
    val = train[:1] + 0.003
    v = check_duplicates({"train": train, "val": val}, SIDE, tolerance=0.004, max_fraction=0.0)
    assert v.numbers["leaks"]["val"] == {"exact": 0, "near_or_exact": 1, "of": 1}
    assert check_duplicates({"train": train, "val": val}, SIDE, 0.002, 0.0).numbers["leaks"]["val"][
        "near_or_exact"] == 0


def test_images_as_small_as_the_thumbnail_are_hashed_as_they_are():
    train = _images(4, 0)[:, :, :2, :2]  # 2 × 2 images, a 2 × 2 hash
    v = check_duplicates({"train": train, "val": train[1:3] + 0.004}, SIDE, 0.02, 0.0)
    assert v.numbers["leaks"]["val"] == {"exact": 0, "near_or_exact": 2, "of": 2}


# One grey 2 × 4 image (2 × 2 thumbnail cells of 1 × 2 pixels) and a copy with one pixel 0.3 brighter: that pixel
# crosses the image's mean, but its thumbnail cell stays above the thumbnail's mean.
WIDE = torch.tensor([[1.0, 1.0, 0.2, 0.2], [1.0, 0.3, 0.0, 0.0]]).reshape(1, 1, 2, 4)
WIDE_COPY = WIDE.clone()
WIDE_COPY[0, 0, 1, 1] = 0.6


def test_images_wider_than_the_thumbnail_are_hashed_by_their_thumbnail():
    leaks = check_duplicates({"train": WIDE, "val": WIDE_COPY}, SIDE, tolerance=0.2, max_fraction=0.0).numbers["leaks"]
    assert leaks["val"] == {"exact": 0, "near_or_exact": 1, "of": 1}


def test_images_no_wider_than_the_thumbnail_are_hashed_pixel_by_pixel():
    tall, tall_copy = WIDE.transpose(2, 3), WIDE_COPY.transpose(2, 3)  # 4 × 2: hashed as they are
    leaks = check_duplicates({"train": tall, "val": tall_copy}, SIDE, tolerance=0.2, max_fraction=0.0).numbers["leaks"]
    assert leaks["val"] == {"exact": 0, "near_or_exact": 0, "of": 1}


def test_pixels_beyond_the_training_range_are_clipped_to_its_ends():
    train = _images(3, 0)  # pixel 0 black, pixel 1 white
    brighter, darker = train[:1].clone(), train[1:2].clone()
    brighter[:, :, 0, 1] = 1.01
    darker[:, :, 0, 0] = -0.01
    leaks = check_duplicates({"train": train, "val": brighter, "test": darker}, SIDE, 0.0, 0.0).numbers["leaks"]
    assert leaks == {"val": {"exact": 1, "near_or_exact": 1, "of": 1},
                     "test": {"exact": 1, "near_or_exact": 1, "of": 1}}


def test_a_near_copy_must_share_the_thumbnail_pattern():
    base = torch.zeros(1, 1, 4, 4)
    base[..., :2, :] = 1.0  # top half white
    flipped = 1.0 - base  # bottom half white: another average hash
    train = torch.cat([base, flipped * 0.0 + 0.5])
    v = check_duplicates({"train": train, "val": flipped}, SIDE, tolerance=2.0, max_fraction=0.0)
    assert v.numbers["leaks"]["val"]["near_or_exact"] == 0


# ---------------------------------------------------------------- input statistics


def test_normalised_images_pass_with_their_per_channel_statistics():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(8, 3, 5, 5, generator=g)
    v = check_input_statistics(x, max_abs_mean=1.0, std_range=(0.2, 5.0))
    mean = x.permute(1, 0, 2, 3).reshape(3, -1).mean(1)
    std = torch.tensor(np.std(x.permute(1, 0, 2, 3).reshape(3, -1).numpy(), axis=1, ddof=1))
    assert (v.check, v.status, v.advice) == ("input_statistics", PASS, "")
    shown = "/".join(f"{float(m):.3g}" for m in mean)
    spread = "/".join(f"{float(s):.3g}" for s in std)
    assert v.message == (f"inputs as the network sees them: mean {shown}, std {spread}, "
                         f"range [{float(x.min()):.3g}, {float(x.max()):.3g}] per channel")
    assert v.numbers["mean"] == pytest.approx(mean.tolist(), abs=1e-6)
    assert v.numbers["std"] == pytest.approx(std.tolist(), rel=1e-5)
    assert v.numbers["min"] == float(x.min()) and v.numbers["max"] == float(x.max())
    assert v.numbers["max_abs_mean"] == 1.0 and v.numbers["std_range"] == [0.2, 5.0]


def test_raw_pixels_are_not_normalised():
    x = torch.tensor([[0.0, 255.0], [255.0, 0.0]]).reshape(2, 1, 1, 2)  # one channel
    v = check_input_statistics(x, 1.0, (0.2, 5.0))
    std = float(np.std([0, 255, 255, 0], ddof=1))
    assert (v.check, v.status) == ("input_statistics", WARN)
    assert v.message == (f"the inputs are not normalised: mean 128, std {std:.3g}, range [0, 255] just before the "
                         "network")
    assert v.advice == ("zero-centre and scale the inputs with the training split's statistics "
                        "(data.normalize=meanstd); raw 0–255 pixels make the first layer's gradients huge")
    assert v.numbers == {"mean": [127.5], "std": [pytest.approx(std)], "min": 0.0, "max": 255.0, "max_abs_mean": 1.0,
                         "std_range": [0.2, 5.0]}


def test_feature_vectors_are_summarised_per_feature_and_only_three_are_shown():
    x = torch.tensor([[0.0, 1.0, 2.0, 3.0], [2.0, 3.0, 4.0, 5.0]])
    v = check_input_statistics(x, max_abs_mean=10.0, std_range=(0.2, 5.0))
    assert v.numbers["mean"] == [1.0, 2.0, 3.0, 4.0]
    assert v.numbers["std"] == pytest.approx([math.sqrt(2)] * 4)
    assert v.message == "inputs as the network sees them: mean 1/2/3/…, std 1.41/1.41/1.41/…, range [0, 5] per channel"


def test_sequences_are_summarised_per_channel_over_batch_and_length():
    x = torch.tensor([[[0.0, 2.0], [1.0, 1.0]], [[0.0, 2.0], [1.0, 1.0]]])  # N × C × L: 2 × 2 × 2
    v = check_input_statistics(x, 1.0, (0.0, 5.0))
    assert v.message == "inputs as the network sees them: mean 1/1, std 1.15/0, range [0, 2] per channel"
    assert v.numbers["mean"] == [1.0, 1.0]
    assert v.numbers["std"] == pytest.approx([float(np.std([0, 2, 0, 2], ddof=1)), 0.0])


def test_a_single_feature_is_not_called_per_channel():
    x = torch.tensor([[-1.0], [1.0]])
    v = check_input_statistics(x, 1.0, (0.2, 5.0))
    assert v.message == "inputs as the network sees them: mean 0, std 1.41, range [-1, 1]"


@pytest.mark.parametrize("shift, status", [(1.0, PASS), (-1.0, PASS), (1.0001, WARN), (-1.0001, WARN)])
def test_a_mean_exactly_at_the_limit_still_passes(shift, status):
    x = torch.tensor([[-1.0], [1.0]], dtype=torch.float64) + shift
    assert check_input_statistics(x, max_abs_mean=1.0, std_range=(0.2, 5.0)).status == status


@pytest.mark.parametrize("low, high, status", [
    ("std", 5.0, PASS), (0.2, "std", PASS), ("above", 5.0, WARN), (0.2, "below", WARN)])
def test_a_std_exactly_at_either_end_of_the_range_still_passes(low, high, status):
    x = torch.tensor([[0.0, 1.0], [1.0, 0.0]])  # per feature: mean 0.5, std √½
    std = float(x.std(0)[0])
    edge = {"std": std, "above": std * 1.001, "below": std * 0.999}
    check = check_input_statistics(x, 1.0, (edge.get(low, low), edge.get(high, high)))
    assert check.status == status


def test_one_bad_channel_is_enough():
    x = torch.randn(16, 3, 2, 2, generator=torch.Generator().manual_seed(0))
    x[:, 2] *= 100
    assert check_input_statistics(x, 1.0, (0.2, 5.0)).status == WARN
    x = torch.randn(16, 3, 2, 2, generator=torch.Generator().manual_seed(0))
    x[:, 1] *= 0.01
    assert check_input_statistics(x, 1.0, (0.2, 5.0)).status == WARN


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), -float("inf")])
def test_nan_or_inf_inputs_are_named(bad):
    x = torch.tensor([[0.0], [1.0], [bad]])
    v = check_input_statistics(x, 1.0, (0.2, 5.0))
    assert (v.check, v.status) == ("input_statistics", WARN)
    assert v.message.startswith("the inputs hold NaN/inf values (mean ")
    assert v.advice == "clean the data: a NaN input makes every loss NaN"
    assert (v.numbers["max_abs_mean"], v.numbers["std_range"], len(v.numbers["mean"])) == (1.0, [0.2, 5.0], 1)


def test_inf_of_both_signs_is_not_finite():
    v = check_input_statistics(torch.tensor([[-float("inf")], [float("inf")], [0.0]]), 1e9, (0.0, math.inf))
    assert v.message.startswith("the inputs hold NaN/inf values")


def test_integer_inputs_are_summarised_as_floats():
    v = check_input_statistics(torch.tensor([[0], [2]]), 1.0, (0.2, 5.0))
    assert (v.status, v.numbers["mean"], v.numbers["min"], v.numbers["max"]) == (PASS, [1.0], 0.0, 2.0)


# ---------------------------------------------------------------- label sanity


def test_labels_that_carry_over_beat_the_baseline_by_more_than_chance():
    v = check_label_sanity(0.9, n_val=100, baseline=0.5, covered=True, z=3.0)
    margin = 3.0 * math.sqrt(0.5 * 0.5 / 100)
    assert (v.check, v.status, v.advice) == ("label_sanity", PASS, "")
    assert v.message == ("labels carry over: after memorising the tiny subset, val accuracy 0.900 beats the majority "
                         "baseline 0.500 by more than chance (+0.150)")
    assert v.numbers == {"val_acc": 0.9, "val_examples": 100, "baseline": 0.5, "z": 3.0, "margin": margin}


def test_a_val_accuracy_exactly_at_baseline_plus_margin_warns():
    margin = 2.0 * math.sqrt(0.2 * 0.8 / 64)
    v = check_label_sanity(0.2 + margin, n_val=64, baseline=0.2, covered=True, z=2.0)
    assert (v.check, v.status) == ("label_sanity", WARN)
    assert v.numbers["margin"] == margin
    assert v.message == ("after memorising the tiny subset, val accuracy 0.300 is no better than the majority "
                         "baseline 0.200 (+0.100 for chance on 64 examples): the model learns nothing that carries "
                         "over")
    assert v.advice == ("the labels may not match the inputs (shuffled labels, a misaligned label file, a wrong class "
                        "order between splits), or val comes from another distribution than train")
    assert check_label_sanity(0.2 + margin * 1.001, 64, 0.2, True, 2.0).status == PASS


@pytest.mark.parametrize("covered, n_val, acc, why", [
    (False, 50, 0.9, "the tiny subset does not hold every class"),
    (False, 0, 0.9, "the tiny subset does not hold every class"),
    (True, 0, 0.9, "there is no validation data"),
    (True, 50, float("nan"), "there is no validation data"),
])
def test_label_sanity_is_not_judged_without_every_class_or_val_data(covered, n_val, acc, why):
    v = check_label_sanity(acc, n_val, 0.5, covered, 3.0)
    assert (v.check, v.status, v.message) == ("label_sanity", INFO, f"label sanity not judged: {why}")
    assert v.numbers == {"val_acc": acc, "val_examples": n_val, "baseline": 0.5, "z": 3.0} or math.isnan(acc)
    assert "margin" not in v.numbers
