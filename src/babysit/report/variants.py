"""The runs of one sweep as variants: each labelled by the overrides that differ between the runs
(read from each run's .hydra/overrides.yaml)."""

from dataclasses import dataclass
from pathlib import Path

import yaml

from babysit.report.load import RunData, load_run


@dataclass
class Variant:
    label: str  # the varied overrides, e.g. "model.norm=batch, model.init=kaiming"
    short: str  # without the key prefix all varied keys share: "norm=batch, init=kaiming"
    settings: dict[str, str]  # the varied overrides as key → value
    run: RunData

    @property
    def dir_name(self) -> str:
        return self.run.run_dir.name


def _overrides(run_dir: Path) -> dict[str, str]:
    path = run_dir / ".hydra" / "overrides.yaml"
    if not path.is_file():
        return {}
    pairs = (o.split("=", 1) for o in yaml.safe_load(path.read_text()) or [] if "=" in o)
    return {key.lstrip("+~"): value for key, value in pairs}


def _job_order(path: Path):
    return (0, int(path.name), "") if path.name.isdigit() else (1, 0, path.name)


def run_dirs(sweep_dir: Path) -> list[Path]:
    """The run directories of a sweep, in job order (2 before 10)."""
    return sorted((s.parent for s in Path(sweep_dir).glob("*/summary.json")), key=_job_order)


def varied_keys(overrides: list[dict[str, str]]) -> list[str]:
    """Keys whose value differs between the runs (or that only some runs set), in command-line order."""
    keys = list(dict.fromkeys(k for o in overrides for k in o))
    return [k for k in keys if len({o.get(k) for o in overrides}) > 1]


def load_variants(sweep_dir: Path) -> list[Variant]:
    dirs = run_dirs(sweep_dir)
    overrides = [_overrides(d) for d in dirs]
    keys = varied_keys(overrides)
    prefixes = {k.rsplit(".", 1)[0] + "." if "." in k else "" for k in keys}
    prefix = prefixes.pop() if len(prefixes) == 1 else ""
    variants = []
    for d, o in zip(dirs, overrides, strict=True):
        settings = {k: o[k] for k in keys if k in o}
        label = ", ".join(f"{k}={v}" for k, v in settings.items()) or d.name
        short = ", ".join(f"{k.removeprefix(prefix)}={v}" for k, v in settings.items()) or d.name
        variants.append(Variant(label, short, settings, load_run(d)))
    return variants


def experiment_of(sweep_dir: Path) -> str | None:
    """The experiment= a sweep ran (from its runs' overrides), if any."""
    for d in run_dirs(sweep_dir):
        if "experiment" in (o := _overrides(d)):
            return o["experiment"]
    return None

