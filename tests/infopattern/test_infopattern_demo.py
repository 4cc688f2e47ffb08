"""The demo section on the test config: built, saved, and quick the second time."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from quartet.core.demo import DemoSection
from quartet.infopattern.demo import demo_config, run_demo

CONFIG = Path(__file__).resolve().parents[2] / "configs" / "infopattern" / "test.yaml"


def test_run_demo_on_the_test_config(tmp_path):
    section = run_demo(tmp_path, config=CONFIG)
    assert section.system == "infopattern" and section.seeds == [0]
    titles = [t.title for t in section.tables]
    assert titles[0].startswith("Stance detection") and titles[1].startswith("Red teaming")
    assert [row[1] for row in section.tables[0].rows] == ["tfidf", "encoder", "switch"]
    assert any("graph" in t.lower() for t in titles)  # the claim-graph part is included
    assert all(Path(f.path).is_file() and Path(f.path).read_bytes()[:4] == b"\x89PNG" for f in section.figures)
    assert len(section.figures) == 3 and "to the opposite side" in section.this_run_found
    assert any(e.html and "<mark" in e.html for e in section.examples)
    assert DemoSection.load(tmp_path / "section.json").this_run_found == section.this_run_found
    started = time.perf_counter()
    again = run_demo(tmp_path, config=CONFIG)
    assert time.perf_counter() - started < 15 and again.tables[0].rows == section.tables[0].rows


def test_demo_falls_back_to_builtin_messages_without_data(monkeypatch, tmp_path):
    monkeypatch.setenv("QUARTET_DATA", str(tmp_path / "nothing"))
    cfg = demo_config()
    assert cfg.data.datasets == ("builtin",) and cfg.redteam.dataset == "builtin" and cfg.name == "tiny-builtin"


@pytest.mark.slow
def test_tiny_demo_end_to_end(tmp_path):
    """The real embedded demo (configs/infopattern/tiny.yaml; minutes): `make test-slow`."""
    section = run_demo(tmp_path)
    datasets = {row[0] for row in section.tables[0].rows}
    assert datasets in ({"argq", "rumoureval", "catalonia"}, {"builtin"})
    assert section.tables[1].rows[0][0] == 0.0 and len(section.figures) == 3
