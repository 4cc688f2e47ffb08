"""`quartet prm label --ray`: sampling and rollouts on a local 2-CPU Ray cluster give the same labels."""

import json
from pathlib import Path

import pytest

from quartet.cli import main

ray = pytest.importorskip("ray")
TEST_CFG = Path(__file__).resolve().parents[2] / "configs" / "prm" / "test.yaml"


def _by_key(path: Path, key: str) -> dict:
    return {r[key]: r for r in map(json.loads, path.read_text().splitlines())}


def test_labels_on_ray_equal_one_process(tmp_path):
    local, sharded = tmp_path / "local", tmp_path / "ray"
    assert main(["prm", "label", "--config", str(TEST_CFG), f"run_dir={local}"]) == 0
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        assert main(["prm", "label", "--config", str(TEST_CFG), f"run_dir={sharded}", "--ray", "local"]) == 0
    finally:
        ray.shutdown()
    assert _by_key(local / "solutions_train.jsonl", "solution_id") == _by_key(sharded / "solutions_train.jsonl",
                                                                              "solution_id")
    assert _by_key(local / "rollouts.jsonl", "key") == _by_key(sharded / "rollouts.jsonl", "key")
    label_files = sorted(p.name for p in (local / "labels").glob("*.jsonl"))
    assert label_files and label_files == sorted(p.name for p in (sharded / "labels").glob("*.jsonl"))
    for name in label_files:
        assert (local / "labels" / name).read_text() == (sharded / "labels" / name).read_text()
