"""Multi-process training under ``torchrun`` with no code change.

``torchrun --nproc_per_node=N`` sets ``WORLD_SIZE``, ``RANK`` and ``LOCAL_RANK``;
:func:`init_distributed` reads them and joins the process group (NCCL on CUDA,
gloo on CPU). Without them everything here is a no-op for one process.
Each process draws its own windows (the data seed includes the rank: the
sampling equivalent of a ``DistributedSampler``), gradients are averaged by
:class:`~torch.nn.parallel.DistributedDataParallel`, and only rank 0 writes
checkpoints and logs.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

__all__ = [
    "DistInfo",
    "dist_info_from_env",
    "init_distributed",
    "resolve_device",
    "wrap_ddp",
    "unwrap",
    "all_gather_objects",
    "all_reduce_mean",
    "cleanup_distributed",
]

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class DistInfo:
    """This process's place in the job (``world_size == 1``: not distributed)."""

    rank: int = 0
    local_rank: int = 0
    world_size: int = 1

    @property
    def enabled(self) -> bool:
        """More than one process."""
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        """Rank 0: the process that writes files."""
        return self.rank == 0


def dist_info_from_env() -> DistInfo:
    """``RANK``, ``LOCAL_RANK``, ``WORLD_SIZE`` as set by ``torchrun`` (defaults: one process)."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    return DistInfo(rank=rank, local_rank=int(os.environ.get("LOCAL_RANK", str(rank))), world_size=world)


def resolve_device(device: str, info: DistInfo) -> torch.device:
    """``"auto"`` → CUDA when available; CUDA processes use GPU ``LOCAL_RANK``."""
    if device == "auto":
        device = "cuda" if torch.cuda.is_available() else "cpu"
    dev = torch.device(device)
    if dev.type == "cuda" and dev.index is None:
        dev = torch.device("cuda", info.local_rank if info.enabled else torch.cuda.current_device())
    if dev.type == "cuda":
        torch.cuda.set_device(dev)
    return dev


def init_distributed(device: torch.device, info: DistInfo | None = None) -> DistInfo:
    """Join the process group if the environment describes one (NCCL on CUDA, gloo on CPU)."""
    info = info or dist_info_from_env()
    if info.enabled and not dist.is_initialized():
        backend = "nccl" if device.type == "cuda" else "gloo"
        dist.init_process_group(backend=backend, rank=info.rank, world_size=info.world_size)
        logger.info("process group: %s, rank %d of %d", backend, info.rank, info.world_size)
    return info


def wrap_ddp(
    module: nn.Module,
    device: torch.device,
    info: DistInfo,
    ignore_prefixes: tuple[str, ...] = (),
    find_unused: bool = False,
) -> nn.Module:
    """``module`` in DDP when distributed, else unchanged.

    ``find_unused``: some parameters may get no gradient in a step (e.g. the
    temporal encoder of a generator built with ``temporal=False``).

    Parameters and buffers whose names start with ``ignore_prefixes`` are
    neither broadcast nor synchronised (e.g. the fixed body model's large
    buffers, identical on every rank by construction). Buffers are not
    re-broadcast each forward: nothing trained here keeps running statistics.
    """
    if not info.enabled:
        return module
    ignored = [
        name
        for name, _ in [*module.named_parameters(), *module.named_buffers()]
        if name.startswith(ignore_prefixes)
    ]
    if ignored:
        DistributedDataParallel._set_params_and_buffers_to_ignore_for_model(module, ignored)
    device_ids = [device.index] if device.type == "cuda" else None
    return DistributedDataParallel(
        module, device_ids=device_ids, broadcast_buffers=False, find_unused_parameters=find_unused
    )


def unwrap(module: nn.Module) -> nn.Module:
    """The module inside a DDP wrapper (or the module itself)."""
    return module.module if isinstance(module, DistributedDataParallel) else module


def all_gather_objects(obj: Any, info: DistInfo) -> list[Any]:
    """Every rank's ``obj`` (picklable), in rank order; ``[obj]`` for one process."""
    if not info.enabled:
        return [obj]
    out: list[Any] = [None] * info.world_size
    dist.all_gather_object(out, obj)
    return out


def all_reduce_mean(values: dict[str, float], device: torch.device, info: DistInfo) -> dict[str, float]:
    """Mean of scalar ``values`` over ranks (same keys on every rank)."""
    if not info.enabled or not values:
        return values
    keys = sorted(values)
    tensor = torch.tensor([values[k] for k in keys], dtype=torch.float64, device=device)
    dist.all_reduce(tensor)
    tensor /= info.world_size
    return dict(zip(keys, tensor.tolist()))


def cleanup_distributed() -> None:
    """Leave the process group if one was joined."""
    if dist.is_initialized():
        dist.destroy_process_group()
