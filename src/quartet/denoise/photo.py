"""Denoise one photo file of any size: load, tiled inference, save (``quartet denoise run``)."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

from quartet.denoise.data import load_image, match_channels, save_image
from quartet.denoise.tiling import tiled_denoise
from quartet.denoise.train import load_denoiser

log = logging.getLogger(__name__)


def denoise_file(model_path: str | Path, source: str | Path, target: str | Path, tile: int = 256,
                 overlap: int = 32, ensemble: bool = False) -> dict[str, Any]:
    """Denoise the image at ``source`` with the model at ``model_path``; writes 8-bit ``target``.

    Memory stays bounded for any size: only one tile's activations exist at a time. Grey images
    go through an RGB model as three equal channels and come back grey.
    """
    model, model_cfg = load_denoiser(model_path)
    image = load_image(source)  # validates: not an image, truncated, too small -> ImageError
    channels_in = image.shape[-1]
    started = time.perf_counter()
    out = tiled_denoise(model, match_channels(image, model_cfg["channels"]), tile, overlap, ensemble)
    seconds = time.perf_counter() - started
    save_image(match_channels(out.clip(0, 1), channels_in), target)
    h, w = image.shape[:2]
    log.info("denoised %s (%dx%d) in %.2fs -> %s", source, w, h, seconds, target)
    return {"input": str(source), "output": str(target), "width": w, "height": h, "seconds": round(seconds, 3),
            "megapixels_per_s": round(h * w / 1e6 / max(seconds, 1e-9), 4), "ensemble": ensemble}
