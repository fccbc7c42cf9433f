"""Checks of the data, before training: class balance (and the accuracy a constant guess gets),
copies of the same image in train and in val/test, the statistics of the inputs as the network
sees them, and whether the labels carry information the model can pick up."""

import hashlib
import math

import numpy as np
import torch
import torch.nn.functional as F

from babysit.verdict import INFO, PASS, WARN, Verdict


def check_class_balance(counts: dict[str, list[int]], classes: list, max_ratio: float,
                        counted: str = "every example") -> Verdict:
    """counts: per split, examples per class. Imbalanced (largest / smallest class > max_ratio): the
    majority-class baseline is the accuracy every reported accuracy must beat."""
    train = np.asarray(counts["train"], dtype=float)
    share = train / train.sum()
    major = int(share.argmax())
    ratio = float(train.max() / max(train.min(), 1))
    baselines = {split: float(max(c) / max(1, sum(c))) for split, c in counts.items() if sum(c)}
    numbers = {"counts": counts, "classes": [str(c) for c in classes], "majority_class": str(classes[major]),
               "majority_baseline": baselines, "ratio": ratio, "max_ratio": max_ratio, "counted": counted}
    spread = ", ".join(f"{c} {n:.0f}" for c, n in zip(classes[:10], train[:10], strict=False))
    where = "in train" if counted == "every example" else f"in {counted}"
    if ratio > max_ratio:
        return Verdict(
            "class_balance", WARN,
            f"classes imbalanced {ratio:.0f}:1 {where} ({spread}{', …' if len(classes) > 10 else ''}): always "
            f"answering {classes[major]!r} scores {baselines['train']:.2f} — accuracy flatters",
            advice="judge the run by balanced accuracy (in summary.json) against the majority baseline, and weight "
                   "the loss by class or resample the rare classes",
            numbers=numbers)
    return Verdict("class_balance", PASS, f"classes balanced within {ratio:.1f}:1 {where} ({spread}"
                                          f"{', …' if len(classes) > 10 else ''}); majority baseline "
                                          f"{baselines['train']:.2f}", numbers=numbers)


def _hashes(x: torch.Tensor, lo: float, hi: float) -> list[str]:
    """Exact hashes of the images as 8-bit pixels of the range [lo, hi]: re-encoded copies hash alike."""
    pixels = ((x - lo) / (hi - lo) * 255).clamp(0, 255).round().to(torch.uint8).flatten(1).numpy()
    return [hashlib.blake2b(row.tobytes(), digest_size=12).hexdigest() for row in pixels]


def _small(x: torch.Tensor, side: int) -> torch.Tensor:
    grey = x.mean(1, keepdim=True)
    return F.adaptive_avg_pool2d(grey, side).flatten(1) if grey.shape[-1] > side else grey.flatten(1)


def _near(a: torch.Tensor, b: torch.Tensor, side: int, tolerance: float) -> int:
    """How many images of `b` have a near copy in `a`: the same average hash (side × side grey,
    above/below its mean), confirmed by a pixel RMS difference below `tolerance`."""
    small_a, small_b = _small(a, side), _small(b, side)
    keys = {}
    for i, bits in enumerate((small_a > small_a.mean(1, keepdim=True)).numpy()):
        keys.setdefault(bits.tobytes(), []).append(i)
    found = 0
    for j, bits in enumerate((small_b > small_b.mean(1, keepdim=True)).numpy()):
        candidates = keys.get(bits.tobytes())
        if candidates and float(((a[candidates] - b[j]) ** 2).flatten(1).mean(1).sqrt().min()) < tolerance:
            found += 1
    return found


