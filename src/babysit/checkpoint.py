"""Checkpoints of this project: weights plus the description needed to rebuild the network
(model config, classes, input shape, input normalisation), read with `weights_only` safety."""

import pickle
import re
from pathlib import Path

import torch
import torch.nn as nn
from hydra.utils import instantiate

from babysit.errors import BabysitError

META_KEY = "babysit"
NET_PREFIX = "net."


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
    except (pickle.UnpicklingError, RuntimeError, EOFError, ValueError, OSError) as e:
        refused = re.search(r"Unsupported global: GLOBAL ([\w.]+)", str(e))
        if refused:
            raise BabysitError(f"{what} {path} holds a pickled {refused.group(1)}, which weights_only loading refuses "
                               "as unsafe: save only tensors (a state_dict) or use a checkpoint from train.py") from e
        raise BabysitError(f"{what} {path} is not a torch checkpoint or weights file ({type(e).__name__}): "
                           "give a .ckpt from a run's checkpoints/ folder") from e
    if not isinstance(obj, dict):
        raise BabysitError(f"{what} {path} holds a {type(obj).__name__}, not a checkpoint or a state_dict")
    return obj


def net_state(ckpt: dict) -> dict[str, torch.Tensor]:
    """The network's own state_dict from a checkpoint (Lightning keeps it under `net.`) or a
    plain state_dict file as torchvision publishes them."""
    if isinstance(ckpt.get("state_dict"), dict):
        state = ckpt["state_dict"]
        if any(k.startswith(NET_PREFIX) for k in state):
            return {k.removeprefix(NET_PREFIX): v for k, v in state.items() if k.startswith(NET_PREFIX)}
        return state
    return {k: v for k, v in ckpt.items() if isinstance(v, torch.Tensor)}


def description(ckpt: dict, path: str | Path) -> dict:
    meta = ckpt.get(META_KEY)
    if not isinstance(meta, dict):
        raise BabysitError(f"{path} carries no model description (not written by train.py): "
                           "use a checkpoint from a run's checkpoints/ folder")
    return meta


def load_network(path: str | Path) -> tuple[nn.Module, dict]:
    """(network in eval mode with the checkpoint's weights, its description)."""
    ckpt = read(path)
    meta = description(ckpt, path)
    net = instantiate(meta["model"])
    try:
        net.load_state_dict(net_state(ckpt))
    except RuntimeError as e:
        raise BabysitError(f"{path}: weights do not fit its own model description ({str(e).splitlines()[0]})") from e
    return net.eval(), meta
