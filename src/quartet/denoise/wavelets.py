"""Orthonormal 2-D Haar wavelet transform as differentiable torch ops.

Conventions (identical to PyWavelets, signs included). For every 2×2 block
``[[a, b], [c, d]]`` (rows top to bottom, columns left to right)::

    LL = (a + b + c + d) / 2     == pywt cA
    LH = (a + b - c - d) / 2     == pywt cH  (low-pass along width, high-pass along height: horizontal edges)
    HL = (a - b + c - d) / 2     == pywt cV  (high-pass along width: vertical edges)
    HH = (a - b - c + d) / 2     == pywt cD  (diagonal)

so ``pywt.dwt2(x, "haar")`` returns ``(LL, (LH, HL, HH))`` in our names. The transform
is orthonormal: energy is preserved and the inverse is the transpose. It uses only
strided slicing, additions and reshapes, so it exports to ONNX.

>>> import torch
>>> ll, high = haar_dwt(torch.tensor([[[[1.0, 2.0], [3.0, 5.0]]]]))
>>> ll.flatten().tolist(), high.flatten().tolist()
([5.5], [-2.5, -1.5, 0.5])
>>> haar_idwt(ll, high).flatten().tolist()
[1.0, 2.0, 3.0, 5.0]
"""

from __future__ import annotations

import torch

BANDS = ("LH", "HL", "HH")  # order of the high bands along dim 2 of ``high``


def haar_dwt(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """One level: ``x`` (B, C, H, W) with even H, W -> LL (B, C, H/2, W/2), high (B, C, 3, H/2, W/2)."""
    if x.dim() != 4:
        raise ValueError(f"haar_dwt expects (B, C, H, W), got shape {tuple(x.shape)}")
    h, w = x.shape[-2:]
    if h % 2 or w % 2:
        raise ValueError(f"haar_dwt needs even height and width, got {h}x{w}; pad first")
    a = x[..., 0::2, 0::2]
    b = x[..., 0::2, 1::2]
    c = x[..., 1::2, 0::2]
    d = x[..., 1::2, 1::2]
    ll = (a + b + c + d) * 0.5
    lh = (a + b - c - d) * 0.5
    hl = (a - b + c - d) * 0.5
    hh = (a - b - c + d) * 0.5
    return ll, torch.stack((lh, hl, hh), dim=2)


def haar_idwt(ll: torch.Tensor, high: torch.Tensor) -> torch.Tensor:
    """Exact inverse of ``haar_dwt``: LL (B, C, h, w), high (B, C, 3, h, w) -> (B, C, 2h, 2w)."""
    lh, hl, hh = high.unbind(dim=2)
    a = (ll + lh + hl + hh) * 0.5
    b = (ll + lh - hl - hh) * 0.5
    c = (ll - lh + hl - hh) * 0.5
    d = (ll - lh - hl + hh) * 0.5
    bsz, ch, h, w = ll.shape
    top = torch.stack((a, b), dim=-1).reshape(bsz, ch, h, 2 * w)  # a b a b ... along width
    bottom = torch.stack((c, d), dim=-1).reshape(bsz, ch, h, 2 * w)
    return torch.stack((top, bottom), dim=-2).reshape(bsz, ch, 2 * h, 2 * w)  # rows interleaved


def haar_dwt_multilevel(x: torch.Tensor, levels: int) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """``levels`` transforms of the LL band: returns (coarsest LL, [high of level 1 (finest), ..., level L]).

    H and W must be multiples of 2**levels.
    """
    if levels < 1:
        raise ValueError(f"levels must be >= 1, got {levels}")
    highs = []
    ll = x
    for _ in range(levels):
        ll, high = haar_dwt(ll)
        highs.append(high)
    return ll, highs


def haar_idwt_multilevel(ll: torch.Tensor, highs: list[torch.Tensor]) -> torch.Tensor:
    """Inverse of ``haar_dwt_multilevel`` (``highs`` finest first, as returned)."""
    for high in reversed(highs):
        ll = haar_idwt(ll, high)
    return ll
