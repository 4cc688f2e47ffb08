"""Attention modules for the denoiser: channel attention (CA) and Sub-band Pyramid Attention (SPA).

CA is squeeze-and-excitation: one gain per channel from the global mean, the "naive channel
attention" of the paper. SPA decomposes the features with a multi-level Haar transform so
that each octave gets its own learned per-channel gains:

    LL_L --CA--> idwt(., high_L) --CA--> ... idwt(., high_1) --CA--> out

that is L + 1 CA modules for L levels. ``SubbandAttention`` is the variant that also attends
to every high band (LH, HL, HH of each level) directly before the inverse transform.

Each module can also say, from the per-channel means of its input's Haar bands, what every one
of its channel attentions pools (``pooled_means``). Tiled inference uses this to give every tile
the gains of the whole image (``quartet.denoise.exact_tiling``). It is exact because the inverse
Haar step of an orthonormal transform maps a band of mean ``m`` to a map of mean ``m / 2`` and
high bands to zero-mean maps: the mean after a rescale and an inverse step is ``gain * m / 2``.
"""

from __future__ import annotations

import torch
from torch import nn

from quartet.denoise.wavelets import haar_dwt_multilevel, haar_idwt, haar_idwt_multilevel


class ChannelAttention(nn.Module):
    """Squeeze-excitation: mean pool -> 1x1 conv (C -> C/r) -> ReLU -> 1x1 conv -> sigmoid -> rescale."""

    def __init__(self, channels: int, reduction: int = 4):
        super().__init__()
        hidden = max(1, channels // reduction)
        self.gate = nn.Sequential(
            nn.AdaptiveAvgPool2d(1),
            nn.Conv2d(channels, hidden, 1),
            nn.ReLU(inplace=True),
            nn.Conv2d(hidden, channels, 1),
            nn.Sigmoid(),
        )

    levels = 0  # pooled_means needs only the plain mean of the input

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.gate(x)  # (B, C, H, W) * (B, C, 1, 1)

    def gain(self, pooled: torch.Tensor) -> torch.Tensor:
        """The gate on an already pooled (B, C, 1, 1) mean: what ``forward`` multiplies by."""
        return self.gate[1:](pooled)

    @property
    def pool(self) -> nn.Module:
        """The global average pool (tiled inference replaces its output by the whole image's mean)."""
        return self.gate[0]

    def pooled_means(self, ll: torch.Tensor, highs: list[torch.Tensor]) -> dict[nn.Module, torch.Tensor]:
        """{self: mean of the input}; ``ll`` (B, C, 1, 1) is that mean (levels = 0, no high bands)."""
        return {self: ll}


class SubbandPyramidAttention(nn.Module):
    """SPA block: attend the coarsest LL, then after each inverse step up to full resolution.

    Input height and width must be multiples of 2**levels (the host network pads).
    """

    def __init__(self, channels: int, levels: int = 3, reduction: int = 4):
        super().__init__()
        if not 1 <= levels <= 3:
            raise ValueError(f"SPA levels must be 1, 2 or 3, got {levels}")
        self.levels = levels
        # attend[0] acts on LL_L; attend[k] after the k-th inverse step; attend[levels] at full resolution.
        self.attend = nn.ModuleList(ChannelAttention(channels, reduction) for _ in range(levels + 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        ll, highs = haar_dwt_multilevel(x, self.levels)  # ll (B, C, H/2^L, W/2^L); highs finest first
        y = self.attend[0](ll)
        for k, high in enumerate(reversed(highs), start=1):  # coarsest high bands first
            y = self.attend[k](haar_idwt(y, high))  # (B, C, H/2^(L-k), W/2^(L-k))
        return y  # (B, C, H, W)

    def pooled_means(self, ll: torch.Tensor, highs: list[torch.Tensor]) -> dict[nn.Module, torch.Tensor]:
        """What each CA pools, from the mean of the input's LL_L band ``ll`` (B, C, 1, 1).

        CA k rescales a map of mean p by gain(p); the inverse step then halves the mean and the
        high bands add none, so CA k+1 pools gain(p) * p / 2.
        """
        pooled, p = {}, ll
        for ca in self.attend:
            pooled[ca] = p
            p = ca.gain(p) * p / 2
        return pooled


class SubbandAttention(nn.Module):
    """Variant: CA on the coarsest LL and on each high band of each level, inverse, then a final CA."""

    def __init__(self, channels: int, levels: int = 3, reduction: int = 4):
        super().__init__()
        if not 1 <= levels <= 3:
            raise ValueError(f"SPA levels must be 1, 2 or 3, got {levels}")
        self.levels = levels
        self.attend_ll = ChannelAttention(channels, reduction)
        # one CA per (level, band): levels * 3 modules, level 1 (finest) first
        self.attend_bands = nn.ModuleList(ChannelAttention(channels, reduction) for _ in range(3 * levels))
        self.attend_out = ChannelAttention(channels, reduction)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        ll, highs = haar_dwt_multilevel(x, self.levels)
        attended = []
        for level, high in enumerate(highs):  # high (B, C, 3, h, w)
            bands = [self.attend_bands[3 * level + i](band) for i, band in enumerate(high.unbind(dim=2))]
            attended.append(torch.stack(bands, dim=2))
        y = haar_idwt_multilevel(self.attend_ll(ll), attended)  # (B, C, H, W)
        return self.attend_out(y)

    def pooled_means(self, ll: torch.Tensor, highs: list[torch.Tensor]) -> dict[nn.Module, torch.Tensor]:
        """What each CA pools, from the band means of the input: ``ll`` (B, C, 1, 1) of LL_L and
        ``highs[l]`` (B, C, 3, 1, 1) of level l+1's LH, HL, HH. The final CA sees the LL gain only:
        L inverse steps divide the mean by 2**L and the rescaled high bands add none."""
        pooled = {self.attend_ll: ll}
        for level, high in enumerate(highs):
            for i, band in enumerate(high.unbind(dim=2)):
                pooled[self.attend_bands[3 * level + i]] = band
        pooled[self.attend_out] = self.attend_ll.gain(ll) * ll / 2**self.levels
        return pooled


ATTENTION = ("none", "ca", "spa", "spa_bands")


def build_attention(kind: str, channels: int, levels: int, reduction: int) -> nn.Module:
    """The attention module of one block; ``levels`` is used by the SPA kinds only."""
    if kind == "none":
        return nn.Identity()
    if kind == "ca":
        return ChannelAttention(channels, reduction)
    if kind == "spa":
        return SubbandPyramidAttention(channels, levels, reduction)
    if kind == "spa_bands":
        return SubbandAttention(channels, levels, reduction)
    raise ValueError(f"unknown attention {kind!r}; choose one of {ATTENTION}")
