"""Data-parallel training across processes (``torchrun`` / ``accelerate launch``), gloo or NCCL.

Each process takes its shard of every global batch; after the backward pass the gradients
are averaged across processes with one all-reduce per step, which is what PyTorch's
DistributedDataParallel computes. We average explicitly instead of wrapping the module in
DDP because quartet's loss functions call model methods other than ``forward`` (``hidden``
for value heads, switch hooks), which DDP's forward hooks would not see.

Devices: under a launcher every process binds the GPU named by its ``LOCAL_RANK``
(``cuda:LOCAL_RANK``, NCCL); without CUDA every process uses the CPU and gloo. ``local_device``
is the one place that decides, so the trainers and ``load_lm`` agree on it.

Strategies (``prepare``): ``ddp`` replicates the module (rank 0's weights) and averages
gradients here; ``fsdp`` shards parameters, gradients and optimizer state with
``torch.distributed.fsdp.fully_shard`` (FSDP2; works with gloo on CPU and NCCL on GPU) for
models too large to replicate. A sharded module is saved and resumed through the
``full_*`` functions below, which every rank must call (they are collectives).

Writes: only global rank 0 writes files (``is_writer``); the shared write helpers in
``quartet.core.io`` and ``quartet.core.records`` check it, so every pipeline inherits it.

A single process needs none of this: every function is a no-op when the job has one rank.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from typing import Any, Literal

import torch
import torch.distributed as dist
from torch import nn

log = logging.getLogger(__name__)

Strategy = Literal["ddp", "fsdp"]
# Model methods that losses call directly (not through ``forward``): a sharded root must
# gather its parameters for these too. ``hidden``/``head``: the built-in model and value heads.
FORWARD_METHODS = ("hidden", "head")


def launched_world_size() -> int:
    """Processes the launcher started (``WORLD_SIZE``), 1 when run directly."""
    return int(os.environ.get("WORLD_SIZE", "1"))


def global_rank() -> int:
    """This process's rank in the job (``RANK``), 0 when run directly."""
    return int(os.environ.get("RANK", "0"))


def is_writer() -> bool:
    """True in a single process, and on global rank 0 of a distributed job."""
    return global_rank() == 0


def local_device() -> torch.device:
    """The device this process computes on: ``cuda:LOCAL_RANK`` under a launcher, else ``cuda`` or ``cpu``.

    Binding the GPU here (``torch.cuda.set_device``) keeps every later ``"cuda"`` tensor, and
    NCCL's communicator, on this rank's GPU rather than all on GPU 0.
    """
    if not torch.cuda.is_available():
        return torch.device("cpu")
    if "LOCAL_RANK" not in os.environ:
        return torch.device("cuda")
    index, visible = int(os.environ["LOCAL_RANK"]), torch.cuda.device_count()
    if index >= visible:
        raise RuntimeError(f"LOCAL_RANK {index} but only {visible} GPU(s) are visible to this process; "
                           "start at most one process per GPU (--nproc-per-node)")
    torch.cuda.set_device(index)
    return torch.device("cuda", index)


def setup(device: torch.device | str | None = None) -> tuple[int, int]:
    """Join the launcher's process group if there is one; returns ``(rank, world_size)``.

    NCCL when this process computes on a GPU, gloo otherwise; ``device`` defaults to ``local_device()``.
    """
    if launched_world_size() <= 1:
        return 0, 1
    device = torch.device(device) if device is not None else local_device()
    if not dist.is_initialized():
        if device.type == "cuda":
            device = local_device()  # "cuda" alone would mean GPU 0 on every rank
            dist.init_process_group(backend="nccl", device_id=device)
        else:
            dist.init_process_group(backend="gloo")
        log.info("joined %s process group: rank %d of %d on %s", dist.get_backend(), dist.get_rank(),
                 dist.get_world_size(), device)
    return dist.get_rank(), dist.get_world_size()


def active() -> bool:
    return dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1


def broadcast_parameters(module: nn.Module) -> None:
    """Every rank starts from rank 0's weights, as DDP does at construction."""
    if active():
        for tensor in list(module.parameters()) + list(module.buffers()):
            dist.broadcast(tensor.data, src=0)


def default_shard_units(module: nn.Module) -> list[nn.Module]:
    """The blocks FSDP shards one by one: every element of every ``nn.ModuleList`` (transformer layers).

    Each unit's parameters are gathered just before it runs and freed after, so peak memory
    holds one block's full weights, not the model's.
    """
    return [block for child in module.modules() if isinstance(child, nn.ModuleList) for block in child]


