"""Classical baselines: the noisy input itself, scikit-image NLM and wavelet denoising, BM3D.

BM3D comes from the optional ``bm3d`` package (``pip install quartet[bm3d]``). Its licence
allows **non-commercial use only**; tables mark it. When it is not installed the baseline
is skipped (``available_baselines`` leaves it out).

Each baseline maps a noisy float (H, W, C) image in [0, 1] to a denoised one. The noise
level they need is estimated from the image (``skimage.restoration.estimate_sigma``), since
real noise comes with no σ.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable

import numpy as np
from skimage.restoration import denoise_nl_means, denoise_wavelet, estimate_sigma

Baseline = Callable[[np.ndarray], np.ndarray]

LICENCE_NOTES = {"bm3d": "BM3D (bm3d package): non-commercial licence"}


def _sigma(img: np.ndarray) -> float:
    return float(estimate_sigma(img, channel_axis=-1, average_sigmas=True))


def noisy_input(img: np.ndarray) -> np.ndarray:
    return img


def nlm(img: np.ndarray) -> np.ndarray:
    """Fast non-local means, h = 0.8 σ̂ (scikit-image's documented recipe)."""
    sigma = _sigma(img)
    out = denoise_nl_means(
        img, h=0.8 * sigma, sigma=sigma, fast_mode=True, patch_size=5, patch_distance=6, channel_axis=-1
    )
    return np.asarray(out, dtype=np.float32).reshape(img.shape)


def wavelet(img: np.ndarray) -> np.ndarray:
    """BayesShrink soft thresholding; colour images are denoised in YCbCr."""
    out = denoise_wavelet(
        img, channel_axis=-1, convert2ycbcr=img.shape[-1] == 3, method="BayesShrink", mode="soft",
        rescale_sigma=True,
    )
    return np.asarray(out, dtype=np.float32).reshape(img.shape).clip(0, 1)


def bm3d_denoise(img: np.ndarray) -> np.ndarray:
    import bm3d  # optional, non-commercial licence

    sigma = _sigma(img)
    if img.shape[-1] == 3:
        out = bm3d.bm3d_rgb(img, sigma_psd=sigma)
    else:
        out = bm3d.bm3d(img[..., 0], sigma_psd=sigma)[..., None]
    return np.asarray(out, dtype=np.float32).clip(0, 1)


def bm3d_installed() -> bool:
    return importlib.util.find_spec("bm3d") is not None


ALL_BASELINES: dict[str, Baseline] = {"noisy": noisy_input, "nlm": nlm, "wavelet": wavelet, "bm3d": bm3d_denoise}


def available_baselines(names: tuple[str, ...] | list[str]) -> dict[str, Baseline]:
    """The requested baselines that can run here (BM3D only when installed)."""
    unknown = [n for n in names if n not in ALL_BASELINES]
    if unknown:
        raise ValueError(f"unknown baselines {unknown}; choose from {list(ALL_BASELINES)}")
    return {n: ALL_BASELINES[n] for n in names if n != "bm3d" or bm3d_installed()}