def check_duplicates(splits: dict[str, torch.Tensor], hash_side: int, tolerance: float, max_fraction: float) -> Verdict:
    """splits: raw images (N × C × H × W) of train, val and test; `tolerance` is a share of the training
    images' pixel range. A val or test image that also sits in train (an exact or near copy) measures
    memory, not generalisation."""
    lo, hi = float(splits["train"].min()), float(splits["train"].max())
    hi = hi if hi > lo else lo + 1.0
    train = set(_hashes(splits["train"], lo, hi))
    numbers = {"hash_side": hash_side, "tolerance": tolerance, "checked": {k: len(v) for k, v in splits.items()}}
    leaks = {}
    for name in ("val", "test"):
        x = splits.get(name)
        if x is None or not len(x):
            continue
        exact = sum(h in train for h in _hashes(x, lo, hi))
        near = _near(splits["train"], x, hash_side, tolerance * (hi - lo))
        leaks[name] = {"exact": exact, "near_or_exact": max(near, exact), "of": len(x)}
    numbers["leaks"] = leaks
    worst = max((v["near_or_exact"] / v["of"] for v in leaks.values()), default=0.0)
    said = "; ".join(f"{v['near_or_exact']} of {v['of']} {k} images ({v['exact']} exact)" for k, v in leaks.items())
    if worst > max_fraction:
        return Verdict(
            "duplicates", WARN, f"copies of training images in the held-out splits: {said} also appear in train",
            advice="val/test accuracy is inflated by images the model has seen: remove the copies before splitting "
                   "(deduplicate the source), then split again",
            numbers=numbers)
    return Verdict("duplicates", PASS, f"no training image reappears in val or test ({said or 'nothing to compare'})",
                   numbers=numbers)


def check_input_statistics(x: torch.Tensor, max_abs_mean: float, std_range: tuple[float, float]) -> Verdict:
    """The inputs of a training batch as the network sees them (after augmentation and normalisation):
    zero-centred with a unit-order spread, as the lecture's preprocessing makes them."""
    dims = [d for d in range(x.ndim) if d != 1] if x.ndim > 2 else [0]
    mean = x.float().mean(dim=dims)
    std = x.float().std(dim=dims)
    lo, hi = float(x.min()), float(x.max())
    numbers = {"mean": mean.tolist(), "std": std.tolist(), "min": lo, "max": hi, "max_abs_mean": max_abs_mean,
               "std_range": list(std_range)}
    shown = (f"mean {_few(mean)}, std {_few(std)}, range [{lo:.3g}, {hi:.3g}]"
             + (" per channel" if len(mean) > 1 else ""))
    off = bool((mean.abs() > max_abs_mean).any()) or bool(((std < std_range[0]) | (std > std_range[1])).any())
    if not math.isfinite(lo + hi):
        return Verdict("input_statistics", WARN, f"the inputs hold NaN/inf values ({shown})",
                       advice="clean the data: a NaN input makes every loss NaN", numbers=numbers)
    if off:
        return Verdict(
            "input_statistics", WARN, f"the inputs are not normalised: {shown} just before the network",
            advice="zero-centre and scale the inputs with the training split's statistics (data.normalize=meanstd); "
                   "raw 0–255 pixels make the first layer's gradients huge",
            numbers=numbers)
    return Verdict("input_statistics", PASS, f"inputs as the network sees them: {shown}", numbers=numbers)


def _few(values: torch.Tensor, shown: int = 3) -> str:
    parts = [f"{float(v):.3g}" for v in values[:shown]]
    return "/".join(parts) + ("/…" if len(values) > shown else "")


def check_label_sanity(val_acc: float, n_val: int, baseline: float, covered: bool, z: float) -> Verdict:
    """After memorising the tiny subset, the model must beat the majority baseline on validation data
    by more than chance explains (z standard errors): if not, the labels may not belong to the inputs."""
    numbers = {"val_acc": val_acc, "val_examples": n_val, "baseline": baseline, "z": z}
    if not covered or not n_val or not math.isfinite(val_acc):
        why = "the tiny subset does not hold every class" if not covered else "there is no validation data"
        return Verdict("label_sanity", INFO, f"label sanity not judged: {why}", numbers=numbers)
    margin = z * math.sqrt(baseline * (1 - baseline) / n_val)
    numbers["margin"] = margin
    if val_acc <= baseline + margin:
        return Verdict(
            "label_sanity", WARN,
            f"after memorising the tiny subset, val accuracy {val_acc:.3f} is no better than the majority baseline "
            f"{baseline:.3f} (+{margin:.3f} for chance on {n_val} examples): the model learns nothing that carries "
            f"over",
            advice="the labels may not match the inputs (shuffled labels, a misaligned label file, a wrong class "
                   "order between splits), or val comes from another distribution than train",
            numbers=numbers)
    return Verdict("label_sanity", PASS,
                   f"labels carry over: after memorising the tiny subset, val accuracy {val_acc:.3f} beats the "
                   f"majority baseline {baseline:.3f} by more than chance (+{margin:.3f})", numbers=numbers)
