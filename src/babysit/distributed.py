"""One run on several processes (Lightning DDP): which process speaks, and whether the devices exist.

Lightning's default DDP launcher starts the other ranks by running the same command again, so every
line before `trainer.fit` runs on every rank: the rank decides who prints and writes."""

import os

import torch
from lightning.pytorch.utilities import rank_zero_only
from omegaconf import DictConfig

from babysit.errors import BabysitError


def is_rank_zero() -> bool:
    """Before a Trainer exists: the rank its launcher (Lightning, SLURM, torchrun) gave this process."""
    return rank_zero_only.rank == 0 and os.environ.get("NODE_RANK", "0") == "0"


def _count(devices) -> int | None:
    """How many devices `trainer.devices` asks for (None: Lightning chooses, e.g. "auto" or -1)."""
    if isinstance(devices, bool):
        return None
    if isinstance(devices, int):
        return devices if devices > 0 else None
    if isinstance(devices, str) and devices.strip().isdigit():
        return int(devices)
    if isinstance(devices, str) and "," in devices:
        return len([d for d in devices.split(",") if d.strip()])
    if hasattr(devices, "__len__") and not isinstance(devices, str):
        return len(devices)
    return None


def check_devices(trainer: DictConfig) -> None:
    """trainer.devices must exist on this machine: GPUs that torch sees, or CPU cores for CPU processes."""
    accelerator = str(trainer.get("accelerator", "cpu"))
    wanted = _count(trainer.get("devices", 1))
    if accelerator in ("gpu", "cuda"):
        found = torch.cuda.device_count()
        if found == 0:
            raise BabysitError(f"trainer.accelerator={accelerator} but this machine has no GPU that torch can use: "
                               "use trainer=cpu, or trainer=ddp for several CPU processes")
        if wanted is not None and wanted > found:
            raise BabysitError(f"trainer.devices={wanted} but this machine has {found} GPU(s): "
                               f"use trainer.devices={found} or fewer")
    elif trainer.get("sync_batchnorm") and accelerator == "cpu":
        raise BabysitError("trainer.sync_batchnorm=true needs GPUs (torch's SyncBatchNorm): "
                           "use trainer.accelerator=gpu, or trainer.sync_batchnorm=false on CPU processes")
    if accelerator == "cpu" and wanted is not None:
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1
        if wanted > cores:
            raise BabysitError(f"trainer.devices={wanted} CPU processes but this machine has {cores} CPU core(s): "
                               f"use trainer.devices={cores} or fewer")


def gather_shards(loss_sum: float, labels, predicted, confidence, mistakes, images):
    """Every rank's share of an evaluation (rank r held examples r, r + W, r + 2W, … of the split) as
    the whole split in its order: the losses summed, labels, predictions and confidences interleaved
    back, `mistakes` (positions in the share) as positions in the split, with their `images`."""
    world = torch.distributed.get_world_size()
    shares = [None] * world
    torch.distributed.all_gather_object(shares, (loss_sum, labels, predicted, confidence, mistakes, images))
    total = sum(len(share[1]) for share in shares)
    whole = [torch.empty(total, dtype=t.dtype) for t in (labels, predicted, confidence)]
    positions, pictures = [], []
    for rank, (_, *parts, own_mistakes, own_images) in enumerate(shares):
        for tensor, part in zip(whole, parts, strict=True):
            tensor[rank::world] = part
        positions.append(rank + world * own_mistakes)
        if own_images is not None:
            pictures.append(own_images)
    return (sum(share[0] for share in shares), *whole, torch.cat(positions),
            torch.cat(pictures) if pictures else None)
