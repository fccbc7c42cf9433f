"""The Babysitter's settings: conf/babysit/default.yaml, with a user's changes merged in."""

from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from babysit.errors import BabysitError


def conf_dir() -> Path:
    """conf/ of an installed wheel (babysit/conf) or of the source tree (editable install)."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "conf", here.parents[1] / "conf"):
        if (candidate / "babysit" / "default.yaml").is_file():
            return candidate
    raise BabysitError(f"conf/babysit/default.yaml not found next to {here}: reinstall babysit")


def defaults() -> dict:
    return OmegaConf.to_container(OmegaConf.load(conf_dir() / "babysit" / "default.yaml"))


def merge(base: dict, changes: dict, path: str = "babysit") -> dict:
    """`changes` over `base`, key by key; a key `base` does not have is a mistake worth one line."""
    out = dict(base)
    for key, value in changes.items():
        where = f"{path}.{key}"
        if key not in base:
            raise BabysitError(f"unknown setting {where}: choose one of {', '.join(map(str, base))}")
        if isinstance(base[key], dict) and isinstance(value, dict):
            out[key] = merge(base[key], value, where)
        elif isinstance(base[key], dict) and "enabled" in base[key] and isinstance(value, bool):
            out[key] = {**base[key], "enabled": value}  # Babysitter(overfit=False)-style switches
        else:
            out[key] = value
    return out


def settings(given: dict | DictConfig | None = None, **changes) -> DictConfig:
    """The defaults, then `given` (e.g. the run's cfg.babysit), then keyword changes; read-only."""
    if isinstance(given, DictConfig):
        given = OmegaConf.to_container(given, resolve=True)
    merged = OmegaConf.create(merge(merge(defaults(), given or {}), changes))
    OmegaConf.set_readonly(merged, True)
    return merged
