import json
import time
from dataclasses import replace
from pathlib import Path

import pytest

from quartet.core.config import load_config
from quartet.core.demo import DemoSection
from quartet.denoise.config import DenoiseConfig, EvalSet
from quartet.denoise.demo import _with_available_data, run_demo

ROOT = Path(__file__).resolve().parents[2]


def test_demo_section_on_the_test_config_and_resume(tmp_path):
    section = run_demo(tmp_path, ROOT / "configs/denoise/test.yaml")
    assert section.system == "denoise" and section.seeds == [0]
    table = section.tables[0]
    assert [r[0] for r in table.rows] == ["noisy", "wavelet", "none", "ca", "spa1"]
    noisy_psnr = float(table.rows[0][1])
    summary = json.loads((Path(section.run_dirs[0]) / "artifacts" / "results.json").read_text())
    assert noisy_psnr == pytest.approx(summary["results"]["synthetic"]["noisy"]["psnr"], abs=0.005)
    assert f"noisy input {noisy_psnr:.2f} dB" in section.this_run_found
    for fig in section.figures:
        assert Path(fig.path).stat().st_size > 1000, fig.path
    saved = DemoSection.load(tmp_path / "section.json")
    assert saved.this_run_found == section.this_run_found
    # resumable: the second call trains and scores nothing
    before = (Path(section.run_dirs[0]) / "artifacts" / "per_image.jsonl").stat().st_mtime_ns
    started = time.perf_counter()
    again = run_demo(tmp_path, ROOT / "configs/denoise/test.yaml")
    assert time.perf_counter() - started < 5
    assert again.tables[0].rows == table.rows
    assert (Path(section.run_dirs[0]) / "artifacts" / "per_image.jsonl").stat().st_mtime_ns == before


def test_demo_falls_back_to_builtin_images_without_data(tmp_path):
    cfg = load_config(DenoiseConfig, ROOT / "configs/denoise/tiny.yaml")
    cfg = replace(cfg, data=replace(cfg.data, data_root=str(tmp_path / "nowhere")))
    fallback = _with_available_data(cfg)
    assert fallback.data.train_source == "builtin" and fallback.eval.sets == ()
    assert fallback.eval.synthetic_count > 0 and fallback.name.endswith("-builtin")
    # with the data present, nothing changes
    present = replace(cfg, data=replace(cfg.data, data_root=str(tmp_path)),
                      eval=replace(cfg.eval, sets=(EvalSet(name="x", path="X"),)))
    for d in ("PolyU100", "CBSD68", "X"):
        (tmp_path / d).mkdir()
    assert _with_available_data(present) == present


@pytest.mark.slow
def test_demo_on_the_tiny_config(tmp_path):
    """The real embedded demo (minutes): every variant trains, real sets are scored when present."""
    section = run_demo(tmp_path)
    assert len(section.tables[0].rows) >= 6
    assert section.seconds < 8 * 60 * 3  # generous: shared CI machines are slower than the 8-minute target
