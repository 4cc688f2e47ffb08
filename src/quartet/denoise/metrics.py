"""PSNR and SSIM, computed with scikit-image, plus per-image CSV and means.

Convention (used for every number quartet reports):

* Both images are float (H, W, C) in [0, 1]; they are first rounded to 8 bits
  (``round(x * 255)``, clipped), exactly as a saved PNG would be, and compared on the
  0-255 scale with ``data_range=255``. skimage converts to float64 before subtracting,
  so nothing overflows (unlike uint8 arithmetic in some reference code).
* PSNR = 10 log10(255² / MSE), MSE over all pixels *and* channels (RGB, no Y conversion).
  Identical images give ``inf``.
* SSIM: skimage's ``structural_similarity`` with a 7x7 uniform window (smaller odd window for
  images under 7 pixels), K1=0.01, K2=0.03, computed per channel and averaged over channels.

>>> import numpy as np
>>> gt = np.full((8, 8, 3), 100 / 255)
>>> round(psnr(gt, gt + 5 / 255), 4)  # MSE = 25 -> 10 log10(255² / 25)
34.1514
"""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from quartet.denoise.data import to_uint8


def _pair_u8(clean: np.ndarray, pred: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    if clean.shape != pred.shape:
        raise ValueError(f"shapes differ: clean {clean.shape}, prediction {pred.shape}")
    return to_uint8(clean), to_uint8(pred)


def psnr(clean: np.ndarray, pred: np.ndarray) -> float:
    """PSNR in dB on 8-bit values (see module docstring)."""
    gt, out = _pair_u8(clean, pred)
    if np.array_equal(gt, out):
        return math.inf
    return float(peak_signal_noise_ratio(gt, out, data_range=255))


def ssim(clean: np.ndarray, pred: np.ndarray) -> float:
    """Mean SSIM over channels on 8-bit values, 7x7 uniform window (see module docstring)."""
    gt, out = _pair_u8(clean, pred)
    side = min(gt.shape[0], gt.shape[1])
    win = min(7, side if side % 2 else side - 1)
    if win < 3:
        raise ValueError(f"SSIM needs images of at least 3x3, got {gt.shape[1]}x{gt.shape[0]}")
    return float(
        structural_similarity(gt, out, data_range=255, channel_axis=-1, win_size=win, gaussian_weights=False)
    )


def write_csv(path: Path, rows: Sequence[dict[str, Any]]) -> None:
    """Per-image rows (name, method, set, psnr, ssim, ...) to CSV."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not rows:
        path.write_text("")
        return
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def mean_by(rows: Sequence[dict[str, Any]], keys: tuple[str, ...], values: tuple[str, ...] = ("psnr", "ssim")):
    """Mean of ``values`` grouped by ``keys``: {(k1, k2, ...): {"psnr": ..., "ssim": ..., "n": ...}}."""
    groups: dict[tuple, list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault(tuple(row[k] for k in keys), []).append(row)
    return {
        group: {**{v: float(np.mean([r[v] for r in members])) for v in values}, "n": len(members)}
        for group, members in groups.items()
    }
