"""Data-parallel training across processes (``torchrun`` / ``accelerate launch``), gloo or NCCL.

Each process takes its shard of every global batch; after the backward pass the gradients
are averaged across processes with one all-reduce per parameter group, which is what
PyTorch's DistributedDataParallel computes. We average explicitly instead of wrapping the
module in DDP because quartet's loss functions call model methods other than ``forward``
(``hidden`` for value heads, switch hooks), which DDP's forward hooks would not see.

A single process needs none of this: every function is a no-op when the job has one rank.
"""

from __future__ import annotations

import logging
import os

import torch
import torch.distributed as dist
from torch import nn

log = logging.getLogger(__name__)


def launched_world_size() -> int:
    """Processes the launcher started (``WORLD_SIZE``), 1 when run directly."""
    return int(os.environ.get("WORLD_SIZE", "1"))


def setup(device: torch.device) -> tuple[int, int]:
    """Join the launcher's process group if there is one; returns ``(rank, world_size)``."""
    if launched_world_size() <= 1:
        return 0, 1
    if not dist.is_initialized():
        backend = "nccl" if device.type == "cuda" else "gloo"
        dist.init_process_group(backend=backend)
        log.info("joined %s process group: rank %d of %d", backend, dist.get_rank(), dist.get_world_size())
    return dist.get_rank(), dist.get_world_size()


def active() -> bool:
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def broadcast_parameters(module: nn.Module) -> None:
    """Every rank starts from rank 0's weights, as DDP does at construction."""
    if active():
        for tensor in list(module.parameters()) + list(module.buffers()):
            dist.broadcast(tensor.data, src=0)


def average_gradients(module: nn.Module) -> None:
    if not active():
        return
    grads = [p.grad for p in module.parameters() if p.grad is not None]
    if not grads:
        return
    flat = torch.cat([g.reshape(-1) for g in grads])
    dist.all_reduce(flat)
    flat /= dist.get_world_size()
    offset = 0
    for g in grads:
        g.copy_(flat[offset : offset + g.numel()].view_as(g))
        offset += g.numel()


def average_metrics(metrics: dict[str, float]) -> dict[str, float]:
    """The mean of each metric over ranks (every rank gets the same dict)."""
    if not active() or not metrics:
        return metrics
    keys = sorted(metrics)
    values = torch.tensor([metrics[k] for k in keys], dtype=torch.float64)
    dist.all_reduce(values)
    return dict(zip(keys, (values / dist.get_world_size()).tolist(), strict=True))


def barrier() -> None:
    if active():
        dist.barrier()
