"""What a search takes from the babysitting before it: the learning-rate range from the range test
(widened), the regularisation range from where the penalty starts to outweigh the data loss at
init, the epochs a trial needs for its loss to move (from the steps the overfit check needed),
and whether the validation split is large enough to tell trials apart."""

import math
from dataclasses import dataclass, field

from babysit.errors import BabysitError

LR, REG = "optimizer.lr", "reg.l2"


@dataclass
class Plan:
    params: dict[str, dict]  # config key → {type, low, high}
    sources: dict[str, str]  # config key → where its range came from, in words
    epochs: dict[str, int]  # stage name → epochs per trial
    budget: str  # how the epochs were chosen, in words
    cv_folds: int  # > 0: fine trials are scored by K-fold cross-validation
    scoring: str  # how the fine trials are scored, and why
    warnings: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"params": self.params, "sources": self.sources, "epochs": self.epochs, "budget": self.budget,
                "cv_folds": self.cv_folds, "scoring": self.scoring, "warnings": self.warnings}


def _check(summary: dict, name: str) -> dict | None:
    return next((c for c in (summary.get("preflight") or {}).get("checks", []) if c["check"] == name), None)


def lr_range(summary: dict, configured: dict | None, widen: float) -> tuple[dict | None, str, str | None]:
    """(range, where it came from, warning) for the learning rate."""
    check = _check(summary, "lr_range")
    n = (check or {}).get("numbers") or {}
    if "low" not in n:
        why = "the range test found no usable range" if check else "the range test did not run"
        return configured, f"configured ({why})", f"{why}: the learning rate is searched in its configured range"
    low, high = n["low"] / widen, n["high"] * widen
    return ({"type": "log", "low": low, "high": high},
            f"range test: the loss falls from {n['low']:.1e} to {n['high']:.1e}, widened ×{widen:g} on each side", None)


def reg_range(summary: dict, configured: dict | None, decades: float,
              top_share: float) -> tuple[dict | None, str, str | None]:
    """(range, where it came from, warning) for reg.l2: its top is where ½·l2·Σw² at init equals
    `top_share` × the data loss at init; it reaches `decades` below."""
    check = _check(summary, "reg_up")
    n = (check or {}).get("numbers") or {}
    loss, weights = n.get("loss_reg_off"), n.get("weights_sq")
    if not loss or not weights or not math.isfinite(loss) or weights <= 0:
        return configured, "configured (no measurement of the weights at init)", None
    top = top_share * 2 * loss / weights
    return ({"type": "log", "low": top / 10**decades, "high": top},
            f"at init ½·l2·Σw² (Σw² = {weights:.4g}) reaches {top_share:g} × the data loss {loss:.4f} at "
            f"l2 = {top:.2e}; searched {decades:g} decades below that", None)


def trial_epochs(summary: dict, factor: float, min_epochs: int, final_epochs: int) -> tuple[int, int, str]:
    """(coarse epochs, fine epochs, how): a coarse trial gets `factor` × the optimiser steps the overfit
    check needed to reach train acc 1.00, in epochs of the real data; a fine trial twice that; neither more
    than the final training."""
    sizes = (summary.get("data") or {}).get("sizes") or {}
    batch = (summary.get("hparams") or {}).get("data/batch_size") or 1
    per_epoch = max(1, math.ceil(sizes.get("train", 1) / batch))
    check = _check(summary, "overfit_tiny")
    reached = ((check or {}).get("numbers") or {}).get("reached_epoch")
    if not reached:
        coarse = max(min_epochs, final_epochs // 4)
        how = f"the overfit check did not reach train acc 1.00: a quarter of the final {final_epochs} epochs"
    else:
        steps = factor * reached
        coarse = min(max(min_epochs, math.ceil(steps / per_epoch)), max(min_epochs, final_epochs // 2))
        how = (f"the overfit check needed {reached} steps to reach train acc 1.00; a coarse trial gets "
               f"{factor:g} × that = {steps:g} steps = {coarse} epochs of {per_epoch} steps (at least {min_epochs}, at "
               f"most half the final {final_epochs})")
    fine = min(final_epochs, 2 * coarse)
    return coarse, fine, how + f"; a fine trial twice that ({fine})"


def scoring(summary: dict, examples: int, folds: int) -> tuple[int, str]:
    """(cv folds, why): a validation split smaller than `examples` cannot tell close trials apart."""
    n = ((summary.get("data") or {}).get("sizes") or {}).get("val", 0)
    counts = (((_check(summary, "class_balance") or {}).get("numbers") or {}).get("counts") or {})
    pooled = [a + b for a, b in zip(counts.get("train", []), counts.get("val", []), strict=False)]
    if folds >= 2 and n < examples and pooled and folds > min(pooled):
        raise BabysitError(f"hydra.sweeper.small_val.folds={folds} is larger than the smallest class ({min(pooled)} "
                           f"examples in train+val): use {max(2, min(pooled))} or fewer")
    if folds >= 2 and n < examples:
        return folds, (f"the val split holds {n} examples (< {examples}): one example is {1 / max(n, 1):.3f} of "
                       f"accuracy, so fine trials are scored by {folds}-fold cross-validation on train + val")
    return 0, f"the val split holds {n} examples: fine trials are scored on it"


def given(spec: dict | None) -> bool:
    """Both bounds given in the config: they win over any measurement."""
    return spec is not None and (spec.get("type") == "choice" or (spec.get("low") is not None
                                                                   and spec.get("high") is not None))


def fallback(spec: dict | None) -> dict | None:
    """The range a measured parameter falls back to (`fallback: [low, high]` in its config)."""
    if spec is None or not spec.get("fallback"):
        return None
    low, high = spec["fallback"]
    return {"type": spec.get("type", "log"), "low": low, "high": high}


def make_plan(summary: dict, configured: dict[str, dict], settings: dict, stages: list[str], final_epochs: int) -> Plan:
    """The ranges (measured unless a config key gives both bounds), the stages' epochs and the scoring.
    `settings`: the sweeper's plan settings (widen, reg, budget, small_val)."""
    params = {k: v for k, v in configured.items() if given(v)}
    sources, warnings = dict.fromkeys(params, "configured"), []
    measured = {LR: lambda spec: lr_range(summary, fallback(spec), settings["widen"]),
                REG: lambda spec: reg_range(summary, fallback(spec), settings["reg"]["decades"],
                                            settings["reg"]["top_share"])}
    for key, spec in configured.items():
        if given(spec):
            continue
        if key not in measured:
            raise BabysitError(f"search param {key}: give low and high (only {LR} and {REG} are measured)")
        found, source, warning = measured[key](spec)
        if found is None:
            raise BabysitError(f"search param {key}: nothing measured it and it has no fallback: give low and high")
        params[key], sources[key] = {**found, "type": spec.get("type", found["type"])}, source
        if warning:
            warnings.append(warning)
    coarse, fine, how = trial_epochs(summary, settings["budget"]["factor"], settings["budget"]["min_epochs"],
                                     final_epochs)
    folds, why = scoring(summary, settings["small_val"]["examples"], settings["small_val"]["folds"])
    epochs = {name: coarse if i == 0 else fine for i, name in enumerate(stages)}
    return Plan(params, sources, epochs, how, folds, why, warnings)
