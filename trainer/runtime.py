"""Where a rank runs: device choice and torch.distributed setup from torchrun's environment."""

from __future__ import annotations

import logging
import math
import os
from dataclasses import dataclass
from typing import Any

import torch
import torch.distributed as dist

log = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class Runtime:
    rank: int
    world_size: int
    local_rank: int
    device: torch.device

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def pick_device(requested: str, local_rank: int) -> torch.device:
    """auto: CUDA when available, else CPU; cuda without a GPU is a configuration error."""
    if requested == "cuda" or (requested == "auto" and torch.cuda.is_available()):
        if not torch.cuda.is_available():
            raise ValueError("--device cuda but torch sees no CUDA device; use --device cpu or auto")
        torch.cuda.set_device(local_rank)
        return torch.device("cuda", local_rank)
    return torch.device("cpu")


def start(requested_device: str) -> Runtime:
    """Join the process group when launched by torchrun (WORLD_SIZE > 1): nccl on GPU, gloo on CPU."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    device = pick_device(requested_device, local_rank)
    if world_size > 1 and not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
        log.info("rank %d of %d on %s", rank, world_size, device)
    return Runtime(rank=rank, world_size=world_size, local_rank=local_rank, device=device)


def stop(rt: Runtime) -> None:
    if rt.world_size > 1 and dist.is_initialized():
        dist.destroy_process_group()


def barrier(rt: Runtime) -> None:
    if rt.world_size > 1:
        dist.barrier()


def all_reduce_sum(values: torch.Tensor, rt: Runtime) -> torch.Tensor:
    """Sum a small CPU float64 tensor over ranks (identity on one rank)."""
    if rt.world_size == 1:
        return values
    moved = values.to(rt.device) if rt.device.type == "cuda" else values.clone()
    dist.all_reduce(moved, op=dist.ReduceOp.SUM)
    return moved.cpu()


def all_reduce_named(values: dict[str, torch.Tensor], rt: Runtime) -> dict[str, torch.Tensor]:
    """Sum named CPU tensors over ranks. A name (with its shape) that only some ranks hold counts
    as zeros on the others: a rank may have had no evaluation batch. Names keep rank 0's order,
    then the order in which other ranks add them."""
    if rt.world_size == 1:
        return values
    gathered: list[Any] = [None] * rt.world_size
    dist.all_gather_object(gathered, [(name, tuple(v.shape)) for name, v in values.items()])
    layout: dict[str, tuple[int, ...]] = {}
    for entries in gathered:
        for name, shape in entries:
            layout.setdefault(name, tuple(shape))
    if not layout:
        return {}
    flat = torch.cat([values[n].double().reshape(-1) if n in values else torch.zeros(math.prod(s), dtype=torch.float64)
                      for n, s in layout.items()])
    parts = all_reduce_sum(flat, rt).split([math.prod(s) for s in layout.values()])
    return {name: part.reshape(shape) for (name, shape), part in zip(layout.items(), parts)}


__all__ = ["Runtime", "all_reduce_named", "all_reduce_sum", "barrier", "pick_device", "start", "stop"]
