"""One training run: build everything from the config, fit, test, write the summary."""

import logging
import sys
import time
import warnings
from pathlib import Path

import lightning.pytorch as pl
import torch
import torch.utils.deterministic
from hydra.utils import instantiate
from lightning.pytorch.loggers import TensorBoardLogger
from lightning.pytorch.utilities.exceptions import SIGTERMException
from omegaconf import DictConfig, OmegaConf

from babysit.callbacks.resume import ResumeCheckpoint, TrainingInterrupted
from babysit.checkpoint import describe
from babysit.config import check_config, flat_hparams
from babysit.cross_validation import run_cross_validation
from babysit.distributed import check_devices
from babysit.errors import BabysitError
from babysit.evaluate import evaluate
from babysit.module import Classifier
from babysit.preflight import run_preflight
from babysit.regularization import Regularizer
from babysit.report import write_report_safely
from babysit.resume import ResumePoint, record_config, relog_metric_rows, resume_command
from babysit.summary import RunSummary
from babysit.transfer import apply_transfer
from babysit.verdict import worst


def build(cfg: DictConfig, fold: int | None = None, resume: ResumePoint | None = None):
    """DataModule (set up), LightningModule and Trainer for `cfg` (for one cross-validation fold; to
    continue from `resume`)."""
    quiet_lightning()
    check_config(cfg)
    check_devices(cfg.trainer)
    pl.seed_everything(cfg.seed, workers=True, verbose=False)
    cv = cfg.get("cv") or {}
    dm = instantiate(cfg.data, cv_fold=fold, cv_folds=cv.get("folds", 0), cv_seed=cv.get("seed", 0))
    dm.setup("fit")
    net = instantiate(cfg.model)
    transfer = None
    if cfg.get("transfer") and cfg.transfer.checkpoint:
        t = cfg.transfer
        transfer = apply_transfer(net, t.checkpoint, dm.classes, t.mode, t.head, t.backbone_lr_scale)
    module = Classifier(
        net=net,
        criterion=instantiate(cfg.loss),
        optimizer=instantiate(cfg.optimizer),
        num_classes=cfg.data.num_classes,
        scheduler=instantiate(cfg.scheduler, _convert_="all"),
        regularizer=Regularizer(**OmegaConf.to_container(cfg.reg, resolve=True)),
        channels_last=cfg.get("channels_last", False),
        meta=describe(OmegaConf.to_container(cfg.model, resolve=True), dm.classes, dm.in_shape,
                      dm.normalizer.as_dict(), dm.name),
        transfer=transfer,
    )
    callbacks = [instantiate(c) for c in cfg.get("callbacks", {}).values() if c is not None]
    if cfg.get("trial") and cfg.trial.get("study") and fold is None:  # folds would report the same steps
        callbacks.append(pruning_callback(cfg))
    loggers = [instantiate(c, **resumed_logger(c, resume)) for c in cfg.get("logger", {}).values() if c is not None]
    trainer = instantiate(cfg.trainer, callbacks=callbacks, logger=loggers or False)
    if cfg.trainer.get("deterministic"):
        # Deterministic kernels stay on; filling every new tensor with NaN (a debugging aid
        # that comes with them) costs time and changes no result.
        torch.utils.deterministic.fill_uninitialized_memory = False
    return dm, module, trainer


def resumed_logger(logger_cfg: DictConfig, resume: ResumePoint | None) -> dict:
    """TensorBoard hides what the interrupted run logged after the checkpoint (it is logged again)."""
    if resume is None or not str(logger_cfg.get("_target_", "")).endswith("TensorBoardLogger"):
        return {}
    return {"purge_step": resume.step + 1}


NOISE = (
    r"Experiment logs directory .* exists and is not empty",  # the run dir also holds .hydra/ and summary.json
    r"Checkpoint directory .* exists and is not empty",  # a resumed run continues in its own directory
    r"The number of training batches .* is smaller than the logging interval",  # steps are counted across epochs
    r".*treespec.*LeafSpec",
)


def pruning_callback(cfg: DictConfig):
    """Reports the optimised metric to the sweep's Optuna trial after every validation."""
    import optuna
    from optuna_integration import PyTorchLightningPruningCallback

    from babysit.search.coarse_to_fine import make_pruner
    from babysit.search.storage import open_storage

    pruner = make_pruner(OmegaConf.to_container(cfg.trial.pruner)) if cfg.trial.get("pruner") else None
    study = optuna.load_study(study_name=cfg.trial.study, storage=open_storage(cfg.trial.storage), pruner=pruner)
    return PyTorchLightningPruningCallback(optuna.trial.Trial(study, cfg.trial.id), monitor=cfg.optimized_metric)


