"""Claim: SPA costs little speed over CA at equal width, and tiled inference of a 12-MP photo fits in 2 GiB.

Prints one JSON object:
* ``attention``: megapixels/s on CPU of networks that differ only in the attention module
  (the tiny config's width and depth), each with ``ratio_vs_none`` and ``ratio_vs_ca``
  measured in this same run;
* ``classical``: the same for scikit-image NLM and wavelet denoising, and BM3D when the
  optional ``bm3d`` package is installed (``ratio_vs_spa3``: how many times faster SPA is);
* ``tiled_memory``: peak memory growth of tiled inference on a 4000x3000 RGB image, in a fresh
  process, against the 2 GiB target (``ratio_vs_target`` < 1 passes) and against the image's
  own float32 size (``ratio_vs_image``), for blended tiles (``blend``) and for exact tiling
  (``exact``: whole-image attention statistics, the ``quartet denoise run`` default), with
  ``exact_vs_blend_seconds``, the cost of exactness measured in this run;
* ``file_memory``: the same for the whole ``quartet denoise run`` path (PNG decode, exact tiled
  inference, 8-bit PNG encode) on a 4000x3000 8-bit RGB PNG.

    OMP_NUM_THREADS=2 python benchmarks/denoise_speed.py            # the full measurement
    python benchmarks/denoise_speed.py --quick                      # seconds: small sizes
"""

from __future__ import annotations

import argparse
import json
import os
import platform
from pathlib import Path

import numpy as np
import torch

from quartet.core.config import load_config
from quartet.denoise.baselines import available_baselines
from quartet.denoise.config import DenoiseConfig, variant_model
from quartet.denoise.speed import attention_speeds, file_peak_memory, megapixels_per_second, tiled_peak_memory

ROOT = Path(__file__).resolve().parents[1]
TARGET_MIB = 2048


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default=str(ROOT / "configs/denoise/tiny.yaml"))
    parser.add_argument("--size", type=int, default=256, help="side of the timed image")
    parser.add_argument("--memory", type=int, nargs=2, default=(3000, 4000), metavar=("H", "W"))
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--tile", type=int, default=512, help="tile side (the quartet denoise run default)")
    parser.add_argument("--quick", action="store_true", help="small sizes and tiles (several per image), for a smoke test")
    args = parser.parse_args()
    if args.quick:
        args.size, args.memory, args.repeats, args.tile = 64, (300, 400), 1, 128
    base = load_config(DenoiseConfig, args.config).model
    kinds = ("none", "ca", "spa1", "spa2", "spa3", "spa_bands3")
    speeds = attention_speeds(base, kinds, args.size, args.size, args.repeats)
    for entry in speeds.values():
        entry["ratio_vs_none"] = entry["mp_per_s"] / speeds["none"]["mp_per_s"]
        entry["ratio_vs_ca"] = entry["mp_per_s"] / speeds["ca"]["mp_per_s"]

    image = np.random.default_rng(0).random((args.size, args.size, 3), dtype=np.float32)
    classical = {}
    for name, fn in available_baselines(["nlm", "wavelet", "bm3d"]).items():
        entry = megapixels_per_second(lambda fn=fn: fn(image), args.size * args.size, 1)
        entry["ratio_vs_spa3"] = speeds["spa3"]["mp_per_s"] / entry["mp_per_s"]
        classical[name] = entry
    if "bm3d" not in classical:
        classical["bm3d"] = {"skipped": "the optional bm3d package is not installed (non-commercial licence)"}

    h, w = args.memory
    spa3 = variant_model(base, "spa3")

    def against_target(entry: dict) -> dict:
        return {**entry, "ratio_vs_target": entry["peak_growth_mib"] / TARGET_MIB,
                "ratio_vs_image": entry["peak_growth_mib"] / (h * w * 3 * 4 / 2**20)}

    memory = {mode: against_target(tiled_peak_memory(spa3, h, w, tile=args.tile, overlap=32, exact=mode == "exact"))
              for mode in ("blend", "exact")}
    memory.update({"height": h, "width": w, "tile": args.tile, "overlap_blend": 32, "target_mib": TARGET_MIB,
                   "exact_vs_blend_seconds": memory["exact"]["seconds"] / memory["blend"]["seconds"]})
    file_memory = {"height": h, "width": w, "tile": args.tile, "tiling": "exact", "target_mib": TARGET_MIB,
                   **against_target(file_peak_memory(spa3, h, w, tile=args.tile, exact=True))}
    print(json.dumps({
        "claim": "SPA is close to CA in speed at equal width; tiled 12-MP inference (in memory and file to file) "
                 "stays under 2 GiB",
        "baseline": "the same network without attention (speed); the 2 GiB target (memory)",
        "timed_image": [args.size, args.size], "model": {"width": base.width, "blocks": base.blocks},
        "attention": speeds, "classical": classical, "tiled_memory": memory, "file_memory": file_memory,
        "threads": torch.get_num_threads(), "omp_num_threads": os.environ.get("OMP_NUM_THREADS"),
        "machine": platform.machine(), "cpu_count": os.cpu_count(),
    }, indent=2))


if __name__ == "__main__":
    main()
