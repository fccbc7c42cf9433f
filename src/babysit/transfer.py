"""Transfer learning: start a network from another run's checkpoint or a torchvision weights
file, with a new head for this data's classes; then freeze the backbone or fine-tune it with a
smaller learning rate."""

from dataclasses import dataclass, field

import torch.nn as nn

from babysit import checkpoint
from babysit.errors import BabysitError

MODES = ("finetune", "freeze")
HEADS = ("new", "keep")


@dataclass
class Transfer:
    """What was loaded and how the network trains from here (kept in summary.json)."""

    source: str
    head: str  # module name of the output layer
    mode: str
    backbone_lr_scale: float
    new_head: bool = True
    loaded: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # in the file but not loadable (shape or name differs)
    fresh: list[str] = field(default_factory=list)  # the network's own tensors besides the head left at init
    frozen: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {"from": self.source, "mode": self.mode, "head": self.head, "new_head": self.new_head,
                "backbone_lr_scale": self.backbone_lr_scale if self.mode == "finetune" else 0.0,
                "tensors_loaded": len(self.loaded), "skipped": self.skipped, "fresh": self.fresh,
                "frozen_tensors": len(self.frozen)}

    def in_head(self, name: str) -> bool:
        """Whether a parameter or state_dict key belongs to the output layer."""
        return name.startswith(self.head + ".")

    def line(self) -> str:
        return "Transfer: " + describe_transfer(self.as_dict())


def describe_transfer(t: dict) -> str:
    """What a transfer loaded and how the network trains, from its summary.json entry."""
    how = "backbone frozen" if t["mode"] == "freeze" else f"backbone lr × {t['backbone_lr_scale']:g}"
    skipped, fresh = t.get("skipped") or [], t.get("fresh") or []
    skipped_part = f", {len(skipped)} skipped ({_some(skipped)})" if skipped else ""
    fresh_part = f"; {len(fresh)} start fresh ({_some(fresh)})" if fresh else ""
    head = "new head" if t.get("new_head", True) else "head kept"
    return f"{t['tensors_loaded']} tensors from {t['from']}{skipped_part}; {head} {t['head']}{fresh_part}; {how}"


def _some(names: list[str], shown: int = 4) -> str:
    return ", ".join(names[:shown]) + (", …" if len(names) > shown else "")


def head_name(net: nn.Module) -> str:
    """The output layer: the last Linear registered in the network."""
    names = [name for name, m in net.named_modules() if isinstance(m, nn.Linear)]
    if not names:
        raise BabysitError(f"{type(net).__name__} has no Linear output layer to replace for transfer learning")
    return names[-1]


def _check_classes(meta: dict | None, state: dict, head: str, classes: list[str], path: str) -> None:
    """With transfer.head=keep the checkpoint's output layer must mean the same classes as the data's."""
    if meta is not None and list(meta.get("classes", [])) != list(classes):
        raise BabysitError(
            f"checkpoint {path} was trained on {len(meta['classes'])} classes ({', '.join(meta['classes'][:5])}), "
            f"the data has {len(classes)} ({', '.join(classes[:5])}): use transfer.head=new to train a new head"
        )
    rows = state.get(f"{head}.weight")
    if meta is None and rows is not None and rows.shape[0] != len(classes):
        raise BabysitError(
            f"{path} has a {rows.shape[0]}-class output layer, the data has {len(classes)} classes: "
            "use transfer.head=new to train a new head"
        )


def apply_transfer(net: nn.Module, checkpoint_path: str, classes: list[str], mode: str = "finetune",
                   head: str = "new", backbone_lr_scale: float = 0.1) -> Transfer:
    if mode not in MODES:
        raise BabysitError(f"transfer.mode={mode!r} must be one of {', '.join(MODES)}")
    if head not in HEADS:
        raise BabysitError(f"transfer.head={head!r} must be new (a head for this data's classes) or keep")
    if not isinstance(backbone_lr_scale, (int, float)) or not 0 < backbone_lr_scale <= 1:
        raise BabysitError(f"transfer.backbone_lr_scale={backbone_lr_scale!r} must be in (0, 1], e.g. 0.1")
    ckpt = checkpoint.read(checkpoint_path, "transfer.checkpoint")
    meta = ckpt.get(checkpoint.META_KEY)
    state = checkpoint.net_state(ckpt, checkpoint_path)
    out = head_name(net)
    if head == "keep":
        _check_classes(meta, state, out, classes, checkpoint_path)
    own = net.state_dict()
    result = Transfer(str(checkpoint_path), out, mode, float(backbone_lr_scale), new_head=head == "new")
    usable = {}
    for key, value in state.items():
        if head == "new" and result.in_head(key):
            continue
        if key in own and own[key].shape == value.shape:
            usable[key] = value
        else:
            result.skipped.append(key)
    if not usable:
        arch = (meta or {}).get("model", {}).get("_target_", "another architecture")
        raise BabysitError(
            f"none of the {len(state)} tensors in {checkpoint_path} fit {type(net).__name__} "
            f"(it holds {arch}): choose the model= it was trained with"
        )
    net.load_state_dict(usable, strict=False)
    result.loaded = sorted(usable)
    result.fresh = [k for k in own if k not in usable and not result.in_head(k)]
    if mode == "freeze":  # only what was loaded: layers that start fresh must learn
        for name, p in net.named_parameters():
            if name in usable and not result.in_head(name):
                p.requires_grad_(False)
                result.frozen.append(name)
    return result


def frozen_norms(net: nn.Module) -> list[nn.Module]:
    """Normalisation layers whose parameters are all frozen: their running statistics stay fixed too."""
    norms = (nn.modules.batchnorm._BatchNorm,)
    frozen = []
    for m in net.modules():
        own = list(m.parameters(recurse=False))
        if isinstance(m, norms) and own and not any(p.requires_grad for p in own):
            frozen.append(m)
    return frozen