def quiet_lightning() -> None:
    """Lightning's info chatter (devices, checkpoint restores) hides the epoch lines."""
    for name in ("lightning.pytorch", "lightning.fabric"):
        logging.getLogger(name).setLevel(logging.WARNING)
    for pattern in NOISE:
        warnings.filterwarnings("ignore", message=pattern)


def run(cfg: DictConfig) -> float | None:
    """Train (one model, or one per fold under cv.folds ≥ 2) and return cfg.optimized_metric."""
    if (cfg.get("cv") or {}).get("folds"):
        if cfg.get("resume"):
            raise BabysitError("resume= continues a single run: run a cross-validation (cv.folds) again without it")
        return run_cross_validation(cfg, run_one)
    return run_one(cfg)


def run_one(cfg: DictConfig, fold: int | None = None) -> float | None:
    started = time.time()
    out = Path(cfg.paths.output_dir)
    resume = ResumePoint.of(cfg.resume) if cfg.get("resume") else None
    dm, module, trainer = build(cfg, fold, resume)
    lead = trainer.is_global_zero  # under DDP every rank runs this; rank 0 alone prints and writes
    hparams = flat_hparams(cfg)
    if resume is not None:
        resume.check_matches(module.meta)
        started -= float(resume.previous.get("wall_time_s") or 0)
        if lead:
            print(resume.line(), flush=True)
            record_config(out, cfg)
            relog_metric_rows(trainer, resume.kept_metric_rows())
    if module.transfer is not None and lead:
        print(module.transfer.line(), flush=True)
    summary = RunSummary(
        out / "summary.json",
        write=lead,
        previous=resume.previous if resume is not None else None,
        status="running",
        command=" ".join(["python"] + sys.argv),
        seed=cfg.seed,
        data={"name": dm.name, "classes": dm.classes, "in_shape": list(dm.in_shape), "sizes": dm.sizes(),
              "normalize": dm.normalizer.as_dict(), **({"notes": dm.notes} if dm.notes else {}),
              **({"cv_fold": fold + 1, "cv_folds": cfg.cv.folds} if fold is not None else {})},
        model={"name": type(module.net).__name__,
               "parameters": sum(p.numel() for p in module.net.parameters())},
        hparams=hparams,
        transfer=module.transfer.as_dict() if module.transfer is not None else None,
    )
    if resume is not None:
        summary.update(resumed=summary.data.get("resumed", []) + [{"epoch": resume.epoch, "step": resume.step}])
    elif cfg.babysit.preflight and lead:  # on copies of the model: the other ranks need not wait for it
        bcfg = cfg.babysit
        if module.transfer is not None and not module.transfer.new_head:
            # a trained output layer does not start at ln C: that check is for fresh heads
            bcfg = OmegaConf.merge(bcfg, {"initial_loss": {"enabled": False}})
        checks = run_preflight(bcfg, module, dm, cfg.optimizer.lr)
        summary.update(preflight={"status": worst(checks), "checks": [v.as_dict() for v in checks]})
    # DDP re-seeds every rank as its processes start: training starts from the seed on every
    # strategy, so one process and several see the same batches
    pl.seed_everything(cfg.seed, workers=True, verbose=False)
    try:
        trainer.fit(module, datamodule=dm, ckpt_path=resume.checkpoint if resume is not None else None)
    except BaseException as e:
        status = "pruned" if type(e).__name__ == "TrialPruned" else "interrupted" if interrupted(e) else "failed"
        started_epoch = 1 if trainer.global_step > 0 else 0  # the epoch it stopped in counts as spent
        summary.update(status=status, epochs_run=trainer.current_epoch + started_epoch,
                       wall_time_s=time.time() - started, reason=f"{type(e).__name__}: {e}", **monitoring(trainer))
        if lead:
            write_report_safely(cfg, out)
        if status == "interrupted":
            return stop_interrupted(interruption(trainer) or e, out, lead, resumable=fold is None)
        raise
    last_epoch = {k: float(v) for k, v in trainer.callback_metrics.items()}
    final, ckpt = final_metrics(trainer, module, dm)
    watched = monitoring(trainer)
    status = "exploded" if watched["exploded"] else "interrupted" if trainer.interrupted else "finished"
    summary.update(status=status, epochs_run=trainer.current_epoch, best_checkpoint=ckpt or None, final=final,
                   last_epoch=last_epoch, wall_time_s=time.time() - started, early_stopping=early_stopping(trainer),
                   **watched)
    log_hparams(trainer, hparams, final)
    if lead:
        _print_result(status, final, out, write_report_safely(cfg, out))
    return final.get(cfg.optimized_metric)


