"""resume=<run dir>: continue an interrupted run in its own directory from its checkpoints/last.ckpt.

The command line of the original run (its .hydra/overrides.yaml) is replayed first, so
`python train.py resume=<run dir>` alone restores its settings; what the new command adds comes
after it (e.g. trainer.max_epochs=60 to train longer)."""

import csv
import json
from dataclasses import dataclass
from pathlib import Path

import yaml

from babysit.atomic import write_text
from babysit.checkpoint import META_KEY, read
from babysit.errors import BabysitError

CHECKPOINT = Path("checkpoints") / "last.ckpt"


def _resume_value(argv: list[str]) -> str | None:
    values = [a.split("=", 1)[1] for a in argv if a.startswith("resume=")]
    return values[-1] if values and values[-1] not in ("", "null") else None


def _run_dir(value: str) -> Path:
    """The run directory named by resume=, checked to hold what a resume needs."""
    run_dir = Path(value).expanduser().resolve()
    if not run_dir.is_dir():
        raise BabysitError(f"resume={value} is not a folder: give the directory of the run to continue "
                           "(e.g. resume=outputs/runs/<date>/<time>)")
    if not (run_dir / ".hydra" / "overrides.yaml").is_file():
        raise BabysitError(f"resume={value} holds no .hydra/overrides.yaml: give the directory of a run "
                           "that train.py started (outputs/runs/<date>/<time>)")
    if not (run_dir / CHECKPOINT).is_file():
        raise BabysitError(f"resume={value} has no {CHECKPOINT.as_posix()}: the run stopped before it saved "
                           "one (it saves one after every epoch); start it again without resume=")
    return run_dir


def _key(override: str) -> str:
    return override.split("=", 1)[0].lstrip("+~")


def expand_argv(argv: list[str]) -> list[str]:
    """The command line a resume runs: the original run's overrides, then this command's, then the
    run's own directory as Hydra's run dir. Idempotent, so the processes of a DDP run (which re-run
    the expanded command) compose the same config."""
    value = _resume_value(argv)
    if value is None:
        return argv
    if "-m" in argv or "--multirun" in argv:
        raise BabysitError("resume= continues one run: leave out -m (a sweep resumes by running its command again)")
    run_dir = _run_dir(value)
    typed = [a for a in argv if not a.startswith("resume=")]
    # a later value of a key wins, but Hydra refuses to add (+key=…) a key twice: a key the command
    # adds itself is left to the command (it is already expanded when a DDP rank runs it again)
    added = {_key(a) for a in typed if a.startswith("+")}
    recorded = yaml.safe_load((run_dir / ".hydra" / "overrides.yaml").read_text()) or []
    recorded = [a for a in recorded if not a.startswith("resume=") and _key(a) not in added]
    # Hydra would rewrite .hydra/ before the resume is checked: record_config writes it once accepted
    return recorded + typed + [f"resume={run_dir}", f"hydra.run.dir={run_dir}", "hydra.output_subdir=null"]


@dataclass
class ResumePoint:
    run_dir: Path
    checkpoint: Path
    epoch: int  # epochs completed when the checkpoint was taken
    step: int
    meta: dict
    csv_rows: int | None  # rows metrics.csv held at the checkpoint (None: unknown)
    previous: dict  # the run's summary.json so far

    @classmethod
    def of(cls, run_dir: str | Path) -> "ResumePoint":
        run_dir = _run_dir(str(run_dir))
        path = run_dir / CHECKPOINT
        ckpt = read(path)
        if not isinstance(ckpt.get(META_KEY), dict) or "loops" not in ckpt:
            raise BabysitError(f"{path} is not a checkpoint train.py saved to continue from: "
                               "start the run again without resume=")
        summary = run_dir / "summary.json"
        previous = json.loads(summary.read_text()) if summary.is_file() else {}
        extra = ckpt.get("babysit_resume") or {}
        return cls(run_dir, path, int(ckpt.get("epoch", 0)), int(ckpt.get("global_step", 0)), ckpt[META_KEY],
                   extra.get("csv_rows"), previous)

    def check_matches(self, meta: dict) -> None:
        """The checkpoint must be of the network and data this command builds."""
        mine, theirs = meta, self.meta

        def data_check(*pairs) -> None:
            for key, what in pairs:
                if mine.get(key) != theirs.get(key):
                    raise BabysitError(f"resume={self.run_dir}: its checkpoint was trained on {what} "
                                       f"{theirs.get(key)}, this command gives {mine.get(key)}: "
                                       "keep the data settings of the run")

        def model(m: dict) -> str:
            return str((m.get("model") or {}).get("_target_", "?")).rsplit(".", 1)[-1]

        data_check(("data", "data"), ("classes", "classes"))
        if mine.get("model") != theirs.get("model"):
            differ = sorted(k for k in set(mine["model"]) | set(theirs.get("model") or {})
                            if mine["model"].get(k) != (theirs.get("model") or {}).get(k))
            raise BabysitError(f"resume={self.run_dir}: its checkpoint holds {model(theirs)}, this command builds "
                               f"{model(mine)} (model.{differ[0]} differs): keep the model settings of the run")
        data_check(("in_shape", "input shape"), ("normalize", "input normalisation"))

    def kept_metric_rows(self) -> list[dict]:
        """The rows of metrics.csv logged up to the checkpoint, to be logged again before training goes on."""
        path = self.run_dir / "metrics.csv"
        if not path.is_file():
            return []
        with path.open(newline="") as f:
            rows = list(csv.DictReader(f))
        if self.csv_rows is not None:
            return rows[: self.csv_rows]
        return [r for r in rows if r.get("step", "").isdigit() and int(r["step"]) < self.step]

    def line(self) -> str:
        return (f"Resuming {self.run_dir} at epoch {self.epoch + 1}, step {self.step} "
                f"({self.checkpoint.relative_to(self.run_dir).as_posix()})")


def record_config(run_dir: Path, cfg) -> None:
    """The accepted resume's overrides (the run's own, then this command's) and config become the
    run's record in .hydra/, as Hydra writes them, so that the next resume replays them."""
    from hydra.core.hydra_config import HydraConfig
    from omegaconf import OmegaConf

    write_text(run_dir / ".hydra" / "overrides.yaml", yaml.safe_dump(list(HydraConfig.get().overrides.task)))
    write_text(run_dir / ".hydra" / "config.yaml", OmegaConf.to_yaml(cfg))


def relog_metric_rows(trainer, rows: list[dict]) -> None:
    """Lightning's CSV logger starts metrics.csv afresh: write the rows of the run so far first."""
    from lightning.pytorch.loggers import CSVLogger

    for logger in trainer.loggers:
        if isinstance(logger, CSVLogger):
            writer = logger.experiment  # created now: it removes the old file
            for row in rows:
                values = {k: float(v) for k, v in row.items() if k != "step" and v not in ("", None)}
                writer.log_metrics(values, step=int(row["step"]))


def resume_command(run_dir: Path) -> str:
    """How to continue a run: its settings come from the run dir."""
    return f"python train.py resume={run_dir}"
