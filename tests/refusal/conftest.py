"""One finished ``configs/refusal/test.yaml`` pipeline run, shared by the refusal tests of a session
(its base model is reused by tests that need a world-trained model without pretraining again)."""

from pathlib import Path

import pytest

from quartet.core.config import load_config
from quartet.refusal.config import RefusalConfig
from quartet.refusal.pipeline import run_pipeline

TEST_CFG = Path(__file__).resolve().parents[2] / "configs/refusal/test.yaml"


@pytest.fixture(scope="session")
def finished_run(tmp_path_factory):
    """(config, run directory) of a finished test.yaml run. Tests read it; at most a re-run re-renders its report."""
    run_dir = tmp_path_factory.mktemp("refusal") / "run"
    cfg = load_config(RefusalConfig, TEST_CFG, [f"run_dir={run_dir}"])
    return cfg, run_pipeline(cfg)
