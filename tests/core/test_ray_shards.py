"""Ray-sharded rollouts: same records as one process for the same seeds; a dead worker loses nothing."""

from __future__ import annotations

import functools
import os
from pathlib import Path

import pytest

from quartet.core.records import AppendOnlyJsonl
from quartet.lm.protocol import SamplingParams

ray = pytest.importorskip("ray")

PROMPTS = [f"tom has {i} apples and buys" for i in range(12)]


def rollouts(lm, shard, crash_marker: str | None = None):
    """K seeded samples per unit: the seed follows from the unit, never from the worker."""
    records = []
    for unit in shard:
        if crash_marker and unit["id"] == 7 and not Path(crash_marker).exists():
            Path(crash_marker).touch()
            os._exit(1)  # the worker process dies mid-shard, once
        params = SamplingParams(max_new_tokens=4, temperature=1.0, seed=unit["id"])
        texts = [c.text for c in lm.generate([unit["prompt"]], params, n=3)[0]]
        records.append({"id": unit["id"], "samples": texts})
    return records


def make_processor(model_dir: str, crash_marker: str | None = None):
    from quartet.lm.builtin import BuiltinLM

    lm = BuiltinLM.load(model_dir)
    return functools.partial(rollouts, lm, crash_marker=crash_marker)


@pytest.fixture(scope="module")
def local_cluster():
    # Workers unpickle this module's functions, so they need its folder on their path.
    here = str(Path(__file__).resolve().parent)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False,
             runtime_env={"env_vars": {"PYTHONPATH": here, "OMP_NUM_THREADS": "1"}})
    yield
    ray.shutdown()


def test_ray_records_equal_one_process_and_survive_a_dead_worker(local_cluster, tiny_lm, tmp_path):
    from quartet.core.ray_shards import run_on_ray

    tiny_lm.save(tmp_path / "model")
    units = [{"id": i, "prompt": p} for i, p in enumerate(PROMPTS)]
    expected = {r["id"]: r["samples"] for r in rollouts(tiny_lm, units)}

    out = AppendOnlyJsonl(tmp_path / "rollouts.jsonl", key=lambda r: r["id"])
    out.append({"id": 0, "samples": expected[0]})  # finished by an earlier run: must be skipped
    crash = str(tmp_path / "crashed-once")
    todo = [u for u in units if u["id"] not in out.done()]
    appended = run_on_ray(todo, out=out, workers=2, shard_size=3,
                          make_processor=functools.partial(make_processor, str(tmp_path / "model"), crash))
    assert Path(crash).exists(), "a worker must have died during the run"
    assert appended == 11
    got = {r["id"]: r["samples"] for r in out.records()}
    assert sorted(got) == list(range(12)) and len(out.records()) == 12
    assert got == expected
