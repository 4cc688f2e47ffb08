"""One training loop for every model in quartet: language models, PRMs, switches, denoisers.

The loop owns what must be identical everywhere — data order, schedule, clipping,
accumulation, precision, metrics, checkpoints and exact resume — and takes the
model-specific part as a ``loss_fn(module, batch) -> (loss, metrics)``.

Exact resume: the data order is a pure function of (seed, epoch), and torch's global
RNG is reseeded from (seed, micro-step) before every micro-batch, so augmentation
and dropout depend only on the step. With the optimizer and scheduler state restored
from the checkpoint, a run killed and resumed ends bit-identical to one that never
stopped.
"""

from __future__ import annotations

import logging
import math
import shutil
import time
from collections.abc import Callable, Sequence
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any, Literal

import torch
from torch import nn

from quartet.core import distributed
from quartet.core.checkpoint import (
    load_trainer_state,
    load_weights,
    save_state_dict,
    save_trainer_state,
    save_weights,
    write_checkpoint,
)
from quartet.core.distributed import is_writer
from quartet.core.progress import progress_bar
from quartet.core.runs import RunDir

log = logging.getLogger(__name__)

LossFn = Callable[[nn.Module, Any], tuple[torch.Tensor, dict[str, float]]]
EvalFn = Callable[[nn.Module], dict[str, float]]


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation settings shared by every trainer."""

    steps: int = 200  # optimizer steps
    batch_size: int = 16  # examples per micro-batch
    grad_accum: int = 1  # micro-batches per optimizer step
    lr: float = 1e-3  # peak learning rate
    min_lr_ratio: float = 0.1  # cosine floor as a fraction of lr
    warmup_steps: int = 10  # linear warmup from 0
    schedule: Literal["cosine", "step", "constant"] = "cosine"  # decay after warmup
    step_size: int = 100  # "step" schedule: multiply lr by step_gamma every step_size steps
    step_gamma: float = 0.5  # "step" schedule factor
    optimizer: Literal["adamw", "adam"] = "adamw"  # adam: no weight decay at all
    weight_decay: float = 0.01  # AdamW decay on weight matrices only (not norms, biases, gains, embeddings)
    betas: tuple[float, float] = (0.9, 0.95)  # Adam betas
    grad_clip: float = 1.0  # max global grad norm (0: off)
    precision: Literal["auto", "fp32", "bf16"] = "auto"  # auto: bf16 autocast on CUDA that supports it
    parallel: Literal["ddp", "fsdp"] = "ddp"  # under torchrun: replicate (ddp) or shard params/grads/optimizer (fsdp)
    eval_every: int = 0  # run eval_fn every N steps (0: only at the end)
    checkpoint_every: int = 0  # save every N steps (0: only at the end)
    keep_checkpoints: int = 2  # older step_N folders are deleted
    log_every: int = 10  # metrics.jsonl record every N steps
    seed: int = 0  # data order and per-step RNG


def lr_lambda(cfg: TrainConfig) -> Callable[[int], float]:
    """Multiplier of ``cfg.lr`` at optimizer step ``step`` (0-based).

    >>> f = lr_lambda(TrainConfig(steps=110, warmup_steps=10, min_lr_ratio=0.0))
    >>> round(f(4), 3), f(10), round(f(60), 3), round(f(110), 3)
    (0.5, 1.0, 0.5, 0.0)
    """

    def factor(step: int) -> float:
        if step < cfg.warmup_steps:
            return (step + 1) / cfg.warmup_steps
        if cfg.schedule == "constant":
            return 1.0
        if cfg.schedule == "step":
            return cfg.step_gamma ** ((step - cfg.warmup_steps) // cfg.step_size)
        span = max(1, cfg.steps - cfg.warmup_steps)
        progress = min(1.0, (step - cfg.warmup_steps) / span)
        return cfg.min_lr_ratio + (1 - cfg.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * progress))

    return factor


def decay_groups(module: nn.Module) -> tuple[list[nn.Parameter], list[nn.Parameter]]:
    """Trainable parameters as (decayed, not decayed).

    Weight matrices decay; norms' gains, biases (anything below 2-D) and embedding tables
    do not: decay would pull rare tokens' rows to zero for no regularising benefit. A tied
    output head is the embedding's own tensor, so it follows the embedding.

    >>> layer = nn.Sequential(nn.Embedding(10, 4), nn.Linear(4, 4), nn.LayerNorm(4))
    >>> decayed, kept = decay_groups(layer)
    >>> [tuple(p.shape) for p in decayed], [tuple(p.shape) for p in kept]
    ([(4, 4)], [(10, 4), (4,), (4,), (4,)])
    """
    embeddings = {id(m.weight) for m in module.modules() if isinstance(m, nn.Embedding)}
    decayed, kept = [], []
    for p in module.parameters():  # each tensor once, tied ones included
        if p.requires_grad:
            (kept if p.dim() < 2 or id(p) in embeddings else decayed).append(p)
    return decayed, kept


def build_optimizer(module: nn.Module, cfg: TrainConfig) -> torch.optim.Optimizer:
    """AdamW with weight decay on weight matrices only (``decay_groups``); plain Adam when asked."""
    params = [p for p in module.parameters() if p.requires_grad]
    if cfg.optimizer == "adam":
        return torch.optim.Adam(params, lr=cfg.lr, betas=cfg.betas)
    decay, no_decay = decay_groups(module)
    groups = [{"params": decay, "weight_decay": cfg.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    return torch.optim.AdamW(groups, lr=cfg.lr, betas=cfg.betas)


def epoch_order(n: int, seed: int, epoch: int) -> list[int]:
    """The shuffled example order of one epoch, a pure function of (seed, epoch)."""
    gen = torch.Generator().manual_seed(seed * 1_000_003 + epoch)
    return torch.randperm(n, generator=gen).tolist()


class Trainer:
    """Trains ``module`` on ``dataset`` with ``loss_fn``; resumes from the run's latest checkpoint."""

    def __init__(
        self,
        module: nn.Module,
        loss_fn: LossFn,
        dataset: Sequence[Any],
        collate: Callable[[list[Any]], Any],
        cfg: TrainConfig,
        run: RunDir,
        model_config: dict[str, Any],
        eval_fn: EvalFn | None = None,
        device: torch.device | str = "cpu",
    ):
        if len(dataset) == 0:
            raise ValueError("cannot train on an empty data set")
        self.loss_fn, self.dataset, self.collate = loss_fn, dataset, collate
        self.cfg, self.run, self.model_config, self.eval_fn = cfg, run, model_config, eval_fn
        self.device = torch.device(device)
        self.rank, self.world_size = distributed.setup(self.device)
        # ddp: rank 0's weights everywhere; fsdp: sharded across ranks. The optimizer comes after.
        self.module = distributed.prepare(module.to(device), cfg.parallel)
        if cfg.batch_size % self.world_size:
            raise ValueError(f"batch_size {cfg.batch_size} is not divisible by the {self.world_size} processes")
        self.optimizer = build_optimizer(self.module, cfg)
        self.scheduler = torch.optim.lr_scheduler.LambdaLR(self.optimizer, lr_lambda(cfg))
        self.step = 0
        self.saved_step = -1  # the same on every rank, unlike a look at the file system
        # Batches never straddle epochs; a data set smaller than a batch is used whole.
        # ``batch_size`` is the global batch: each process trains on its shard of it.
        self.batch_size = min(cfg.batch_size, len(dataset))
        self.batches_per_epoch = len(dataset) // self.batch_size

    def _autocast(self):
        use_bf16 = self.cfg.precision == "bf16" or (
            self.cfg.precision == "auto" and self.device.type == "cuda" and torch.cuda.is_bf16_supported()
        )
        return torch.autocast(self.device.type, dtype=torch.bfloat16) if use_bf16 else nullcontext()

    def _micro_batch(self, micro_step: int) -> Any:
        epoch, index = divmod(micro_step, self.batches_per_epoch)
        order = epoch_order(len(self.dataset), self.cfg.seed, epoch)
        torch.manual_seed(self.cfg.seed * 7_919 + micro_step)
        ids = order[index * self.batch_size : (index + 1) * self.batch_size]
        ids = ids[self.rank :: self.world_size]  # this process's shard (all of it in one process)
        return _to_device(self.collate([self.dataset[i] for i in ids]), self.device)

    def resume(self) -> bool:
        """Load the latest checkpoint of the run, if any. Returns whether one was found."""
        latest = self.run.latest_checkpoint()
        if latest is None:
            return False
        load_weights(self.module, latest)
        state = load_trainer_state(latest)
        distributed.load_full_optimizer_state(self.module, self.optimizer, state["optimizer"])
        self.scheduler.load_state_dict(state["scheduler"])
        self.step = self.saved_step = int(state["step"])
        log.info("resumed %s at step %d", self.run.path, self.step)
        return True

    def save_checkpoint(self) -> None:
        self.saved_step = self.step
        # Gathering a sharded model and its optimizer state is a collective: every rank takes part.
        sharded = distributed.is_sharded(self.module)
        weights = distributed.full_state_dict(self.module) if sharded else None
        optimizer_state = distributed.full_optimizer_state(self.module, self.optimizer)
        if not is_writer():
            distributed.barrier()  # wait for rank 0's checkpoint before going on
            return

        def write(directory):
            if weights is None:
                save_weights(self.module, directory, self.model_config)
            else:
                save_state_dict(weights, directory, self.model_config)
            save_trainer_state(
                directory,
                {
                    "optimizer": optimizer_state,
                    "scheduler": self.scheduler.state_dict(),
                    "step": self.step,
                    "torch_rng": torch.get_rng_state(),
                },
            )

        write_checkpoint(self.run.checkpoint(self.step), write)
        kept = sorted(self.run.checkpoints.glob("step_*"), key=lambda p: int(p.name.split("_")[1]))
        for old in kept[: -self.cfg.keep_checkpoints]:
            shutil.rmtree(old, ignore_errors=True)
        distributed.barrier()

    def train_step(self) -> dict[str, float]:
        self.module.train()
        self.optimizer.zero_grad(set_to_none=True)
        totals: dict[str, float] = {}
        for micro in range(self.cfg.grad_accum):
            batch = self._micro_batch(self.step * self.cfg.grad_accum + micro)
            with self._autocast():
                loss, metrics = self.loss_fn(self.module, batch)
            (loss / self.cfg.grad_accum).backward()
            for key, value in {"loss": loss.item(), **metrics}.items():
                totals[key] = totals.get(key, 0.0) + value / self.cfg.grad_accum
        distributed.average_gradients(self.module)
        totals = distributed.average_metrics(totals)
        if self.cfg.grad_clip > 0:
            norm = torch.nn.utils.clip_grad_norm_(self.module.parameters(), self.cfg.grad_clip)
            totals["grad_norm"] = float(norm.full_tensor() if hasattr(norm, "full_tensor") else norm)  # DTensor under FSDP
        totals["lr"] = self.scheduler.get_last_lr()[0]
        self.optimizer.step()
        self.scheduler.step()
        self.step += 1
        return totals

    def evaluate(self) -> dict[str, float]:
        if self.eval_fn is None:
            return {}
        self.module.eval()
        with torch.no_grad():
            return {f"eval_{k}": v for k, v in self.eval_fn(self.module).items()}

    def fit(self) -> dict[str, float]:
        """Train to ``cfg.steps``; returns the last logged metrics (with eval results)."""
        self.resume()
        last: dict[str, float] = {}
        bar = progress_bar(self.cfg.steps, desc=f"train {self.run.path.name}", unit="step")
        bar.update(self.step)
        started = time.perf_counter()
        while self.step < self.cfg.steps:
            metrics = self.train_step()
            bar.update(1)
            bar.set_postfix(loss=f"{metrics['loss']:.4f}")
            record = {"step": self.step, **metrics}
            if self.cfg.eval_every and self.step % self.cfg.eval_every == 0 and self.step < self.cfg.steps:
                record.update(self.evaluate())
            if self.step % self.cfg.log_every == 0 or self.step == self.cfg.steps or len(record) > len(metrics) + 1:
                record["elapsed_s"] = round(time.perf_counter() - started, 3)
                self.run.log_metrics(record)
            if self.cfg.checkpoint_every and self.step % self.cfg.checkpoint_every == 0:
                self.save_checkpoint()
            last = record
        bar.close()
        final = self.evaluate()
        if final:
            self.run.log_metrics({"step": self.step, **final})
        if self.saved_step != self.step:
            self.save_checkpoint()
        return {**last, **final}


def _to_device(batch: Any, device: torch.device) -> Any:
    if isinstance(batch, torch.Tensor):
        return batch.to(device)
    if isinstance(batch, dict):
        return {k: _to_device(v, device) for k, v in batch.items()}
    if isinstance(batch, list | tuple):
        return type(batch)(_to_device(v, device) for v in batch)
    return batch