def interrupted(e: BaseException) -> bool:
    """Ctrl-C or SIGTERM: stopped after a step (TrainingInterrupted, or Lightning's SIGTERMException)
    or at once (a second Ctrl-C, which Lightning turns into SystemExit)."""
    return isinstance(e, TrainingInterrupted | KeyboardInterrupt | SIGTERMException) or (
        isinstance(e, SystemExit) and isinstance(e.__context__, KeyboardInterrupt))


def interruption(trainer: pl.Trainer) -> TrainingInterrupted | None:
    return next((cb.interruption for cb in trainer.callbacks if isinstance(cb, ResumeCheckpoint)), None)


def stop_interrupted(e: BaseException, out: Path, lead: bool, resumable: bool = True) -> None:
    """Say where the run stopped and how to continue it; exit as a signalled process does (128 + signal)."""
    checkpoint = out / "checkpoints" / "last.ckpt"
    if lead:
        if isinstance(e, TrainingInterrupted):
            where = f"at epoch {e.epoch}, step {e.step}: saved {checkpoint}"
        else:
            where = f"at once: {checkpoint} holds the last epoch" if checkpoint.is_file() else "before any checkpoint"
        print(f"Interrupted {where}", flush=True)
        if checkpoint.is_file() and resumable:  # (a cross-validation starts again)
            print(f"Continue with: {resume_command(out.resolve())}", flush=True)
    if not lead:
        return None  # Lightning's launcher ends the whole run when a rank exits with an error
    raise SystemExit(128 + (e.signum if isinstance(e, TrainingInterrupted) else 2))


def final_metrics(trainer: pl.Trainer, module, dm) -> tuple[dict, str]:
    """Test, train and val metrics of the checkpoint chosen by val accuracy (or of the last
    weights when there is none), on unaugmented data."""
    ckpt = trainer.checkpoint_callback.best_model_path if trainer.checkpoint_callback else ""
    final = {}
    if dm.sizes().get("test"):
        tested = trainer.test(module, datamodule=dm, ckpt_path=ckpt or None, verbose=False)
        final.update({k: float(v) for k, v in tested[0].items()})
    for split in ("train", "val"):
        final.update(evaluate(module, dm, split))
    return final, ckpt


def early_stopping(trainer: pl.Trainer) -> dict | None:
    """Whether early stopping ended the run, at which epoch, and its settings."""
    stop = trainer.early_stopping_callback
    if stop is None:
        return None
    stopped = stop.stopped_epoch > 0
    return {"stopped": stopped, "stopped_epoch": stop.stopped_epoch + 1 if stopped else None,
            "monitor": stop.monitor, "mode": stop.mode, "patience": stop.patience, "min_delta": abs(stop.min_delta),
            "best": float(stop.best_score)}


def monitoring(trainer: pl.Trainer) -> dict:
    """The monitors' verdicts and whether the cost exploded, for summary.json."""
    verdicts = [v for cb in trainer.callbacks for v in getattr(cb, "verdicts", [])]
    stop = next((cb for cb in trainer.callbacks if getattr(cb, "exploded", False)), None)
    explosion = {"reason": stop.reason, "step": stop.step, "epoch": stop.epoch} if stop else None
    return {
        "exploded": stop is not None,
        "explosion": explosion,
        "monitors": {"status": worst(verdicts), "verdicts": [v.as_dict() for v in verdicts]},
    }


def log_hparams(trainer: pl.Trainer, hparams: dict, final: dict) -> None:
    """Resolved hparams with the final metrics (TensorBoard's hparams view) and hparams.yaml."""
    for logger in trainer.loggers:
        if isinstance(logger, TensorBoardLogger):
            logger.log_hyperparams(hparams, {f"hp/{k}": v for k, v in final.items()})
        else:
            logger.log_hyperparams(hparams)
        logger.finalize("success")


def _print_result(status: str, final: dict, out: Path, report: Path | None) -> None:
    parts = [f"{k} {final[k]:.4f}" for k in ("train/acc", "val/acc", "test/acc") if k in final]
    print(f"{status.capitalize()}: {', '.join(parts)} — run dir {out}", flush=True)
    if report is not None:
        print(f"Report: {report}", flush=True)
