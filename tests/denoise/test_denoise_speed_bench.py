"""Smoke test of benchmarks/denoise_speed.py: its --quick mode runs and prints well-formed ratios.

Timings are not checked here (the benchmark is where speed and memory claims are measured).
"""

import json
import math
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "denoise_speed.py"


def _ratios(node, path=""):
    """Every ``*_vs_*`` number in the nested JSON, as {dotted path: value}."""
    found = {}
    if isinstance(node, dict):
        for key, value in node.items():
            if "_vs_" in key and not isinstance(value, dict):
                found[f"{path}{key}"] = value
            found.update(_ratios(value, f"{path}{key}."))
    return found


def test_quick_benchmark_prints_one_json_object_with_positive_ratios():
    done = subprocess.run([sys.executable, str(BENCH), "--quick"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout)  # the whole of stdout is one JSON object
    assert {"claim", "baseline", "attention", "classical", "tiled_memory", "file_memory"} <= result.keys()
    assert set(result["attention"]) == {"none", "ca", "spa1", "spa2", "spa3", "spa_bands3"}
    assert {"nlm", "wavelet", "bm3d"} <= result["classical"].keys()
    assert result["tiled_memory"]["tile"] < result["tiled_memory"]["width"]  # quick mode still tiles
    ratios = _ratios(result)
    # 2 per attention kind, 1 per classical method run, 2 per memory mode, exact vs blend time
    assert len(ratios) >= 6 * 2 + 2 + 3 * 2 + 1
    bad = {k: v for k, v in ratios.items() if not (isinstance(v, (int, float)) and math.isfinite(v) and v > 0)}
    assert not bad, f"ratios that are not positive finite numbers: {bad}"
    assert result["attention"]["none"]["ratio_vs_none"] == 1.0 and result["attention"]["ca"]["ratio_vs_ca"] == 1.0