def is_sharded(module: nn.Module) -> bool:
    from torch.distributed.fsdp import FSDPModule

    return isinstance(module, FSDPModule)


def prepare(module: nn.Module, strategy: Strategy = "ddp", units: Sequence[nn.Module] | None = None) -> nn.Module:
    """Make ``module`` ready for data-parallel training; build the optimizer *after* this call.

    ``ddp``: rank 0's weights on every rank (gradients are averaged by ``average_gradients``).
    ``fsdp``: the same start, then each unit (default: ``default_shard_units``) and the root
    are sharded with ``fully_shard``; FSDP then reduce-scatters the gradients itself. In one
    process both return ``module`` unchanged.
    """
    if strategy not in ("ddp", "fsdp"):
        raise ValueError(f"parallel strategy must be 'ddp' or 'fsdp', got {strategy!r}")
    if not active():
        return module
    broadcast_parameters(module)  # fully_shard does not synchronise initial weights
    if strategy == "ddp":
        return module
    from torch.distributed.fsdp import fully_shard, register_fsdp_forward_method

    for unit in default_shard_units(module) if units is None else units:
        fully_shard(unit)
    fully_shard(module)
    for name in FORWARD_METHODS:
        if callable(getattr(module, name, None)):
            register_fsdp_forward_method(module, name)
    log.info("FSDP: sharded %s over %d ranks", type(module).__name__, dist.get_world_size())
    return module


def average_gradients(module: nn.Module) -> None:
    if not active() or is_sharded(module):  # FSDP has already reduce-scattered (averaged) them
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


def _full_options(**kwargs: Any):
    from torch.distributed.checkpoint.state_dict import StateDictOptions

    return StateDictOptions(full_state_dict=True, **kwargs)


def _containers_copied(state: Any) -> Any:
    """``state`` with every dict and list copied and the tensors shared, so a loader that swaps
    entries for shards leaves the caller's state (a checkpoint it may still save) untouched."""
    if isinstance(state, dict):
        return {key: _containers_copied(value) for key, value in state.items()}
    if isinstance(state, list | tuple):
        return type(state)(_containers_copied(value) for value in state)
    return state


def full_state_dict(module: nn.Module) -> dict[str, torch.Tensor]:
    """The whole model's weights on CPU, on rank 0 (``{}`` on other ranks of a sharded module).

    Collective for a sharded module: every rank must call it. Unsharded: ``module.state_dict()``.
    """
    if not is_sharded(module):
        return module.state_dict()
    from torch.distributed.checkpoint.state_dict import get_model_state_dict

    return get_model_state_dict(module, options=_full_options(cpu_offload=True))


def full_state_dict_keys(module: nn.Module) -> list[str]:
    """The keys ``full_state_dict`` gives (without gathering anything)."""
    return list(module.state_dict().keys())


def load_full_state_dict(module: nn.Module, state: dict[str, torch.Tensor]) -> None:
    """Inverse of ``full_state_dict``: rank 0's full weights into every rank's shards (strict)."""
    if not is_sharded(module):
        module.load_state_dict(state, strict=True)
        return
    from torch.distributed.checkpoint.state_dict import set_model_state_dict

    # set_model_state_dict replaces the dict's tensors with shards in place: give it our own dict.
    set_model_state_dict(module, _containers_copied(state), options=_full_options(broadcast_from_rank0=True,
                                                                                    strict=True))


def full_optimizer_state(module: nn.Module, optimizer: torch.optim.Optimizer) -> dict[str, Any]:
    """The optimizer's whole state on rank 0, keyed by parameter name (collective when sharded)."""
    if not is_sharded(module):
        return optimizer.state_dict()
    from torch.distributed.checkpoint.state_dict import get_optimizer_state_dict

    return get_optimizer_state_dict(module, optimizer, options=_full_options(cpu_offload=True))


def load_full_optimizer_state(module: nn.Module, optimizer: torch.optim.Optimizer, state: dict[str, Any]) -> None:
    """Inverse of ``full_optimizer_state`` (collective when sharded; only rank 0's ``state`` is read)."""
    if not is_sharded(module):
        optimizer.load_state_dict(state)
        return
    from torch.distributed.checkpoint.state_dict import set_optimizer_state_dict

    set_optimizer_state_dict(module, optimizer, _containers_copied(state),
                             options=_full_options(broadcast_from_rank0=True))


def barrier() -> None:
    if active():
        dist.barrier()
