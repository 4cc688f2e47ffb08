"""Figures of the ablation (matplotlib, Agg backend, PNG): PSNR against levels, and image crops."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from quartet.denoise.metrics import psnr  # noqa: E402

LEVELS = (1, 2, 3)
CROP = 96  # side of the shown crops in pixels


def ablation_plot(summary: dict[str, Any], path: Path) -> Path:
    """One panel per set: SPA (and SPA-on-bands) PSNR against levels, none/CA/baselines as lines."""
    sets = summary["sets"]
    fig, axes = plt.subplots(1, len(sets), figsize=(4.2 * len(sets), 3.4), squeeze=False)
    for ax, set_name in zip(axes[0], sets, strict=True):
        res = summary["results"].get(set_name, {})
        for kind, marker in (("spa", "o"), ("spa_bands", "s")):
            pts = [(lv, res[f"{kind}{lv}"]) for lv in LEVELS if f"{kind}{lv}" in res]
            if pts:
                ax.errorbar([p[0] for p in pts], [p[1]["psnr"] for p in pts], yerr=[p[1]["psnr_std"] for p in pts],
                            marker=marker, capsize=3, label=kind.upper().replace("_BANDS", " (bands)"))
        styles = {"none": ("k", "--"), "ca": ("tab:red", "--"), "noisy": ("grey", ":"), "nlm": ("tab:green", ":"),
                  "wavelet": ("tab:purple", ":"), "bm3d": ("tab:brown", ":")}
        for method, (colour, style) in styles.items():
            if method in res:
                ax.axhline(res[method]["psnr"], color=colour, linestyle=style, linewidth=1, label=method)
        ax.set_title(set_name)
        ax.set_xlabel("SPA pyramid levels")
        ax.set_xticks(LEVELS)
        ax.set_ylabel("PSNR (dB)")
        ax.grid(alpha=0.3)
    axes[0][-1].legend(fontsize=7, loc="best")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _crop(img: np.ndarray) -> np.ndarray:
    h, w = img.shape[:2]
    side = min(CROP, h, w)
    top, left = (h - side) // 2, (w - side) // 2
    out = np.clip(img[top : top + side, left : left + side], 0, 1)
    return out[..., 0] if out.shape[-1] == 1 else out


def crops_figure(samples: list, outputs: dict[str, list[np.ndarray]], path: Path, title: str = "") -> Path:
    """Rows: images; columns: noisy, each method's output, clean; PSNR in each panel title."""
    columns = ["noisy", *outputs, "clean"]
    fig, axes = plt.subplots(len(samples), len(columns), figsize=(2.3 * len(columns), 2.5 * len(samples)),
                             squeeze=False)
    for r, sample in enumerate(samples):
        images = {"noisy": sample.noisy, **{m: outs[r] for m, outs in outputs.items()}, "clean": sample.clean}
        for c, name in enumerate(columns):
            ax = axes[r][c]
            ax.imshow(_crop(images[name]), cmap="gray", vmin=0, vmax=1, interpolation="nearest")
            label = name if name == "clean" else f"{name} {psnr(sample.clean, images[name]):.2f} dB"
            ax.set_title(f"{sample.name}\n{label}" if c == 0 else label, fontsize=8)
            ax.axis("off")
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
