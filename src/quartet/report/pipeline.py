"""``quartet demo``: each system's embedded pipeline in turn, resumable, then the report.

A system takes part by providing ``quartet.<system>.demo.run_demo(root) -> DemoSection``.
A system whose demo module does not exist yet is listed as not built; a system that
fails is reported with its error while the others still run, so one failure never
throws away the others' finished work.
"""

from __future__ import annotations

import importlib
import logging
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from quartet.core.demo import DemoSection

log = logging.getLogger(__name__)

# system -> module providing ``run_demo``; the order the demo runs them in.
DEMO_MODULES: dict[str, str] = {
    "prm": "quartet.prm.demo",
    "refusal": "quartet.refusal.demo",
    "infopattern": "quartet.infopattern.demo",
    "denoise": "quartet.denoise.demo",
}


@dataclass
class SystemOutcome:
    system: str
    status: str  # "done", "not built", "failed"
    section: DemoSection | None = None
    error: str | None = None


def load_runner(module_name: str) -> Callable[[Path], DemoSection] | None:
    """The system's ``run_demo``, or None when that system's demo is not built yet."""
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as err:
        if err.name is not None and module_name.startswith(err.name):
            return None
        raise
    return module.run_demo


def run_system(system: str, root: Path, announce: Callable[[str], None]) -> SystemOutcome:
    runner = load_runner(DEMO_MODULES[system])
    if runner is None:
        return SystemOutcome(system, "not built")
    section_file = root / system / "section.json"
    started = time.perf_counter()
    try:
        section = runner(root / system)
    except Exception as err:  # noqa: BLE001 - reported in the demo, the other systems still run
        log.debug("demo %s failed:\n%s", system, traceback.format_exc())
        return SystemOutcome(system, "failed", error=f"{type(err).__name__}: {err}")
    if not section.seconds:
        section.seconds = round(time.perf_counter() - started, 1)
    section.save(section_file)
    announce(f"{system}: done in {time.perf_counter() - started:.0f} s")
    return SystemOutcome(system, "done", section)


def run_demo_systems(root: Path, systems: list[str], announce: Callable[[str], None]) -> list[SystemOutcome]:
    """Run the given systems' demos under ``root``; each resumes from what it finished before."""
    unknown = [s for s in systems if s not in DEMO_MODULES]
    if unknown:
        raise ValueError(f"unknown system(s) {unknown}; choose from {list(DEMO_MODULES)}")
    outcomes = []
    for index, system in enumerate(systems, 1):
        announce(f"[{index}/{len(systems)}] {system}")
        outcomes.append(run_system(system, root, announce))
    return outcomes
