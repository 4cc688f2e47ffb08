"""Speed and memory of denoising: megapixels per second, and peak memory of tiled inference.

Throughput is the best of ``repeats`` timed runs after one warm-up (the minimum is the
least noisy estimate on a shared machine). Peak memory is measured in a fresh child
process (``ru_maxrss`` minus the resident size after imports and model construction), so
earlier allocations of the caller do not count: ``tiled_peak_memory`` for in-memory tiled
inference (the random input image counts), ``file_peak_memory`` for the whole
``quartet denoise run`` path (decode, inference, 8-bit encode) on a PNG written beforehand.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
from torch import nn

from quartet.core.config import to_dict
from quartet.denoise.network import DenoiserConfig, build_denoiser
from quartet.denoise.tiling import tile_starts, tiled_denoise


def megapixels_per_second(fn: Callable[[], Any], pixels: int, repeats: int = 3) -> dict[str, float]:
    """Time ``fn`` (one warm-up, then ``repeats`` runs); {"seconds": best, "mp_per_s": pixels / best / 1e6}."""
    fn()
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    best = min(times)
    return {"seconds": best, "mp_per_s": pixels / best / 1e6}


def model_speed(model: nn.Module, height: int, width: int, repeats: int = 3, channels: int = 3) -> dict[str, float]:
    """Throughput of ``model`` on one (1, C, height, width) image, no tiling."""
    x = torch.rand(1, channels, height, width, generator=torch.Generator().manual_seed(0))
    model.eval()

    def run() -> None:
        with torch.inference_mode():
            model(x)

    return megapixels_per_second(run, height * width, repeats)


def _peak(base: float, seconds: float) -> dict[str, float]:
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    return {"peak_rss_mib": peak, "baseline_rss_mib": base, "peak_growth_mib": peak - base, "seconds": seconds}


def _child_peak_memory(cfg_json: str, height: int, width: int, tile: int, overlap: int,
                       exact: bool = False) -> dict[str, float]:
    """Runs in the child: build the model, then tile-denoise a random image; peak RSS growth in MiB."""
    torch.manual_seed(0)
    model = build_denoiser(DenoiserConfig(**json.loads(cfg_json))).eval()
    base = _current_rss_mib()
    image = np.random.default_rng(0).random((height, width, 3), dtype=np.float32)
    started = time.perf_counter()
    tiled_denoise(model, image, tile=tile, overlap=overlap, exact=exact)
    return _peak(base, time.perf_counter() - started)


def _child_file_memory(model_dir: str, source: str, target: str, tile: int, exact: bool) -> dict[str, float]:
    """Runs in the child: ``denoise_file`` from PNG to PNG, model loading included."""
    from quartet.denoise.photo import denoise_file

    base = _current_rss_mib()
    started = time.perf_counter()
    denoise_file(model_dir, source, target, tile=tile, exact=exact)
    return _peak(base, time.perf_counter() - started)


def _current_rss_mib() -> float:
    with open("/proc/self/statm") as handle:
        pages = int(handle.read().split()[1])
    import os

    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def _in_child(function: str, args: list[Any], timeout: float) -> dict[str, float]:
    code = (
        f"import json, sys; from quartet.denoise.speed import {function} as f; "
        "print(json.dumps(f(*json.loads(sys.argv[1]))))"
    )
    out = subprocess.run([sys.executable, "-c", code, json.dumps(args)], capture_output=True, text=True,
                         timeout=timeout)
    if out.returncode != 0:
        raise RuntimeError(f"memory measurement failed: {out.stderr.strip()[-2000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def tiled_peak_memory(cfg: DenoiserConfig, height: int, width: int, tile: int = 256, overlap: int = 32,
                      exact: bool = False, timeout: float = 3600) -> dict[str, float]:
    """Peak memory (MiB) of tiled inference on a random (height, width, 3) image, in a fresh process.

    ``peak_growth_mib`` is what inference added on top of the process after imports and the model;
    ``peak_rss_mib`` is the whole process.
    """
    tile_starts(max(height, width), tile, overlap)  # bad tile/overlap: ValueError here, not in the child
    return _in_child("_child_peak_memory", [json.dumps(to_dict(cfg)), height, width, tile, overlap, exact], timeout)


def file_peak_memory(cfg: DenoiserConfig, height: int, width: int, tile: int = 512, exact: bool = True,
                     timeout: float = 3600) -> dict[str, float]:
    """Peak memory (MiB) of ``quartet denoise run`` on a random 8-bit RGB PNG of this size, in a fresh process.

    The PNG and an untrained model are written to a temporary folder first; ``peak_growth_mib``
    counts everything after imports: model loading, decoding, inference, encoding.
    """
    import tempfile
    from pathlib import Path

    from PIL import Image

    from quartet.core.checkpoint import save_weights

    with tempfile.TemporaryDirectory() as tmp:
        torch.manual_seed(0)
        save_weights(build_denoiser(cfg), Path(tmp) / "model", to_dict(cfg))
        source, target = Path(tmp) / "in.png", Path(tmp) / "out.png"
        Image.fromarray(np.random.default_rng(0).integers(0, 256, (height, width, 3), dtype=np.uint8)).save(source)
        result = _in_child("_child_file_memory", [str(Path(tmp) / "model"), str(source), str(target), tile, exact],
                           timeout)
        with Image.open(target) as out:
            if out.size != (width, height):
                raise RuntimeError(f"denoise_file wrote {out.size}, expected {(width, height)}")
    return result


def attention_speeds(base: DenoiserConfig, kinds: tuple[str, ...], height: int, width: int,
                     repeats: int = 3) -> dict[str, dict[str, float]]:
    """Megapixels per second of networks that differ only in the attention module (same width, depth)."""
    from dataclasses import replace

    from quartet.denoise.config import variant_model

    results = {}
    for kind in kinds:
        cfg = variant_model(base, kind) if kind not in ("spa", "spa_bands") else replace(base, attention=kind)
        torch.manual_seed(0)
        model = build_denoiser(cfg)
        results[kind] = {**model_speed(model, height, width, repeats, cfg.channels),
                         "parameters": sum(p.numel() for p in model.parameters())}
    return results
