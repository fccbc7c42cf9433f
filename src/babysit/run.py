"""One training run: build everything from the config, fit, test, write the summary."""

import contextlib
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
from omegaconf import DictConfig, OmegaConf

from babysit.atomic import write_text
from babysit.callbacks import Babysitter
from babysit.callbacks.resume import ResumeCheckpoint, TrainingInterrupted, is_interruption
from babysit.checkpoint import describe
from babysit.config import flat_hparams
from babysit.cross_validation import run_cross_validation
from babysit.distributed import check_devices
from babysit.errors import BabysitError, find_user_error
from babysit.evaluate import evaluate
from babysit.heap import freeze_imports
from babysit.module import Classifier
from babysit.regularization import Regularizer
from babysit.report import write_report_safely
from babysit.resume import ResumePoint, record_config, relog_metric_rows, resume_command
from babysit.run_files import PREDICTIONS, RESOLVED_CONFIG
from babysit.summary import RunSummary
from babysit.timings import PhaseTimer
from babysit.transfer import apply_transfer
from babysit.verdict import worst


def build(cfg: DictConfig, fold: int | None = None, resume: ResumePoint | None = None):
    """DataModule (set up), LightningModule and Trainer for `cfg` (for one cross-validation fold; to
    continue from `resume`)."""
    quiet_lightning()
    freeze_imports()
    check_devices(cfg.trainer)
    pl.seed_everything(cfg.seed, workers=True, verbose=False)
    cv = cfg.get("cv") or {}
    dm = instantiate(cfg.data, cv_fold=fold, cv_folds=cv.get("folds", 0), cv_seed=cv.get("seed", 0))
    dm.setup("fit")
    model_cfg = model_config(cfg, dm)
    net = build_model(model_cfg)
    transfer = None
    if cfg.get("transfer") and cfg.transfer.checkpoint:
        t = cfg.transfer
        transfer = apply_transfer(net, t.checkpoint, dm.classes, t.mode, t.head, t.backbone_lr_scale)
    module = Classifier(
        net=net,
        criterion=instantiate(cfg.loss),
        optimizer=instantiate(cfg.optimizer),
        num_classes=dm.num_classes,
        scheduler=instantiate(cfg.scheduler, _convert_="all"),
        regularizer=Regularizer(**OmegaConf.to_container(cfg.reg, resolve=True)),
        channels_last=cfg.get("channels_last", False),
        meta=describe(model_cfg, dm.classes, dm.in_shape, dm.normalizer.as_dict(), dm.name),
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


def model_config(cfg: DictConfig, dm) -> dict:
    """The model's config, with what the data knows (classes, input shape) where it says null."""
    if OmegaConf.is_missing(cfg.model, "_target_"):
        raise BabysitError("model._target_ is not set: model=custom builds your own network, e.g. "
                           "model._target_=mypkg.nets.MyNet")
    model = OmegaConf.to_container(cfg.model, resolve=True)
    if "num_classes" in model and model["num_classes"] is None:
        model["num_classes"] = dm.num_classes
    if "in_shape" in model and any(v is None for v in model["in_shape"] or [None]):
        model["in_shape"] = list(dm.in_shape)
    return model


def build_model(model: dict):
    """The network of `model` (a config with _target_); a model of the user's own that cannot be
    imported or built gets one line."""
    from hydra.errors import InstantiationException

    target = model.get("_target_")
    try:
        return instantiate(model)
    except InstantiationException as e:
        if find_user_error(e) is not None:
            raise
        cause = e
        while cause.__cause__ is not None:
            cause = cause.__cause__
        if "Error locating target" in str(e):
            raise BabysitError(f"model._target_={target} cannot be imported ({type(cause).__name__}: {cause}): give "
                               "a module path Python can import from the folder you run in (e.g. mypkg.nets.MyNet)"
                               ) from e
        if isinstance(cause, TypeError):
            raise BabysitError(f"model._target_={target} could not be built ({cause}): it is called with in_shape, "
                               "num_classes and the other model.* keys (add its own with +model.<name>=…)") from e
        raise


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
    with console_to_file(Path(cfg.paths.output_dir) / "console.log" if cfg.get("console_log") else None):
        if (cfg.get("cv") or {}).get("folds") and not cfg.get("preflight_only"):
            if cfg.get("resume"):
                raise BabysitError("resume= continues a single run: run a cross-validation (cv.folds) again "
                                   "without it")
            return run_cross_validation(cfg, run_one)
        return run_one(cfg)


@contextlib.contextmanager
def console_to_file(path: Path | None):
    """Everything the run prints goes to `path` (when given) instead of the console."""
    if path is None:
        yield
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as log, contextlib.redirect_stdout(log), contextlib.redirect_stderr(log):
        yield


def run_one(cfg: DictConfig, fold: int | None = None) -> float | None:
    started = time.time()
    timer = PhaseTimer()
    out = Path(cfg.paths.output_dir)
    resume = ResumePoint.of(cfg.resume) if cfg.get("resume") else None
    if resume is not None:
        timer.carry(resume.previous.get("timings"))
    with timer.phase("setup"):
        dm, module, trainer = build(cfg, fold, resume)
        hparams = flat_hparams(cfg)
    lead = trainer.is_global_zero  # under DDP every rank runs this; rank 0 alone prints and writes
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
    if lead:
        write_text(out / RESOLVED_CONFIG, OmegaConf.to_yaml(cfg, resolve=True))
    babysitter = babysitter_of(trainer)
    if resume is not None:
        summary.update(resumed=summary.data.get("resumed", []) + [{"epoch": resume.epoch, "step": resume.step}])
    elif babysitter is not None:
        babysitter.preflight_listeners.append(
            lambda checks: summary.update(preflight={"status": worst(checks), "checks": [v.as_dict() for v in checks]}))
    if cfg.get("preflight_only"):
        return preflight_only(cfg, module, dm, babysitter, summary, started, out, timer)
    # DDP re-seeds every rank as its processes start: training starts from the seed on every
    # strategy, so one process and several see the same batches
    pl.seed_everything(cfg.seed, workers=True, verbose=False)
    try:
        with timer.phase("fit"):
            trainer.fit(module, datamodule=dm, ckpt_path=resume.checkpoint if resume is not None else None)
    except BaseException as e:
        status = "pruned" if type(e).__name__ == "TrialPruned" else "interrupted" if is_interruption(e) else "failed"
        started_epoch = 1 if trainer.global_step > 0 else 0  # the epoch it stopped in counts as spent
        summary.update(status=status, epochs_run=trainer.current_epoch + started_epoch,
                       wall_time_s=time.time() - started, reason=f"{type(e).__name__}: {e}", **monitoring(trainer),
                       timings=timer.as_dict())
        if lead:
            with timer.phase("report"):
                write_report_safely(cfg, out)
        summary.update(timings=timer.as_dict())
        if status == "interrupted":
            return stop_interrupted(interruption(trainer) or e, out, lead, resumable=fold is None)
        raise
    last_epoch = {k: float(v) for k, v in trainer.callback_metrics.items()}
    with timer.phase("test"):
        final, ckpt = final_metrics(trainer, module, dm, out, test=cfg.babysit.get("test", True))
    if babysitter is not None:  # the preflight ran inside fit, at its start
        timer.split("fit", "preflight", babysitter.preflight_seconds)
    watched = monitoring(trainer)
    status = "exploded" if watched["exploded"] else "interrupted" if trainer.interrupted else "finished"
    summary.update(status=status, epochs_run=trainer.current_epoch, best_checkpoint=ckpt or None, final=final,
                   last_epoch=last_epoch, wall_time_s=time.time() - started, early_stopping=early_stopping(trainer),
                   **watched, timings=timer.as_dict())
    log_hparams(trainer, hparams, final)
    if lead:
        with timer.phase("report"):
            report = write_report_safely(cfg, out)
    summary.update(timings=timer.as_dict(), wall_time_s=time.time() - started)
    if lead:
        _print_result(status, final, out, report, imbalance(summary.data))
        print(timer.line(), flush=True)
    return final.get(cfg.optimized_metric)


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


def preflight_only(cfg: DictConfig, module, dm, babysitter: Babysitter | None, summary: RunSummary, started: float,
                   out: Path, timer: PhaseTimer) -> None:
    """The preflight of the run's model and data, no training: verdicts in summary.json and the report."""
    from babysit.preflight.classifier_probe import ClassifierProbe

    if babysitter is None:
        raise BabysitError("preflight_only=true needs the Babysitter callback (it is in callbacks=default)")
    with timer.phase("preflight"):
        checks = babysitter.run_preflight_on(ClassifierProbe(module, dm), out)
    summary.update(status="finished", kind="preflight", epochs_run=0, wall_time_s=time.time() - started)
    with timer.phase("report"):
        report = write_report_safely(cfg, out)
    summary.update(timings=timer.as_dict())
    print(f"Preflight: {worst(checks)} — run dir {out}", flush=True)
    if report is not None:
        print(f"Report: {report}", flush=True)


def final_metrics(trainer: pl.Trainer, module, dm, out: Path, test: bool = True) -> tuple[dict, str]:
    """Test (unless `test` is false), train and val metrics of the checkpoint chosen by val accuracy
    (or of the last weights when there is none), on unaugmented data; the test predictions go to the
    run dir."""
    ckpt = trainer.checkpoint_callback.best_model_path if trainer.checkpoint_callback else ""
    final = {}
    if test and dm.sizes().get("test"):
        tested = trainer.test(module, datamodule=dm, ckpt_path=ckpt or None, verbose=False)
        final.update({k: float(v) for k, v in tested[0].items()})
        final["test/balanced_acc"] = evaluate(module, dm, "test", keep=out / PREDICTIONS)["test/balanced_acc"]
    elif ckpt:
        state = torch.load(ckpt, map_location=module.device, weights_only=False)["state_dict"]
        module.load_state_dict(state)  # the weights trainer.test would have loaded
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


def babysitter_of(trainer: pl.Trainer) -> Babysitter | None:
    return next((cb for cb in trainer.callbacks if isinstance(cb, Babysitter)), None)


def monitoring(trainer: pl.Trainer) -> dict:
    """The monitors' verdicts and whether the cost exploded, for summary.json."""
    babysitter = babysitter_of(trainer)
    if babysitter is None:  # ~callbacks.babysitter
        return {"exploded": False, "explosion": None, "monitors": {"status": worst([]), "verdicts": []}}
    return babysitter.watched()


def log_hparams(trainer: pl.Trainer, hparams: dict, final: dict) -> None:
    """Resolved hparams with the final metrics (TensorBoard's hparams view) and hparams.yaml."""
    for logger in trainer.loggers:
        if isinstance(logger, TensorBoardLogger):
            logger.log_hyperparams(hparams, {f"hp/{k}": v for k, v in final.items()})
        else:
            logger.log_hyperparams(hparams)
        logger.finalize("success")


def imbalance(summary: dict) -> dict | None:
    """The class-balance verdict's numbers when the classes are imbalanced (accuracy flatters then)."""
    check = next((c for c in (summary.get("preflight") or {}).get("checks", []) if c["check"] == "class_balance"), None)
    return check["numbers"] if check is not None and check["status"] != "PASS" else None


def _print_result(status: str, final: dict, out: Path, report: Path | None, skew: dict | None) -> None:
    parts = [f"{k} {final[k]:.4f}" for k in ("train/acc", "val/acc", "test/acc") if k in final]
    if skew is not None:  # imbalanced classes: the accuracy a constant guess gets, and the balanced one
        base = skew["majority_baseline"]
        parts.append(f"(majority baseline {base.get('test', base['train']):.4f}"
                     + (f", balanced test/acc {final['test/balanced_acc']:.4f})" if "test/balanced_acc" in final
                        else ")"))
    print(f"{status.capitalize()}: {', '.join(parts)} — run dir {out}", flush=True)
    if report is not None:
        print(f"Report: {report}", flush=True)
