"""Evaluation: load the test sets, run models and baselines, score PSNR/SSIM per image.

Every set is a list of ``Sample(name, noisy, clean)`` float (H, W, C) arrays. The built-in
"synthetic" set (procedural images with camera-like noise from a fixed generator) is always
available; real sets (PolyU, SIDD) are read from the config and skipped with a warning
when their folder is absent, so the embedded default runs without data files.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from quartet.core.io import atomic_write_json
from quartet.denoise import noise as noise_models
from quartet.denoise.baselines import LICENCE_NOTES, available_baselines
from quartet.denoise.config import DenoiseConfig, EvalConfig, EvalSet, resolve
from quartet.denoise.data import (
    builtin_clean_images,
    clean_images,
    find_pairs,
    load_image,
    load_pair,
    match_channels,
    to_array,
    to_tensor,
)
from quartet.denoise.metrics import mean_by, psnr, ssim, write_csv
from quartet.denoise.noise import camera_like
from quartet.denoise.tiling import tiled_denoise
from quartet.denoise.train import load_denoiser

log = logging.getLogger(__name__)

SYNTHETIC_SEED = 12345  # fixed: the synthetic test set never changes with the training seed


@dataclass(frozen=True)
class Sample:
    name: str
    noisy: np.ndarray  # (H, W, C) float32 in [0, 1]
    clean: np.ndarray


def _centre_crop(arr: np.ndarray, size: int) -> np.ndarray:
    if size <= 0:
        return arr
    h, w = arr.shape[:2]
    top, left = max(0, (h - size) // 2), max(0, (w - size) // 2)
    return arr[top : top + size, left : left + size]


def synthetic_set(cfg: EvalConfig, channels: int) -> list[Sample]:
    gen = torch.Generator().manual_seed(SYNTHETIC_SEED)
    samples = []
    for i, img in enumerate(builtin_clean_images(cfg.synthetic_count, cfg.synthetic_size, SYNTHETIC_SEED)):
        img = img if channels == 3 else img.mean(-1, keepdims=True)
        noisy = to_array(camera_like(to_tensor(img), generator=gen))
        samples.append(Sample(f"synthetic_{i:02d}", noisy, img))
    return samples


def real_pair_set(spec: EvalSet, folder: Path, channels: int) -> list[Sample]:
    samples = []
    for pair in find_pairs(folder, list(spec.names) or None)[: spec.limit or None]:
        noisy, clean = load_pair(pair)
        if noisy.shape[-1] != channels:
            raise ValueError(f"{pair.noisy}: {noisy.shape[-1]} channels, the model takes {channels}")
        samples.append(Sample(pair.name, _centre_crop(noisy, spec.crop), _centre_crop(clean, spec.crop)))
    return samples


def synthetic_noise_set(spec: EvalSet, folder: Path, channels: int) -> list[Sample]:
    """Clean images of ``folder`` (grey ones repeated to RGB) with noise from a fixed generator."""
    gen = torch.Generator().manual_seed(SYNTHETIC_SEED)
    paths = clean_images(folder)
    if spec.names:
        by_stem = {p.stem: p for p in paths}
        missing = [n for n in spec.names if n not in by_stem]
        if missing:
            raise ValueError(f"{folder}: images not found: {missing[:5]}")
        paths = [by_stem[n] for n in spec.names]
    samples = []
    for path in paths[: spec.limit or None]:
        clean = _centre_crop(match_channels(load_image(path), channels), spec.crop)
        x = to_tensor(clean)
        noisy_t = noise_models.gaussian(x, spec.sigma, gen) if spec.noise == "gaussian" else camera_like(x, generator=gen)
        samples.append(Sample(path.stem, to_array(noisy_t), clean))
    return samples


def load_eval_sets(cfg: DenoiseConfig) -> dict[str, list[Sample]]:
    """Set name -> samples: the synthetic set (if any) then every configured real set found."""
    sets: dict[str, list[Sample]] = {}
    if cfg.eval.synthetic_count:
        sets["synthetic"] = synthetic_set(cfg.eval, cfg.model.channels)
    for spec in cfg.eval.sets:
        folder = resolve(cfg.data, spec.path)
        if not folder.is_dir():
            log.warning("eval set %s skipped: %s not found", spec.name, folder)
            continue
        sets[spec.name] = synthetic_noise_set(spec, folder, cfg.model.channels) if spec.noise else \
            real_pair_set(spec, folder, cfg.model.channels)
    return sets


Method = Callable[[np.ndarray], np.ndarray]


def model_method(model: nn.Module, cfg: EvalConfig) -> Method:
    def run(noisy: np.ndarray) -> np.ndarray:
        with torch.inference_mode():
            return tiled_denoise(model, noisy, cfg.tile, cfg.overlap, cfg.ensemble,
                                 exact=cfg.tiling == "exact").clip(0, 1)

    return run


def score(method: Method, samples: list[Sample], labels: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per image: labels, name, psnr, ssim, seconds."""
    rows = []
    for s in samples:
        started = time.perf_counter()
        out = method(s.noisy)
        seconds = time.perf_counter() - started
        rows.append({**labels, "name": s.name, "psnr": psnr(s.clean, out), "ssim": ssim(s.clean, out),
                     "seconds": round(seconds, 4)})
    return rows


