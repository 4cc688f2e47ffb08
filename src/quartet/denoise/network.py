"""The host denoiser (RIDNet-style) with a pluggable attention module per block.

    x -> [noise estimate, concatenated] -> head conv -> N x EnhancementBlock -> tail conv -> + x

Each ``EnhancementBlock`` is RIDNet's enhancement-attention module: merge-and-run dilated
convolutions (dilations 1,2 and 3,4), a residual block, an enhanced residual block, then the
attention (none / CA / SPA / SPA on every band). Any image size works: the input is padded
(reflect) to a multiple of 2**levels for the wavelet transform and the output cropped back.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from quartet.denoise.attention import build_attention


@dataclass(frozen=True)
class DenoiserConfig:
    """Architecture of the denoiser; saved next to its weights as ``model.json``."""

    channels: int = 3  # image channels in and out (3: RGB, 1: grey)
    width: int = 32  # feature channels
    blocks: int = 4  # enhancement-attention blocks
    attention: Literal["none", "ca", "spa", "spa_bands"] = "spa"  # attention module of every block
    levels: int = 3  # Haar pyramid levels of the SPA kinds (1-3)
    reduction: int = 4  # channel-attention squeeze factor
    noise_branch: bool = False  # estimate a noise map and concatenate it with the input


def conv(cin: int, cout: int, kernel: int = 3, dilation: int = 1) -> nn.Conv2d:
    return nn.Conv2d(cin, cout, kernel, padding=dilation * (kernel // 2), dilation=dilation)


def chain_radius(module: nn.Module) -> int:
    """Receptive-field radius of convolutions applied one after another (every Conv2d in ``module``)."""
    return sum(m.dilation[0] * (m.kernel_size[0] // 2) for m in module.modules() if isinstance(m, nn.Conv2d))


def pad_mode(h: int, w: int, pad_h: int, pad_w: int) -> str:
    """Reflect padding needs pad < size; replicate covers inputs smaller than the pad."""
    return "reflect" if pad_h < h and pad_w < w else "replicate"


class MergeAndRun(nn.Module):
    """Two dilated branches (1,2 and 3,4) run in parallel, merged by a conv, plus the input."""

    def __init__(self, width: int):
        super().__init__()
        self.left = nn.Sequential(conv(width, width, dilation=1), nn.ReLU(True), conv(width, width, dilation=2), nn.ReLU(True))
        self.right = nn.Sequential(conv(width, width, dilation=3), nn.ReLU(True), conv(width, width, dilation=4), nn.ReLU(True))
        self.merge = nn.Sequential(conv(2 * width, width), nn.ReLU(True))

    @property
    def radius(self) -> int:
        return max(chain_radius(self.left), chain_radius(self.right)) + chain_radius(self.merge)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        both = torch.cat([self.left(x), self.right(x)], dim=1)  # (B, 2C, H, W)
        return self.merge(both) + x


class ResidualBlock(nn.Module):
    def __init__(self, width: int, enhanced: bool = False):
        super().__init__()
        layers = [conv(width, width), nn.ReLU(True), conv(width, width)]
        if enhanced:  # RIDNet's "enhanced" residual block adds a 1x1 conv
            layers += [nn.ReLU(True), conv(width, width, kernel=1)]
        self.body = nn.Sequential(*layers)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.body(x) + x)


class EnhancementBlock(nn.Module):
    """RIDNet's enhancement-attention module with an injected attention module."""

    def __init__(self, width: int, attention: nn.Module):
        super().__init__()
        self.merge_run = MergeAndRun(width)
        self.residual = ResidualBlock(width)
        self.enhanced = ResidualBlock(width, enhanced=True)
        self.attention = attention

    @property
    def radius(self) -> int:
        """Receptive-field radius of the convolutions (the attention adds none once its gains are fixed)."""
        return self.merge_run.radius + chain_radius(self.residual) + chain_radius(self.enhanced)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.attention(self.enhanced(self.residual(self.merge_run(x))))  # (B, C, H, W)


class NoiseEstimator(nn.Module):
    """Small fully convolutional branch predicting a non-negative per-pixel noise map."""

    def __init__(self, channels: int, width: int):
        super().__init__()
        self.body = nn.Sequential(
            conv(channels, width), nn.ReLU(True), conv(width, width), nn.ReLU(True),
            conv(width, channels), nn.ReLU(True),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(x)


class Denoiser(nn.Module):
    """Head conv, blocks, tail conv, global skip; pads to a multiple of ``multiple`` and crops back."""

    def __init__(
        self,
        channels: int,
        width: int,
        blocks: list[EnhancementBlock],
        multiple: int = 1,
        noise_estimator: nn.Module | None = None,
    ):
        super().__init__()
        self.multiple = multiple
        self.noise_estimator = noise_estimator
        self.head = conv(channels * (2 if noise_estimator is not None else 1), width)
        self.blocks = nn.Sequential(*blocks)
        self.tail = conv(width, channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        x_in = x
        if self.multiple > 1:
            # No branch on the pad amount, so an exported graph pads any size correctly.
            pad_h, pad_w = (-h) % self.multiple, (-w) % self.multiple
            # reflect needs pad < size; replicate covers inputs smaller than the pad
            exporting = torch.compiler.is_exporting() or torch.jit.is_tracing()
            mode = "reflect" if exporting else pad_mode(h, w, pad_h, pad_w)
            x_in = F.pad(x, (0, pad_w, 0, pad_h), mode=mode)  # (B, C, H', W')
        features = x_in
        if self.noise_estimator is not None:
            features = torch.cat([x_in, self.noise_estimator(x_in)], dim=1)  # (B, 2C, H', W')
        out = self.tail(self.blocks(self.head(features))) + x_in  # predict the residual
        return out[..., :h, :w]

    def tile_margin(self) -> int:
        """How far (pixels) a tile's cut edge can change the output when attention gains are fixed.

        Each convolution spreads the error of the cut (zeros instead of the neighbours) by its
        radius; a wavelet attention spreads it over whole 2**levels blocks, which tiles aligned
        to ``multiple`` keep on the grid. Rounded up to a multiple of ``multiple``.
        """
        up = lambda d: -(-d // self.multiple) * self.multiple  # noqa: E731
        depth = chain_radius(self.noise_estimator) if self.noise_estimator is not None else 0
        depth += chain_radius(self.head)
        for block in self.blocks:
            depth += block.radius
            if getattr(block.attention, "levels", 0):
                depth = up(depth)
        return up(depth + chain_radius(self.tail))


def build_denoiser(cfg: DenoiserConfig) -> Denoiser:
    """Translate a ``DenoiserConfig`` into a ``Denoiser``."""
    if cfg.width < 1 or cfg.blocks < 1 or cfg.channels not in (1, 3):
        raise ValueError(f"bad denoiser config {cfg}")
    blocks = [
        EnhancementBlock(cfg.width, build_attention(cfg.attention, cfg.width, cfg.levels, cfg.reduction))
        for _ in range(cfg.blocks)
    ]
    multiple = 2**cfg.levels if cfg.attention in ("spa", "spa_bands") else 1
    noise = NoiseEstimator(cfg.channels, cfg.width) if cfg.noise_branch else None
    return Denoiser(cfg.channels, cfg.width, blocks, multiple=multiple, noise_estimator=noise)
