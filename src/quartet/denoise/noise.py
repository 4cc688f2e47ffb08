"""Synthetic noise for clean images, as torch ops on (C, H, W) tensors in [0, 1].

Randomness comes from ``generator`` when given, else torch's global RNG (which the trainer
reseeds per step, so training noise replays exactly on resume).

* ``gaussian``: additive white Gaussian noise, σ in 0-255 units (σ=25 -> std 25/255).
* ``poisson_gaussian``: ``y = a * Poisson(x / a) + N(0, b²)``, the raw-sensor model.
* ``camera_like``: undo the sRGB curve, add signal-dependent (shot + read) noise in that
  linear raw-like space, re-apply the sRGB curve, quantize to 8 bits, optionally JPEG.
  Real sRGB noise is spatially and level dependent for this reason; plain AWGN is not.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image


def _normal(shape: torch.Size, generator: torch.Generator | None) -> torch.Tensor:
    return torch.randn(shape, generator=generator)


def _uniform(low: float, high: float, generator: torch.Generator | None) -> float:
    return low + (high - low) * float(torch.rand((), generator=generator))


def _log_uniform(low: float, high: float, generator: torch.Generator | None) -> float:
    return math.exp(_uniform(math.log(low), math.log(high), generator))


def gaussian(clean: torch.Tensor, sigma: float, generator: torch.Generator | None = None) -> torch.Tensor:
    """Add N(0, (sigma/255)²); not clipped, as in the usual AWGN benchmarks."""
    return clean + (sigma / 255.0) * _normal(clean.shape, generator)


def poisson_gaussian(
    clean: torch.Tensor, a: float, b: float, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Shot noise with gain ``a`` (photons = x / a) plus read noise with std ``b``, clipped to [0, 1]."""
    if a <= 0:
        raise ValueError(f"shot gain a must be > 0, got {a}")
    shot = a * torch.poisson(clean.clamp(min=0) / a, generator=generator)
    return (shot + b * _normal(clean.shape, generator)).clamp(0, 1)


def srgb_to_linear(x: torch.Tensor) -> torch.Tensor:
    """The sRGB transfer function inverted (IEC 61966-2-1)."""
    x = x.clamp(0, 1)
    return torch.where(x <= 0.04045, x / 12.92, ((x + 0.055) / 1.055) ** 2.4)


def linear_to_srgb(x: torch.Tensor) -> torch.Tensor:
    x = x.clamp(0, 1)
    return torch.where(x <= 0.0031308, 12.92 * x, 1.055 * x.clamp(min=1e-12) ** (1 / 2.4) - 0.055)


def jpeg(x: torch.Tensor, quality: int) -> torch.Tensor:
    """Round-trip (C, H, W) in [0, 1] through an 8-bit JPEG at ``quality``."""
    u8 = (x.clamp(0, 1) * 255).round().to(torch.uint8).permute(1, 2, 0).numpy()
    im = Image.fromarray(u8[..., 0] if u8.shape[-1] == 1 else u8)
    buf = io.BytesIO()
    im.save(buf, format="JPEG", quality=int(quality))
    out = np.asarray(Image.open(io.BytesIO(buf.getvalue())), dtype=np.float32) / 255.0
    if out.ndim == 2:
        out = out[..., None]
    return torch.from_numpy(out.transpose(2, 0, 1).copy())


@dataclass(frozen=True)
class CameraNoise:
    """Ranges of the camera-like noise model (values drawn per image, log-uniform for the gains)."""

    shot: tuple[float, float] = (1e-4, 1e-2)  # shot-noise gain a: variance a * x in linear space
    read: tuple[float, float] = (1e-3, 2e-2)  # read-noise std b in linear space
    jpeg_quality: tuple[int, int] = (0, 0)  # (min, max) JPEG quality; (0, 0) disables JPEG


def camera_like(
    clean: torch.Tensor, model: CameraNoise = CameraNoise(), generator: torch.Generator | None = None
) -> torch.Tensor:
    """Signal-dependent noise in linear space, then sRGB gamma, 8-bit quantization, optional JPEG."""
    a = _log_uniform(*model.shot, generator)
    b = _log_uniform(*model.read, generator)
    linear = srgb_to_linear(clean)  # (C, H, W)
    std = torch.sqrt(a * linear + b * b)  # heteroscedastic Gaussian approximation of Poisson-Gaussian
    noisy = linear_to_srgb(linear + std * _normal(clean.shape, generator))
    noisy = (noisy * 255).round() / 255  # sensors/ISPs deliver 8-bit values
    lo, hi = model.jpeg_quality
    if hi > 0:
        quality = int(round(_uniform(lo, hi, generator)))
        noisy = jpeg(noisy, quality)
    return noisy
