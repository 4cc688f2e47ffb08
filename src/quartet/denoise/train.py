"""Training a denoiser: patch data sets, L1 loss, the shared trainer, loading trained models."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import Dataset

from quartet.core.checkpoint import load_weights, read_weights_config
from quartet.core.config import from_dict, to_dict
from quartet.core.runs import open_run, runs_root
from quartet.core.seeding import seed_everything
from quartet.core.trainer import Trainer
from quartet.denoise import noise as noise_models
from quartet.denoise.config import DataConfig, DenoiseConfig, resolve
from quartet.denoise.data import (
    builtin_clean_images,
    clean_images,
    find_pairs,
    load_image,
    load_pair,
    match_channels,
    random_crop_pair,
    to_tensor,
)
from quartet.denoise.network import Denoiser, DenoiserConfig, build_denoiser

log = logging.getLogger(__name__)

Corrupt = Callable[[torch.Tensor], torch.Tensor]


class PatchDataset(Dataset):
    """``epoch_size`` random patches; image ``i % n``, crop, flips and noise drawn from torch's RNG.

    Each source is (noisy or None, clean) as (C, H, W); with None the clean crop is
    corrupted by ``corrupt`` (synthetic noise), otherwise the real pair is cropped.
    """

    def __init__(self, sources: list[tuple[torch.Tensor | None, torch.Tensor]], patch: int, epoch_size: int,
                 corrupt: Corrupt | None = None):
        if not sources:
            raise ValueError("no training images")
        if any(n is None for n, _ in sources) and corrupt is None:
            raise ValueError("clean-only training images need a noise model")
        self.sources, self.patch, self.epoch_size, self.corrupt = sources, patch, epoch_size, corrupt

    def __len__(self) -> int:
        return self.epoch_size

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        noisy, clean = self.sources[i % len(self.sources)]
        if noisy is None:
            _, clean = random_crop_pair(clean, clean, self.patch)
            noisy = self.corrupt(clean).float()  # type: ignore[misc]
        else:
            noisy, clean = random_crop_pair(noisy, clean, self.patch)
        return {"noisy": noisy, "clean": clean}  # (C, P, P) each


def collate(items: list[dict[str, torch.Tensor]]) -> dict[str, torch.Tensor]:
    return {key: torch.stack([it[key] for it in items]) for key in items[0]}


def l1_loss(module: nn.Module, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, dict[str, float]]:
    out = module(batch["noisy"])  # (B, C, P, P)
    loss = F.l1_loss(out, batch["clean"])
    with torch.no_grad():
        mse = F.mse_loss(out.clamp(0, 1), batch["clean"]).clamp(min=1e-10)
    return loss, {"psnr": float(-10 * torch.log10(mse))}


def build_corruption(cfg: DataConfig) -> Corrupt:
    if cfg.noise == "gaussian":
        return lambda x: noise_models.gaussian(x, cfg.sigma)
    if cfg.noise == "poisson_gaussian":
        return lambda x: noise_models.poisson_gaussian(x, cfg.shot, cfg.read)
    return lambda x: noise_models.camera_like(x, cfg.camera)


def build_train_dataset(cfg: DataConfig, channels: int) -> PatchDataset:
    """The training set named by ``cfg.train_source``; images smaller than a patch are skipped."""
    sources: list[tuple[torch.Tensor | None, torch.Tensor]] = []
    if cfg.train_source == "builtin":
        for img in builtin_clean_images(cfg.builtin_count, cfg.builtin_size, cfg.seed):
            sources.append((None, to_tensor(match_channels(img, channels))))
    if cfg.train_source in ("pairs", "mixed"):
        if not cfg.pairs_dir:
            raise ValueError(f"data.train_source={cfg.train_source} needs data.pairs_dir")
        pairs = find_pairs(resolve(cfg, cfg.pairs_dir), list(cfg.train_names) or None)
        for pair in pairs[: cfg.max_images or None]:
            noisy, clean = load_pair(pair)
            sources.append((to_tensor(match_channels(noisy, channels)), to_tensor(match_channels(clean, channels))))
    if cfg.train_source in ("clean", "mixed"):
        if not cfg.clean_dirs:
            raise ValueError(f"data.train_source={cfg.train_source} needs data.clean_dirs")
        paths = [p for d in cfg.clean_dirs for p in clean_images(resolve(cfg, d))]
        for path in paths[: cfg.max_images or None]:
            sources.append((None, to_tensor(match_channels(load_image(path), channels))))
    kept = [s for s in sources if min(s[1].shape[-2:]) >= cfg.patch]
    if len(kept) < len(sources):
        log.warning("skipped %d training images smaller than the %d-pixel patch", len(sources) - len(kept), cfg.patch)
    corrupt = build_corruption(cfg) if cfg.train_source != "pairs" else None
    return PatchDataset(kept, cfg.patch, cfg.epoch_size, corrupt)


def run_train(cfg: DenoiseConfig, run_dir: str | Path | None = None) -> Path:
    """Train ``cfg.model`` on ``cfg.data``; resumes when ``run_dir`` already holds this run."""
    run = open_run(run_dir or runs_root() / "denoise" / cfg.name, cfg)
    seed_everything(cfg.train.seed)  # the initial weights depend on the seed only
    model = build_denoiser(cfg.model)
    dataset = build_train_dataset(cfg.data, cfg.model.channels)
    metrics = Trainer(model, l1_loss, dataset, collate, cfg.train, run, to_dict(cfg.model)).fit()
    log.info("trained %s: %s", run.path, metrics)
    return run.path


def checkpoint_dir(path: str | Path) -> Path:
    """A checkpoint folder, or the latest checkpoint of a run folder."""
    path = Path(path)
    if (path / "model.safetensors").is_file():
        return path
    latest = sorted((path / "checkpoints").glob("step_*"), key=lambda p: int(p.name.split("_")[1]))
    if not latest:
        raise FileNotFoundError(f"{path}: neither a checkpoint nor a run with checkpoints")
    return latest[-1]


def latest_model(runs: str | Path, attention: str = "spa") -> Path:
    """The run folder under ``runs`` whose latest checkpoint is the most recently written ``attention`` model.

    ``quartet denoise run`` uses it when no ``--model`` is given: after the demo or an ablation
    that is the SPA model with the most levels (trained last). Raises FileNotFoundError when none.
    """
    runs = Path(runs)
    fields = set(DenoiserConfig.__dataclass_fields__)
    found = []
    run_dirs = {weights.parents[2] for weights in runs.glob("**/checkpoints/step_*/model.safetensors")}
    for run_dir in run_dirs:
        weights = checkpoint_dir(run_dir) / "model.safetensors"  # a run is what its latest checkpoint is
        if not weights.is_file():  # the latest checkpoint is still being written
            continue
        try:
            cfg = json.loads((weights.parent / "model.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        # language-model checkpoints look alike on disk: keep denoiser configs only
        if isinstance(cfg, dict) and cfg.get("attention") == attention and set(cfg) <= fields:
            found.append((weights.stat().st_mtime, str(weights), run_dir))
    if not found:
        raise FileNotFoundError(
            f"no trained {attention} denoiser under {runs}/ (looked for */checkpoints/step_*/model.safetensors); "
            "train one with `quartet denoise ablation` or `quartet denoise train`, or pass --model"
        )
    return max(found)[2]


def load_denoiser(path: str | Path) -> tuple[Denoiser, dict[str, Any]]:
    """Rebuild the model from ``model.json`` and load its weights strictly."""
    ckpt = checkpoint_dir(path)
    model_cfg = from_dict(DenoiserConfig, read_weights_config(ckpt))
    model = build_denoiser(model_cfg)
    load_weights(model, ckpt)
    return model.eval(), to_dict(model_cfg)
