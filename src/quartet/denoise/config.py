"""Configuration of denoising runs: data, model, training, evaluation, ablation.

Paths in ``DataConfig`` and ``EvalSet`` are relative to ``data_root`` (default
``$QUARTET_DATA/denoise``, else ``../shared/data/denoise``) unless absolute.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from quartet.core.trainer import TrainConfig
from quartet.denoise.network import DenoiserConfig
from quartet.denoise.noise import CameraNoise


@dataclass(frozen=True)
class DataConfig:
    """Where training patches come from and how they are corrupted."""

    data_root: str = ""  # "" = $QUARTET_DATA/denoise, else ../shared/data/denoise
    # builtin: procedural images + noise; clean: clean_dirs + noise; pairs: real pairs; mixed: pairs and clean_dirs
    train_source: Literal["builtin", "clean", "pairs", "mixed"] = "builtin"
    clean_dirs: tuple[str, ...] = ()  # train_source=clean/mixed: folders of clean images
    pairs_dir: str = ""  # train_source=pairs/mixed: folder of noisy/clean pairs
    train_names: tuple[str, ...] = ()  # train_source=pairs/mixed: pair names to train on (empty: all)
    max_images: int = 0  # use at most this many pairs, and this many clean images (0: all)
    builtin_count: int = 16  # train_source=builtin: number of procedural images
    builtin_size: int = 96  # train_source=builtin: their side in pixels
    noise: Literal["camera", "gaussian", "poisson_gaussian"] = "camera"  # synthetic noise on clean images
    sigma: float = 25.0  # gaussian: σ in 0-255 units
    shot: float = 0.01  # poisson_gaussian: shot gain a
    read: float = 0.02  # poisson_gaussian: read-noise std b
    camera: CameraNoise = field(default_factory=CameraNoise)  # camera: parameter ranges
    patch: int = 48  # training crop side (a multiple of 2**levels)
    epoch_size: int = 512  # patches per pass over the data set (patches are drawn at random)
    seed: int = 0  # choice of the procedural images


@dataclass(frozen=True)
class EvalSet:
    """One evaluation set of noisy/clean pairs."""

    name: str = "polyu"  # label in tables
    path: str = "PolyU100"  # pairs folder (see quartet.denoise.data for the naming rules)
    names: tuple[str, ...] = ()  # pairs to use, in order (empty: all)
    limit: int = 0  # at most this many pairs (0: all)
    crop: int = 0  # centre crop side for speed (0: whole image)
    noise: Literal["", "gaussian", "camera"] = ""  # "": real pairs; else clean images + this noise (fixed seed)
    sigma: float = 25.0  # noise=gaussian: σ in 0-255 units


@dataclass(frozen=True)
class EvalConfig:
    """Evaluation of a trained model against the baselines."""

    sets: tuple[EvalSet, ...] = ()  # real-noise sets; missing folders are skipped with a warning
    synthetic_count: int = 4  # builtin images with camera-like noise, always evaluated (0: off)
    synthetic_size: int = 64  # their side
    baselines: tuple[str, ...] = ("noisy", "wavelet")  # from quartet.denoise.baselines
    tile: int = 256  # tiled inference tile side
    overlap: int = 32  # tile overlap (tiling=blend)
    # exact: every tile uses the whole image's attention statistics (equals untiled); blend: per-tile, blended
    tiling: Literal["exact", "blend"] = "exact"
    ensemble: bool = False  # x8 self-ensemble


@dataclass(frozen=True)
class AblationConfig:
    """Attention variants compared at an equal training budget."""

    variants: tuple[str, ...] = ("none", "ca", "spa1", "spa2", "spa3")  # none|ca|spaL|spa_bandsL
    seeds: tuple[int, ...] = (0,)  # one training run per (variant, seed)
    crops: int = 2  # images in the crops figure


@dataclass(frozen=True)
class DenoiseConfig:
    name: str = "denoise"  # run directory name under runs/denoise/
    model: DenoiserConfig = field(default_factory=DenoiserConfig)
    data: DataConfig = field(default_factory=DataConfig)
    train: TrainConfig = field(default_factory=lambda: TrainConfig(optimizer="adam", schedule="cosine"))
    eval: EvalConfig = field(default_factory=EvalConfig)
    ablation: AblationConfig = field(default_factory=AblationConfig)


def data_root(cfg: DataConfig) -> Path:
    if cfg.data_root:
        return Path(cfg.data_root)
    return Path(os.environ.get("QUARTET_DATA", "../shared/data")) / "denoise"


def resolve(cfg: DataConfig, path: str) -> Path:
    p = Path(path)
    return p if p.is_absolute() else data_root(cfg) / p


def variant_model(base: DenoiserConfig, variant: str) -> DenoiserConfig:
    """``none``/``ca``/``spa2``/``spa_bands3`` -> the model config of that ablation variant."""
    from dataclasses import replace

    if variant in ("none", "ca"):
        return replace(base, attention=variant)
    for kind in ("spa_bands", "spa"):
        if variant.startswith(kind) and variant[len(kind) :].isdigit():
            return replace(base, attention=kind, levels=int(variant[len(kind) :]))
    raise ValueError(f"unknown ablation variant {variant!r}; use none, ca, spa1-3 or spa_bands1-3")
