"""`quartet prm label --ray`: sampling and rollouts on a local 2-CPU Ray cluster give the same labels."""

import json
from pathlib import Path

import pytest
import torch

from quartet.cli import main

ray = pytest.importorskip("ray")
TEST_CFG = Path(__file__).resolve().parents[2] / "configs" / "prm" / "test.yaml"


def _by_key(path: Path, key: str) -> dict:
    return {r[key]: r for r in map(json.loads, path.read_text().splitlines())}


def test_labels_on_ray_equal_one_process(tmp_path):
    local, sharded = tmp_path / "local", tmp_path / "ray"
    # Ray workers run torch on one thread. Matmuls split across another number of threads sum in
    # another order, and a last-bit difference in a logit can move a sampled token, so the run
    # compared against them uses one thread too: the claim is same seeds, same kernels, same labels.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        assert main(["prm", "label", "--config", str(TEST_CFG), f"run_dir={local}"]) == 0
    finally:
        torch.set_num_threads(threads)
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        assert main(["prm", "label", "--config", str(TEST_CFG), f"run_dir={sharded}", "--ray", "local"]) == 0
    finally:
        ray.shutdown()
    # Sampled files come back in the order one process writes them (later stages and the bootstrap
    # read them in file order); rollouts are looked up by key, so only their contents must match.
    for name in ("solutions_train.jsonl", "candidates_test.jsonl"):
        assert (local / name).read_text() == (sharded / name).read_text(), name
    assert _by_key(local / "rollouts.jsonl", "key") == _by_key(sharded / "rollouts.jsonl", "key")
    label_files = sorted(p.name for p in (local / "labels").glob("*.jsonl"))
    assert label_files and label_files == sorted(p.name for p in (sharded / "labels").glob("*.jsonl"))
    for name in label_files:
        assert (local / "labels" / name).read_text() == (sharded / "labels" / name).read_text()
