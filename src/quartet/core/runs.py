"""Run directories: ``runs/<system>/<name>/`` with config, environment, metrics, checkpoints, artifacts.

A run directory is the unit of resumption. ``config.yaml`` is written first; reopening
an existing run with a different config is an error (pass ``--fresh`` semantics by
choosing a new name), so results never silently mix two configurations. Finished
pipeline stages leave a marker under ``stages/`` and are skipped on the next call.
Under ``torchrun`` only rank 0 writes (see ``is_writer``).
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import yaml

from quartet.core import distributed
from quartet.core.config import ConfigError, save_config, to_dict
from quartet.core.distributed import is_writer
from quartet.core.io import atomic_write_json


def runs_root() -> Path:
    return Path(os.environ.get("QUARTET_RUNS", "runs"))


def _git_sha() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5, cwd=Path(__file__).parent
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() or None


def _cpu_model() -> str:
    """The processor's name (Linux's ``/proc/cpuinfo``), else what ``platform`` knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _memory_gib() -> float | None:
    try:
        return round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
    except (ValueError, OSError, AttributeError):  # no sysconf names on this platform
        return None


def environment() -> dict[str, Any]:
    """What produced a run: code version, library versions, hardware."""
    import quartet

    return {
        "git_sha": _git_sha(),
        "quartet": quartet.__version__,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "platform": platform.platform(),
        "cpu_count": os.cpu_count(),
        "cpu": _cpu_model(),
        "memory_gib": _memory_gib(),
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "started": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }


@dataclass(frozen=True)
class RunDir:
    """Paths and small helpers for one run; construct with ``open_run``."""

    path: Path

    @property
    def config_path(self) -> Path:
        return self.path / "config.yaml"

    @property
    def metrics_path(self) -> Path:
        return self.path / "metrics.jsonl"

    @property
    def checkpoints(self) -> Path:
        return self.path / "checkpoints"

    @property
    def artifacts(self) -> Path:
        return self.path / "artifacts"

    def checkpoint(self, step: int) -> Path:
        return self.checkpoints / f"step_{step}"

    def latest_checkpoint(self) -> Path | None:
        """The highest ``step_N``; checkpoints appear by an atomic rename, so each is whole."""
        if not self.checkpoints.is_dir():
            return None
        done = [p for p in self.checkpoints.glob("step_*") if p.name.split("_")[1].isdigit()]
        return max(done, key=lambda p: int(p.name.split("_")[1]), default=None)

    def log_metrics(self, record: dict[str, Any]) -> None:
        if not is_writer():
            return
        with self.metrics_path.open("a", encoding="utf-8") as handle:
            handle.write(json.dumps(record) + "\n")

    def read_metrics(self) -> list[dict[str, Any]]:
        if not self.metrics_path.exists():
            return []
        return [json.loads(line) for line in self.metrics_path.read_text().splitlines() if line.strip()]

    def stage_done(self, stage: str) -> bool:
        """Whether an earlier run finished ``stage``. Under torchrun every rank asks at the same
        point (a barrier first): a rank that started late must not see the marker rank 0 has just
        written for this very stage, skip it and leave the others waiting in its collectives."""
        distributed.barrier()
        return (self.path / "stages" / f"{stage}.done").exists()

    def mark_stage_done(self, stage: str, info: dict[str, Any] | None = None) -> None:
        """Rank 0 writes the marker; under torchrun every rank then waits for the others, so a
        later stage on any rank reads the files this stage wrote (every rank calls this)."""
        if is_writer():
            atomic_write_json(self.path / "stages" / f"{stage}.done", info or {})
        distributed.barrier()


def open_run(path: Path | str, config: Any) -> RunDir:
    """Create (or reopen, to resume) the run directory at ``path`` for ``config``.

    Raises ConfigError when the directory already holds a different config.
    """
    run = RunDir(Path(path))
    if run.config_path.exists():
        existing = yaml.safe_load(run.config_path.read_text())
        wanted = to_dict(config)
        if existing != wanted:
            diff = sorted(_diff_keys(existing, wanted))
            raise ConfigError(
                f"{run.path} already holds a run with a different config (differs at: {', '.join(diff)}); "
                "choose another run name to start a new run"
            )
        return run
    if is_writer():
        run.path.mkdir(parents=True, exist_ok=True)
        save_config(config, run.config_path)
        atomic_write_json(run.path / "env.json", environment())
        run.artifacts.mkdir(exist_ok=True)
        run.checkpoints.mkdir(exist_ok=True)
    return run


def _diff_keys(a: Any, b: Any, prefix: str = "") -> set[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        out: set[str] = set()
        for key in set(a) | set(b):
            out |= _diff_keys(a.get(key), b.get(key), f"{prefix}{key}.")
        return out
    return set() if a == b else {prefix.rstrip(".")}
