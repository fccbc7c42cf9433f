"""Preflight: the babysitting checks that run before training (protocol steps 3–6, and the checks of
the data and the model that catch the classic bugs), each on a fresh copy of the untrained model,
with the torch RNG restored afterwards so that training gives the same numbers with or without them.
Every check reads the training setup through a `Probe`, so babysit's own runs and any LightningModule
get the same checks."""

import time
from pathlib import Path

import torch
from omegaconf import DictConfig

from babysit.errors import BabysitError
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
from babysit.preflight.preview import save_preview
from babysit.preflight.probe import Probe
from babysit.verdict import INFO, Verdict, console, show


def make_probe(trainer, module, fmt, loss_fn=None, num_classes: int | None = None) -> Probe:
    """babysit's own Classifier on its own data module, or any LightningModule on its DataLoaders."""
    from babysit.module import Classifier

    dm = trainer.datamodule
    if isinstance(module, Classifier) and hasattr(dm, "examples"):
        from babysit.preflight.classifier_probe import ClassifierProbe

        return ClassifierProbe(module, dm)
    from babysit.preflight.lightning_probe import LightningProbe

    return LightningProbe(trainer, module, fmt, loss_fn, num_classes)


def run_preflight(options: DictConfig, probe: Probe, lr: float, out_dir: Path | None = None) -> list[Verdict]:
    """Run the enabled checks (options: conf/babysit/default.yaml) in the lecture's order; print and
    return their verdicts. `lr` is the run's learning rate; `out_dir` receives the preview of a
    training batch that the report shows."""
    verdicts: list[Verdict] = []
    on = {name: options[name].enabled for name in (
        "class_balance", "duplicates", "input_statistics", "raw_scores", "initial_loss", "reg_up", "reg_balance",
        "batch_independence",
        "parameters_learn", "eval_determinism", "overfit", "label_sanity", "input_dependence", "lr_bounds",
        "range_test")}

    def record(verdict: Verdict, started: float) -> Verdict:
        verdict.numbers["seconds"] = round(time.perf_counter() - started, 3)
        verdicts.append(verdict)
        show(verdict)
        return verdict

    def guarded(check: str, run, *args) -> Verdict:
        """A check that cannot run on this model says so and lets the others run; a user error stops."""
        started = time.perf_counter()
        try:
            verdict = run(*args)
        except BabysitError:
            raise
        except Exception as e:  # noqa: BLE001
            verdict = Verdict(check, INFO, f"{check} could not run on this model ({type(e).__name__}: {e})")
        return record(verdict, started)

    console.print("[bold]Preflight[/bold] (babysit.preflight=false skips it)")
    with torch.random.fork_rng(devices=[]):
        probe.num_classes  # noqa: B018 - reads a batch and checks the scores' shape before any check runs
        baseline = None
        if on["class_balance"]:
            t = time.perf_counter()
            counts, classes, what = probe.class_counts()
            balance = record(check_class_balance(counts, classes, options.class_balance.max_ratio, what), t)
            baseline = balance.numbers["majority_baseline"]
        if on["duplicates"]:
            t = time.perf_counter()
            d = options.duplicates
            splits = probe.raw_splits(d.max_examples)
            record(check_duplicates(splits, d.hash_side, d.near_rms, d.max_fraction) if splits is not None else
                   Verdict("duplicates", INFO, "duplicates not checked: only the DataLoaders' (transformed) batches "
                                               "are known"), t)
        if on["input_statistics"]:
            t = time.perf_counter()
            x, y = probe.training_view()
            record(check_input_statistics(x, options.input_statistics.max_abs_mean,
                                          tuple(options.input_statistics.std_range)), t)
            if out_dir is not None:
                save_preview(Path(out_dir), x, y, probe.class_names())
        if on["raw_scores"]:
            guarded("raw_scores", check_raw_scores, probe)
        if on["initial_loss"] and probe.head_trained:
            on["initial_loss"] = False
            record(Verdict("initial_loss", INFO, "initial loss not checked: the output layer comes trained "
                                                 "(transfer.head=keep), so the loss does not start at chance"),
                   time.perf_counter())
        if on["initial_loss"] or on["reg_up"]:
            t = time.perf_counter()
            loss, cost_up = initial_losses(probe, options.initial_loss.batches, options.reg_up.l2)
            if on["initial_loss"]:
                record(check_initial_loss(loss, probe.expected_initial_loss(), probe.num_classes,
                                          options.initial_loss.rel_tolerance, probe.fmt.size(probe.first_batch())), t)
            if on["reg_up"]:
                record(check_reg_up(loss, cost_up, options.reg_up.l2), t)
        if on["reg_balance"]:
            guarded("reg_balance", check_reg_balance, probe, options.initial_loss.batches,
                    options.reg_balance.max_ratio)
        if on["batch_independence"]:
            guarded("batch_independence", check_batch_independence, probe, options.batch_independence.examples)
        if on["parameters_learn"]:
            guarded("parameters_learn", check_parameters_learn, probe, lr)
        if on["eval_determinism"]:
            guarded("eval_determinism", check_eval_determinism, probe, options.eval_determinism.rel_tolerance)
        if on["overfit"]:
            t = time.perf_counter()
            o = options.overfit
            fit = record(overfit_tiny(probe, o.examples, o.epochs, o.lr, o.target_acc, o.max_final_cost,
                                      o.print_every, echo=console.print), t)
            if on["label_sanity"]:
                t = time.perf_counter()
                n = fit.numbers
                majority = (baseline or {}).get("val", (baseline or {}).get("train", 1.0 / probe.num_classes))
                record(check_label_sanity(n["val_acc"], n["val_examples"], majority,
                                          n["classes_seen"] == probe.num_classes, options.label_sanity.z), t)
        if on["input_dependence"]:
            i = options.input_dependence
            guarded("input_dependence", check_input_dependence, probe, i.examples, i.steps, i.lr, i.ratio,
                    i.min_acc_gain)
        if on["lr_bounds"]:
            b = options.lr_bounds
            t = time.perf_counter()
            record(check_too_low(loss_trace(probe, b.too_low, b.steps), b.too_low, b.barely_changes), t)
            t = time.perf_counter()
            record(check_too_high(loss_trace(probe, b.too_high, b.steps), b.too_high,
                                  options.monitors.explosion.factor), t)
        if on["range_test"]:
            r = options.range_test
            t = time.perf_counter()
            record(check_range(sweep(probe, r.start, r.end, r.steps, r.stop_factor, r.smoothing), lr, r.slack), t)
    return verdicts
