"""`quartet refusal probe --ray`: the probe sharded over a local Ray cluster equals the in-process probe."""

import json
from pathlib import Path

import pytest

from quartet.cli import main

TEST_CFG = Path(__file__).resolve().parents[2] / "configs" / "refusal" / "test.yaml"

ray = pytest.importorskip("ray")


def _records(run_dir, name):
    lines = (run_dir / "probe" / name).read_text().splitlines()
    return {r["id"]: r for r in map(json.loads, lines)}


def test_probe_on_ray_equals_local(tmp_path):
    local, sharded = tmp_path / "local", tmp_path / "ray"
    assert main(["refusal", "probe", "--config", str(TEST_CFG), f"run_dir={local}"]) == 0
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        assert main(["refusal", "probe", "--config", str(TEST_CFG), f"run_dir={sharded}", "--ray", "local"]) == 0
    finally:
        ray.shutdown()
    for name in ("probe.jsonl", "samples.jsonl"):
        ours, theirs = _records(local, name), _records(sharded, name)
        assert ours.keys() == theirs.keys()
        for key, record in ours.items():
            other = theirs[key]
            assert {k: v for k, v in record.items() if k != "confidence"} == \
                   {k: v for k, v in other.items() if k != "confidence"}
            assert record.get("confidence", 0.0) == pytest.approx(other.get("confidence", 0.0), abs=1e-5)
