"""The config a command line gives the job, composed before Hydra starts so that it can be checked.

Group choices (model=fc3) go through Hydra's compose, the slow part (~0.2 s), cached per set of
choices; settings (optimizer.lr=0) are then applied by Hydra's own override code, as Hydra's
compose applies them after the groups, and taken back afterwards (copying the whole config for
every check would cost more than the check)."""

import copy
import os
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path

from hydra.core.override_parser.types import Override
from omegaconf import DictConfig, OmegaConf, flag_override, open_dict

_ABSENT = object()


def is_group(override: Override, conf_dir: Path) -> bool:
    """model=fc3, hydra/launcher=joblib, +experiment=ablation: a config group, not a setting."""
    key = override.key_or_group
    if override.package is not None or "/" in key:
        return True
    return not isinstance(override.value(), dict) and (Path(conf_dir) / key).is_dir()


@contextmanager
def composed(overrides: list[Override], conf_dir: Path, multirun: bool = False, config_name: str = "train"):
    """The composed config with Hydra's node, valid inside the block (do not change it);
    raises Hydra's errors. hydra.runtime.output_dir is the run (or sweep) dir Hydra will use."""
    from hydra._internal.config_loader_impl import ConfigLoaderImpl

    groups = tuple(o.input_line for o in overrides if is_group(o, conf_dir))
    settings = [o for o in overrides if not is_group(o, conf_dir)]
    cfg = _compose_groups(str(Path(conf_dir).resolve()), config_name, groups, multirun)
    cfg.hydra.runtime.cwd = os.getcwd()  # as Hydra sets it at every start
    tops = {o.key_or_group.split(".")[0] for o in settings}
    saved = {top: copy.deepcopy(cfg._get_node(top)) if top in cfg else _ABSENT for top in tops}
    try:
        ConfigLoaderImpl._apply_overrides_to_config(settings, cfg)
        yield cfg
    finally:
        with open_dict(cfg), flag_override(cfg, "no_deepcopy_set_nodes", True):
            for top, node in saved.items():
                if node is _ABSENT:
                    cfg.pop(top, None)
                else:
                    cfg[top] = node


@lru_cache(maxsize=32)
def _compose_groups(conf_dir: str, config_name: str, groups: tuple[str, ...], multirun: bool) -> DictConfig:
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=conf_dir, version_base="1.3"):
        cfg = compose(config_name, overrides=list(groups), return_hydra_config=True)
    run_dir = OmegaConf.select(cfg, "hydra.sweep.dir" if multirun else "hydra.run.dir",
                               throw_on_resolution_failure=False)
    if isinstance(run_dir, str):
        with open_dict(cfg):  # set by Hydra when the job starts (a sweep's job: a folder below this one)
            cfg.hydra.runtime.output_dir = run_dir
    return cfg


@contextmanager
def hydra_config(cfg: DictConfig):
    """${hydra:…} resolves against `cfg`'s Hydra node while the block runs."""
    from hydra.core.hydra_config import HydraConfig

    instance = HydraConfig.instance()
    before = instance.cfg
    instance.cfg = cfg  # what HydraConfig.get() reads (set_config would copy the whole config)
    try:
        yield
    finally:
        instance.cfg = before
