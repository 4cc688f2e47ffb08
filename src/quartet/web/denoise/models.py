"""The denoise page's model: a trained denoiser of a finished ``quartet denoise`` run, run tiled.

Training runs (``quartet denoise train``, or each ``models/<variant>-s<seed>/`` of an
ablation) keep ``checkpoints/step_N/`` with ``model.json`` (the ``DenoiserConfig``) and
``model.safetensors``. Among the runs found the page prefers SPA, then more pyramid levels
(the paper's model), and uses each run's latest checkpoint.
"""

from __future__ import annotations

import io
import logging
import threading
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from quartet.web.runfiles import display_path

log = logging.getLogger(__name__)

ATTENTION_ORDER = ("spa", "spa_bands", "ca", "none")


class DenoiseModel(Protocol):
    """What the denoise route uses; ``info`` names the run and the model."""

    info: dict[str, Any]

    def denoise(self, image: np.ndarray) -> np.ndarray:
        """float (H, W, C) in [0, 1] -> the denoised image, same shape, clipped to [0, 1]."""
        ...


def _denoiser_config(ckpt: Path) -> dict[str, Any] | None:
    """``model.json`` of ``ckpt`` when it describes a denoiser (LM checkpoints look alike on disk)."""
    import json

    from quartet.denoise.network import DenoiserConfig

    try:
        cfg = json.loads((ckpt / "model.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    fields = set(DenoiserConfig.__dataclass_fields__)
    if not isinstance(cfg, dict) or not {"attention", "channels", "width"} <= set(cfg) or not set(cfg) <= fields:
        return None
    return cfg


def find_denoise_run(runs: Path) -> Path | None:
    """The preferred trained denoiser under ``runs``: its run folder (the latest checkpoint is used)."""
    found = []
    for ckpt_dir in sorted(runs.glob("**/checkpoints")):
        steps = sorted(ckpt_dir.glob("step_*/model.safetensors"), key=lambda p: int(p.parent.name.split("_")[-1]))
        if not steps:
            continue
        cfg = _denoiser_config(steps[-1].parent)
        if cfg is None:
            continue
        kind = cfg.get("attention", "none")
        rank = ATTENTION_ORDER.index(kind) if kind in ATTENTION_ORDER else len(ATTENTION_ORDER)
        found.append((rank, -int(cfg.get("levels", 0)) if kind.startswith("spa") else 0, str(ckpt_dir), ckpt_dir))
    return min(found)[3].parent if found else None


class TiledDenoiser:
    """A ``quartet.denoise`` model behind ``DenoiseModel``: tiled inference, one image at a time."""

    def __init__(self, model: Any, channels: int, info: dict[str, Any], tile: int = 256, overlap: int = 32):
        self.model, self.channels, self.info = model, channels, info
        self.tile, self.overlap = tile, overlap
        self._lock = threading.Lock()  # bounds memory and CPU: one photo at a time

    @classmethod
    def load(cls, run_dir: Path, runs: Path | None = None, tile: int = 256, overlap: int = 32) -> TiledDenoiser:
        from quartet.denoise.train import checkpoint_dir, load_denoiser

        ckpt = checkpoint_dir(run_dir)
        model, cfg = load_denoiser(run_dir)
        params = sum(p.numel() for p in model.parameters())
        info = {"run": display_path(run_dir, runs), "checkpoint": ckpt.name, "attention": cfg["attention"],
                "levels": cfg.get("levels"), "width": cfg["width"], "channels": cfg["channels"],
                "parameters": params, "tile": tile, "overlap": overlap}
        log.info("denoise page: %s (%s)", ckpt, cfg["attention"])
        return cls(model, int(cfg["channels"]), info, tile, overlap)

    def denoise(self, image: np.ndarray) -> np.ndarray:
        from quartet.denoise.data import match_channels
        from quartet.denoise.tiling import tiled_denoise

        # tiled_denoise needs overlap < the tile's sides, which shrink to a small image's sides.
        overlap = min(self.overlap, min(self.tile, *image.shape[:2]) - 1)
        with self._lock:
            out = tiled_denoise(self.model, match_channels(image, self.channels), self.tile, overlap)
        return match_channels(out.clip(0, 1), image.shape[-1])


def png_bytes(image: np.ndarray) -> bytes:
    """float (H, W, C) in [0, 1] -> an 8-bit PNG file's bytes (grey stays grey)."""
    from PIL import Image

    from quartet.denoise.data import to_uint8

    u8 = to_uint8(image)
    buffer = io.BytesIO()
    Image.fromarray(u8[..., 0] if u8.shape[-1] == 1 else u8).save(buffer, format="PNG")
    return buffer.getvalue()
