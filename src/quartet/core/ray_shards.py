"""Shard a resumable job across a Ray cluster: one worker (and one model replica) per actor.

The job is a list of work units that are not yet done (the caller filters them against the
output JSONL, so a rerun resumes); a *processor* turns a shard (a list of units) into result
records. ``run_on_ray`` hands the shards to Ray actors and appends each finished shard's
records as it arrives. When an actor dies its
unfinished shard goes back in the queue for a fresh actor (up to ``max_retries`` times per
shard); finished shards are already on disk, so nothing finished is lost.

The processor factory runs inside each actor, so each worker loads its own model once:

    def make_processor(model_dir):                   # a module-level function
        lm = load_lm(model_dir)
        return lambda shard: [rollout(lm, unit) for unit in shard]

    out = AppendOnlyJsonl(results, key=lambda r: r["id"])
    todo = [u for u in units if u["id"] not in out.done()]
    spec = RaySpec("auto", path, workers=8, gpus_per_worker=1)   # one GPU (one vLLM engine) per worker
    run_on_ray(todo, make_processor=functools.partial(make_processor, path), out=out, spec=spec)

Ray gives an actor with ``num_gpus=1`` its own GPU through ``CUDA_VISIBLE_DEVICES``, so inside
the worker that GPU is ``cuda`` (``cuda:0``) and ``load_lm`` needs no device argument.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from quartet.core.progress import progress_bar
from quartet.core.records import AppendOnlyJsonl

log = logging.getLogger(__name__)

Unit = Any
Processor = Callable[[list[Unit]], list[dict[str, Any]]]


@dataclass(frozen=True)
class RaySpec:
    """Where a job's work goes: a Ray cluster whose workers each load ``model_dir`` once."""

    address: str  # "auto", "ray://host:10001", or "local" for a cluster started in this process
    model_dir: str  # the model every worker loads (a folder, or a URL for the openai backend)
    workers: int = 2  # Ray actors, each with its own model replica
    backend: str = "auto"  # how each worker loads the model (``quartet.lm.backends.load_lm``)
    gpus_per_worker: float = 0.0  # GPUs Ray reserves for each actor (1 for a vLLM or CUDA replica; 0: CPU)
    cpus_per_worker: float = 1.0  # CPU cores Ray reserves for each actor

    def __post_init__(self) -> None:
        if self.workers < 1:
            raise ValueError(f"Ray workers must be at least 1, got {self.workers}")
        if self.gpus_per_worker < 0 or self.cpus_per_worker < 0:
            raise ValueError("Ray gpus_per_worker and cpus_per_worker cannot be negative")
        if self.backend == "vllm" and self.gpus_per_worker <= 0:
            raise ValueError("the vllm backend on Ray workers needs gpus_per_worker > 0: "
                             "each worker runs its own vLLM engine on a GPU")

    @property
    def init_address(self) -> str | None:
        return None if self.address == "local" else self.address


class ShardFailedError(RuntimeError):
    pass


def _actor_class():
    import ray

    @ray.remote(max_restarts=0)
    class ShardWorker:
        def __init__(self, make_processor: Callable[[], Processor]):
            self.process = make_processor()

        def run(self, shard: list[Unit]) -> list[dict[str, Any]]:
            return self.process(shard)

    return ShardWorker


def run_on_ray(
    units: list[Unit],
    make_processor: Callable[[], Processor],
    out: AppendOnlyJsonl,
    address: str | None = "auto",
    workers: int = 2,
    shard_size: int = 8,
    max_retries: int = 3,
    cpus_per_worker: float = 1.0,
    gpus_per_worker: float = 0.0,
    spec: RaySpec | None = None,
) -> int:
    """Process ``units`` (those not yet done); returns how many records were appended.

    ``spec``, when given, supplies ``address``, ``workers``, ``cpus_per_worker`` and
    ``gpus_per_worker`` (its fields win over those arguments).
    """
    import ray
    from ray.exceptions import RayActorError

    if spec is not None:
        address, workers = spec.init_address, spec.workers
        cpus_per_worker, gpus_per_worker = spec.cpus_per_worker, spec.gpus_per_worker

    todo = list(units)
    if not todo:
        return 0
    if not ray.is_initialized():
        ray.init(address=address, log_to_driver=False)
    worker_cls = _actor_class().options(num_cpus=cpus_per_worker, num_gpus=gpus_per_worker)
    queue = [todo[i : i + shard_size] for i in range(0, len(todo), shard_size)]
    attempts = [0] * len(queue)
    pending = list(range(len(queue)))
    actors = [worker_cls.remote(make_processor) for _ in range(min(workers, len(queue)))]
    running: dict[Any, tuple[int, Any]] = {}  # object ref -> (shard index, actor)
    appended = 0
    bar = progress_bar(len(todo), desc="ray shards", unit="unit")
    try:
        idle = list(actors)
        while pending or running:
            while pending and idle:
                index, actor = pending.pop(0), idle.pop()
                running[actor.run.remote(queue[index])] = (index, actor)
            ready, _ = ray.wait(list(running), num_returns=1)
            index, actor = running.pop(ready[0])
            try:
                records = ray.get(ready[0])
            except RayActorError as err:
                attempts[index] += 1
                if attempts[index] > max_retries:
                    raise ShardFailedError(f"shard {index} failed {attempts[index]} times: {err}") from err
                log.warning("worker died on shard %d (attempt %d); retrying on a new worker", index, attempts[index])
                pending.append(index)
                idle.append(worker_cls.remote(make_processor))
                continue
            idle.append(actor)
            for record in records:
                out.append(record)
            appended += len(records)
            bar.update(len(queue[index]))
    finally:
        bar.close()
        for actor in actors + idle:
            ray.kill(actor, no_restart=True)
    return appended
