"""Denoise one photo file of any size: load, tiled inference, save (``quartet denoise run``)."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

import numpy as np

from quartet.denoise.data import load_image, match_channels, save_image
from quartet.denoise.tiling import tiled_denoise
from quartet.denoise.train import load_denoiser

log = logging.getLogger(__name__)


def denoise_file(model_path: str | Path, source: str | Path, target: str | Path, tile: int = 512,
                 overlap: int = 32, ensemble: bool = False, exact: bool = True) -> dict[str, Any]:
    """Denoise the image at ``source`` with the model at ``model_path``; writes 8-bit ``target``.

    Memory stays bounded for any size: the float32 input and output plus one tile's
    activations (no whole-image float64 copy). ``exact`` (default) gives every tile the whole
    image's attention statistics, so the result equals untiled inference; otherwise tiles
    overlap by ``overlap`` pixels and are blended. Grey images go through an RGB model as three
    equal channels and come back grey.
    """
    model, model_cfg = load_denoiser(model_path)
    image = load_image(source)  # validates: not an image, truncated, too small -> ImageError
    channels_in = image.shape[-1]
    started = time.perf_counter()
    out = tiled_denoise(model, match_channels(image, model_cfg["channels"]), tile, overlap, ensemble, exact=exact)
    seconds = time.perf_counter() - started
    del image
    np.clip(out, 0, 1, out=out)
    save_image(match_channels(out, channels_in), target)
    h, w = out.shape[:2]
    log.info("denoised %s (%dx%d) in %.2fs -> %s", source, w, h, seconds, target)
    return {"input": str(source), "output": str(target), "model": str(model_path), "width": w, "height": h,
            "seconds": round(seconds, 3), "megapixels_per_s": round(h * w / 1e6 / max(seconds, 1e-9), 4),
            "ensemble": ensemble, "tiling": "exact" if exact else "blend"}