def markdown_table(rows: list[dict[str, Any]], methods: list[str], sets: list[str]) -> str:
    """PSNR / SSIM per method (rows) per set (columns); mean ± std over seeds when there are several."""
    per_seed = mean_by(rows, ("set", "method", "seed"))
    lines = ["| method | " + " | ".join(f"{s} PSNR (dB) | {s} SSIM" for s in sets) + " |",
             "|---|" + "---|---|" * len(sets)]
    for method in methods:
        cells = []
        for set_name in sets:
            vals = [v for (st, m, _), v in per_seed.items() if st == set_name and m == method]
            if not vals:
                cells += ["–", "–"]
                continue
            for key, fmt in (("psnr", "{:.2f}"), ("ssim", "{:.4f}")):
                xs = np.array([v[key] for v in vals])
                cell = fmt.format(xs.mean())
                if len(xs) > 1:
                    cell += " ± " + fmt.format(xs.std(ddof=1))
                cells.append(cell)
        label = method + (" (non-commercial licence)" if method in LICENCE_NOTES else "")
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def summarize(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """{set: {method: {psnr, psnr_std, ssim, ssim_std, seeds, images}}} with std over seed means."""
    per_seed = mean_by(rows, ("set", "method", "seed"))
    out: dict[str, dict[str, Any]] = {}
    for (set_name, method, _), v in per_seed.items():
        out.setdefault(set_name, {}).setdefault(method, []).append(v)
    result: dict[str, Any] = {}
    for set_name, methods in out.items():
        result[set_name] = {}
        for method, vals in methods.items():
            entry: dict[str, Any] = {"seeds": len(vals), "images": vals[0]["n"]}
            for key in ("psnr", "ssim"):
                xs = np.array([v[key] for v in vals])
                entry[key] = float(xs.mean())
                entry[f"{key}_std"] = float(xs.std(ddof=1)) if len(xs) > 1 else 0.0
            result[set_name][method] = entry
    return result


def run_eval(cfg: DenoiseConfig, model_path: str | Path, out_dir: str | Path | None = None) -> Path:
    """Score the model at ``model_path`` (run or checkpoint) and the baselines; returns the output folder.

    Writes ``per_image.csv``, ``results.json`` and ``results.md`` into ``out_dir``
    (default: ``<run>/artifacts/eval``).
    """
    model, model_cfg = load_denoiser(model_path)
    out = Path(out_dir) if out_dir else Path(model_path) / "artifacts" / "eval"
    sets = load_eval_sets(cfg)
    method_name = f"model-{model_cfg['attention']}"
    methods: dict[str, Method] = {**available_baselines(cfg.eval.baselines), method_name: model_method(model, cfg.eval)}
    rows = []
    for set_name, samples in sets.items():
        for name, method in methods.items():
            rows += score(method, samples, {"set": set_name, "method": name, "seed": 0})
    write_csv(out / "per_image.csv", rows)
    atomic_write_json(out / "results.json", {"model": str(model_path), "model_config": model_cfg,
                                             "results": summarize(rows), "licence_notes": LICENCE_NOTES})
    (out / "results.md").write_text(markdown_table(rows, list(methods), list(sets)))
    return out
