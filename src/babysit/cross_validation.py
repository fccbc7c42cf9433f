"""K-fold cross-validation: one run per fold in <run dir>/fold_k, then per-fold and mean ± std
metrics in the run dir's summary.json and cv_report.md. The mean of the optimised metric is what
a sweep sees, so a search can use it as its objective."""

import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import torch
from omegaconf import DictConfig, open_dict

from babysit.config import flat_hparams
from babysit.distributed import is_rank_zero
from babysit.report import write_report_safely
from babysit.report.cross_validation import write_cv_report
from babysit.summary import RunSummary


def fold_config(cfg: DictConfig, out: Path, k: int) -> DictConfig:
    """Fold k's run writes to <run dir>/fold_k; the preflight checks the model and optimiser, not
    the fold, so it runs with fold 1 only."""
    fold_cfg = cfg.copy()
    with open_dict(fold_cfg):
        fold_cfg.paths.output_dir = str(out / f"fold_{k + 1}")
        if k > 0:
            fold_cfg.babysit.preflight = False
    return fold_cfg


def aggregate(folds: list[dict]) -> dict:
    """mean and (sample) std of each final metric over the folds that have final metrics."""
    finals = [f["final"] for f in folds if f.get("final")]
    shared = sorted(set.intersection(*(set(f) for f in finals))) if finals else []
    out = {}
    for key in shared:
        values = [float(f[key]) for f in finals]  # JSON keeps NaN as "nan"
        out[key] = {"mean": statistics.fmean(values),
                    "std": statistics.stdev(values) if len(values) > 1 else 0.0, "values": values}
    return out


def fold_record(k: int, run_dir: Path) -> dict:
    summary = json.loads((run_dir / "summary.json").read_text())
    return {"fold": k + 1, "run_dir": run_dir.name, "status": summary.get("status"),
            "epochs_run": summary.get("epochs_run", 0), "final": summary.get("final", {}),
            "sizes": summary.get("data", {}).get("sizes", {}), "exploded": summary.get("exploded", False),
            "explosion": summary.get("explosion")}


def run_cross_validation(cfg: DictConfig, run_one: Callable[..., float | None]) -> float | None:
    folds = cfg.cv.folds
    out = Path(cfg.paths.output_dir)
    started = time.time()
    lead = is_rank_zero()  # under DDP every rank runs the folds; rank 0 alone prints and writes
    summary = RunSummary(out / "summary.json", write=lead, kind="cv", status="running",
                         command=" ".join(["python"] + sys.argv), seed=cfg.seed,
                         cv={"folds": folds, "seed": cfg.cv.seed}, hparams=flat_hparams(cfg), folds=[])
    records: list[dict] = []

    def finish(status: str, **extra) -> dict:
        exploded = next((r for r in records if r["exploded"]), None)
        stats = aggregate(records)
        summary.update(status="exploded" if exploded else status, folds=records,
                       cv={"folds": folds, "seed": cfg.cv.seed, "metrics": stats, "completed": len(records)},
                       final={k: v["mean"] for k, v in stats.items()}, exploded=exploded is not None,
                       explosion=exploded["explosion"] if exploded else None,
                       epochs_run=sum(r["epochs_run"] for r in records), wall_time_s=time.time() - started, **extra)
        if records and lead:
            report = write_report_safely(cfg, out, write_cv_report)
            if report is not None:
                print(f"Report: {report}", flush=True)
        return stats

    for k in range(folds):
        if lead:
            print(f"Cross-validation fold {k + 1} / {folds}", flush=True)
        try:
            run_one(fold_config(cfg, out, k), fold=k)
        except BaseException as e:
            if (out / f"fold_{k + 1}" / "summary.json").is_file():
                records.append(fold_record(k, out / f"fold_{k + 1}"))
            interrupted = isinstance(e, KeyboardInterrupt | SystemExit)
            finish("interrupted" if interrupted else "failed", reason=f"fold {k + 1}: {type(e).__name__}: {e}")
            raise
        if torch.distributed.is_available() and torch.distributed.is_initialized():
            torch.distributed.barrier()  # rank 0 has written the fold's summary that every rank reads next
        records.append(fold_record(k, out / f"fold_{k + 1}"))
        summary.update(folds=records, epochs_run=sum(r["epochs_run"] for r in records))
        if records[-1]["exploded"]:
            break  # the same hyperparameters would explode on the other folds too
    stats = finish("finished")
    if lead:
        _print_cv(stats, folds, out)
    metric = stats.get(cfg.optimized_metric)
    return metric["mean"] if metric and not summary.data["exploded"] else None


def _print_cv(stats: dict, folds: int, out: Path) -> None:
    parts = [f"{k} {stats[k]['mean']:.4f} ± {stats[k]['std']:.4f}" for k in ("train/acc", "val/acc", "test/acc")
             if k in stats]
    print(f"Cross-validation over {folds} folds: {', '.join(parts)} — run dir {out}", flush=True)
