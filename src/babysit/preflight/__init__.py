"""Preflight: the babysitting checks that run before training (protocol steps 3–6), each on
a fresh copy of the untrained model, with the torch RNG restored afterwards so that training
gives the same numbers with or without them."""

import time

import torch
from omegaconf import DictConfig

from babysit.data import InMemoryDataModule
from babysit.module import Classifier
from babysit.preflight.initial_loss import check_initial_loss, check_reg_up, initial_losses
from babysit.preflight.lr_bounds import check_too_high, check_too_low, loss_trace
from babysit.preflight.lr_range import check_range, sweep
from babysit.preflight.overfit import overfit_tiny
from babysit.verdict import Verdict, console, show


def run_preflight(bcfg: DictConfig, module: Classifier, dm: InMemoryDataModule, lr: float) -> list[Verdict]:
    """Run the enabled checks in the lecture's order; print and return their verdicts."""
    net, criterion, reg, make_optimizer = module.net, module.criterion, module.reg, module.optimizer_factory
    verdicts: list[Verdict] = []

    def record(verdict: Verdict, started: float) -> None:
        verdict.numbers["seconds"] = round(time.perf_counter() - started, 3)
        verdicts.append(verdict)
        show(verdict)

    console.print("[bold]Preflight[/bold] (babysit.preflight=false skips it)")
    with torch.random.fork_rng(devices=[]):
        if bcfg.initial_loss.enabled or bcfg.reg_up.enabled:
            t = time.perf_counter()
            loss, cost_up = initial_losses(net, criterion, dm, bcfg.initial_loss.batches, bcfg.reg_up.l2)
            if bcfg.initial_loss.enabled:
                record(check_initial_loss(loss, criterion, dm.num_classes, bcfg.initial_loss.rel_tolerance), t)
            if bcfg.reg_up.enabled:
                record(check_reg_up(loss, cost_up, bcfg.reg_up.l2), t)
        if bcfg.overfit.enabled:
            t = time.perf_counter()
            o = bcfg.overfit
            record(overfit_tiny(net, criterion, dm, o.examples, o.epochs, o.lr, o.target_acc, o.print_every,
                                echo=console.print), t)
        if bcfg.lr_bounds.enabled:
            b = bcfg.lr_bounds
            t = time.perf_counter()
            record(check_too_low(loss_trace(net, criterion, reg, make_optimizer, dm, b.too_low, b.steps),
                                 b.too_low, b.barely_changes), t)
            t = time.perf_counter()
            record(check_too_high(loss_trace(net, criterion, reg, make_optimizer, dm, b.too_high, b.steps),
                                  b.too_high, bcfg.monitors.explosion_factor), t)
        if bcfg.range_test.enabled:
            r = bcfg.range_test
            t = time.perf_counter()
            trace = sweep(net, criterion, reg, make_optimizer, dm, r.start, r.end, r.steps, r.stop_factor, r.smoothing)
            record(check_range(trace, lr), t)
    return verdicts
