"""Flattening the config for hparams logging (its values are checked by babysit.schema)."""

from omegaconf import DictConfig, OmegaConf


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
