"""Checks on config values that no constructor owns, and flattening for hparams logging."""

import math

from omegaconf import DictConfig, OmegaConf

from babysit.errors import BabysitError


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def check_config(cfg: DictConfig) -> None:
    lr = cfg.optimizer.get("lr")
    if not _is_number(lr) or lr <= 0:
        raise BabysitError(f"optimizer.lr={lr!r} must be a number above 0, e.g. optimizer.lr=1e-3")
    epochs = cfg.trainer.get("max_epochs")
    if not isinstance(epochs, int) or isinstance(epochs, bool) or epochs < 1:
        raise BabysitError(f"trainer.max_epochs={epochs!r} must be a whole number ≥ 1")
    if not isinstance(cfg.get("seed"), int):
        raise BabysitError(f"seed={cfg.get('seed')!r} must be a whole number")


def flat_hparams(cfg: DictConfig) -> dict:
    """The resolved config as flat `a/b/c: value` pairs (without paths and Hydra's own)."""
    tree = OmegaConf.to_container(cfg, resolve=True)
    tree.pop("paths", None)
    tree.pop("hydra", None)
    out: dict = {}

    def walk(node, prefix):
        if isinstance(node, dict):
            for k, v in node.items():
                if k == "_partial_":
                    continue
                walk(v, f"{prefix}/{k}" if prefix else str(k))
        else:
            out[prefix] = node if isinstance(node, (int, float, str, bool)) or node is None else str(node)

    walk(tree, "")
    return out
