"""Hydra's basic grid sweeper plus explicitly listed variants (`hydra/sweeper=variants`).

    hydra.sweeper.params:   {model.norm: "batch,none", model.init: "kaiming,xavier"}   # the grid
    hydra.sweeper.variants: [[model.norm=batch, model.zero_init_residual=true]]        # added to it

A variant replaces those keys in each of the grid's jobs (duplicates run once). A job of a
variant that does not compose, e.g. with an option the chosen model lacks, is skipped with a
line saying why.
"""

import re
from dataclasses import dataclass, field
from typing import Any

from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
from hydra.core.config_store import ConfigStore
from hydra.errors import HydraException
from omegaconf import OmegaConf


@dataclass
class VariantSweeperConf:
    _target_: str = "hydra_plugins.variant_sweeper.sweeper.VariantSweeper"
    max_batch_size: Any = None
    params: Any = None
    variants: list[Any] = field(default_factory=list)


ConfigStore.instance().store(group="hydra/sweeper", name="variants", node=VariantSweeperConf, provider="babysit")


def _key(override: str) -> str:
    return override.split("=", 1)[0].lstrip("+~")


def with_variant(job: list[str], variant: list[str]) -> list[str]:
    """The job with the variant's values in place of its own; keys the job lacks are appended."""
    values = {_key(o): o for o in variant}
    out = [values.pop(_key(o), o) for o in job]
    return out + list(values.values())


class VariantSweeper(BasicSweeper):
    def __init__(self, max_batch_size: int | None = None, params: dict[str, str] | None = None,
                 variants: list[list[str]] | None = None):
        super().__init__(max_batch_size=max_batch_size, params=params)
        variants = OmegaConf.to_container(variants) if OmegaConf.is_config(variants) else variants
        self.variants = [[str(o) for o in v] for v in variants or []]

    def split_arguments(self, overrides, max_batch_size):  # BasicSweeper.sweep calls this through self
        grid = BasicSweeper.split_arguments(overrides, None)[0]
        jobs, seen = list(grid), {tuple(job) for job in grid}
        for variant in self.variants:
            problems = []
            for job in (with_variant(job, variant) for job in grid):
                if tuple(job) in seen:
                    continue
                seen.add(tuple(job))
                problem = self._composition_error(job)
                if problem:
                    problems.append(problem)
                else:
                    jobs.append(job)
            if problems:
                print(f"Variant {', '.join(variant)} skipped in {len(problems)} job(s): {problems[0]}", flush=True)
        return list(BasicSweeper.split_overrides_to_chunks(jobs, max_batch_size))

    def _composition_error(self, job: list[str]) -> str | None:
        try:
            self.hydra_context.config_loader.load_sweep_config(master_config=self.config, sweep_overrides=job)
        except HydraException as e:
            problem = str(e).splitlines()[0]
            missing = re.match(r"Could not override '(.+)'", problem)
            return f"the config has no {missing.group(1)}" if missing else problem
        return None
