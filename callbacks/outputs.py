"""What the Babysitter leaves in a Lightning project's log dir: babysit.json (the preflight and
monitor parts of a babysit run's summary.json, with what it knows of the model and data),
babysit_metrics.csv (what the report draws) and report.md / report.html."""

import os
import time
from pathlib import Path

import lightning.pytorch as pl
import pandas as pd
from omegaconf import OmegaConf

from babysit.atomic import write_text
from babysit.config import flat_hparams
from babysit.report import write_report_safely_to
from babysit.summary import RunSummary
from babysit.verdict import worst

SUMMARY, METRICS = "babysit.json", "babysit_metrics.csv"


def _size(loader) -> int | None:
    try:
        return len(loader.dataset)
    except (AttributeError, TypeError):
        return None


def write_babysit_outputs(babysitter, trainer: pl.Trainer, module: pl.LightningModule, out: Path, command: str,
                          status: str | None = None, reason: str | None = None) -> Path | None:
    out.mkdir(parents=True, exist_ok=True)
    watched = babysitter.watched()
    if status is None:
        status = "exploded" if watched["exploded"] else "interrupted" if trainer.interrupted else "finished"
    optimizer = trainer.optimizers[0] if trainer.optimizers else None
    train, val = trainer.train_dataloader, trainer.val_dataloaders
    if isinstance(val, (list, tuple)):
        val = val[0] if val else None
    sizes = {name: n for name, loader in (("train", train), ("val", val)) if (n := _size(loader)) is not None}
    hparams = {"trainer/max_epochs": trainer.max_epochs, "data/batch_size": getattr(train, "batch_size", None)}
    if optimizer is not None:
        kind = type(optimizer)
        hparams.update({"optimizer/_target_": f"{kind.__module__}.{kind.__qualname__}",
                        "optimizer/lr": optimizer.param_groups[-1]["lr"]})
    hparams.update(flat_hparams(OmegaConf.create({"babysit": babysitter.options})))
    seed = os.environ.get("PL_GLOBAL_SEED")
    data = {"name": type(trainer.datamodule).__name__ if trainer.datamodule is not None else "DataLoaders",
            "sizes": sizes, "classes": list(range(babysitter.num_classes or 0)), "in_shape": babysitter.in_shape}
    RunSummary(
        out / SUMMARY, kind="babysitter", status=status, command=command, seed=int(seed) if seed else None,
        **({"reason": reason} if reason else {}),
        model={"name": type(module).__name__, "parameters": sum(p.numel() for p in module.parameters())},
        data=data, epochs_run=trainer.current_epoch, hparams=hparams,
        wall_time_s=time.time() - babysitter.started if babysitter.started else None,
        preflight={"status": worst(babysitter.preflight), "checks": [v.as_dict() for v in babysitter.preflight]},
        last_epoch={k: float(v) for k, v in trainer.callback_metrics.items() if v.numel() == 1},
        **watched,
    )
    table = pd.DataFrame(babysitter.rows, columns=None if babysitter.rows else ["step", "epoch"])
    write_text(out / METRICS, table.to_csv(index=False))
    if not babysitter.options.report:
        return None
    return write_report_safely_to(out)
