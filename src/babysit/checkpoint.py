"""Checkpoints of this project: weights plus the description needed to rebuild the network
(model config, classes, input shape, input normalisation), read with `weights_only` safety."""

import json
import re
from pathlib import Path

import torch
import torch.nn as nn
from hydra.utils import instantiate
from omegaconf import OmegaConf

from babysit.errors import BabysitError

META_KEY = "babysit"
NET_PREFIX = "net."
MODELS = "babysit.models."


def describe(model_cfg: dict, classes: list[str], in_shape, normalize: dict, data: str) -> dict:
    """What a checkpoint carries besides the weights (plain types only, so weights_only loads it)."""
    return {"model": model_cfg, "classes": list(classes), "in_shape": list(in_shape), "normalize": normalize,
            "data": data}


def read(path: str | Path, what: str = "checkpoint") -> dict:
    """torch.load with weights_only=True: tensors and plain containers, never arbitrary objects."""
    path = Path(path)
    if not path.is_file():
        raise BabysitError(f"{what} {path} not found: give the path of a .ckpt (e.g. outputs/runs/…/checkpoints/"
                           "last.ckpt) or of a torch weights file")
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - any failure to unpickle means: not a usable weights file
        refused = re.search(r"Unsupported global: GLOBAL ([\w.]+)", str(e))
        if refused:
            raise BabysitError(f"{what} {path} holds a pickled {refused.group(1)}, which weights_only loading refuses "
                               "as unsafe: save only tensors (a state_dict) or use a checkpoint from train.py") from e
        raise BabysitError(f"{what} {path} is not a torch checkpoint or weights file ({type(e).__name__}): "
                           "give a .ckpt from a run's checkpoints/ folder") from e
    if not isinstance(obj, dict):
        raise BabysitError(f"{what} {path} holds a {type(obj).__name__}, not a checkpoint or a state_dict")
    return obj


def _tensors(d: dict) -> dict[str, torch.Tensor]:
    return {k: v for k, v in d.items() if isinstance(v, torch.Tensor)}


def net_state(ckpt: dict, path: str | Path = "the file") -> dict[str, torch.Tensor]:
    """The network's own state_dict from a checkpoint (Lightning keeps it under `net.`), a plain
    state_dict file as torchvision publishes them, or one nested a level down ({"model": {...}})."""
    if isinstance(ckpt.get("state_dict"), dict):
        state = ckpt["state_dict"]
        if any(k.startswith(NET_PREFIX) for k in state):
            return {k.removeprefix(NET_PREFIX): v for k, v in state.items() if k.startswith(NET_PREFIX)}
        return _tensors(state)
    state = _tensors(ckpt)
    if state:
        return state
    nested = [v for v in ckpt.values() if isinstance(v, dict) and _tensors(v)]
    if len(nested) == 1:
        return _tensors(nested[0])
    raise BabysitError(f"{path} holds no tensors at its top level (keys: {', '.join(map(str, list(ckpt)[:8]))}): "
                       "save the model's state_dict itself")


def description(ckpt: dict, path: str | Path) -> dict:
    """The checkpoint's own description or, for a checkpoint written before checkpoints carried
    one, the description rebuilt from its run directory (.hydra/config.yaml and summary.json)."""
    meta = ckpt.get(META_KEY)
    if isinstance(meta, dict):
        return meta
    run_dir = Path(path).resolve().parent.parent
    config, summary = run_dir / ".hydra" / "config.yaml", run_dir / "summary.json"
    if config.is_file() and summary.is_file():
        model = OmegaConf.to_container(OmegaConf.load(config).model, resolve=True)
        data = json.loads(summary.read_text()).get("data", {})
        if {"classes", "in_shape", "normalize", "name"} <= set(data):
            return describe(model, data["classes"], data["in_shape"], data["normalize"], data["name"])
    raise BabysitError(f"{path} carries no model description and has no run directory beside it "
                       "(.hydra/config.yaml, summary.json): use a checkpoint from a run's checkpoints/ folder")


def _checked_model(spec, path) -> dict:
    """Only this project's models may be built from a checkpoint's description: instantiating an
    arbitrary `_target_` from a file would run code of the file's choosing."""
    target = spec.get("_target_") if isinstance(spec, dict) else None
    nested = [k for k, v in (spec or {}).items() if isinstance(v, dict | list) and "_target_" in str(v)]
    if not isinstance(target, str) or not target.startswith(MODELS) or nested:
        raise BabysitError(f"{path}: its model description names {target!r}, not one of babysit's models; "
                           "refusing to build it")
    return spec


def load_network(path: str | Path) -> tuple[nn.Module, dict]:
    """(network in eval mode with the checkpoint's weights, its description)."""
    ckpt = read(path)
    meta = description(ckpt, path)
    net = instantiate(_checked_model(meta.get("model"), path))
    try:
        net.load_state_dict(net_state(ckpt, path))
    except RuntimeError as e:
        raise BabysitError(f"{path}: weights do not fit its own model description ({str(e).splitlines()[0]})") from e
    return net.eval(), meta
