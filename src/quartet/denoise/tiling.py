"""Tiled inference for images of any size in bounded memory, with optional x8 self-ensemble.

The image is cut into ``tile``x``tile`` windows that overlap by ``overlap`` pixels; each window
is denoised on its own and the results are blended with weights that ramp linearly across the
overlap, so seams do not show. Only one tile's activations exist at a time, so memory is the
input, the output and a weight map (about 28 bytes per pixel for RGB) plus a constant.

With a purely convolutional network the result equals untiled inference wherever a pixel is
further than the receptive-field radius from every tile edge. Channel attention pools over its
whole input, so with CA/SPA each blended tile computes its own gains; the differences are small
but not zero. ``exact=True`` gives every tile the whole image's attention statistics instead
and equals untiled inference everywhere, at a few times the cost (``quartet.denoise.exact_tiling``).
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from quartet.core.progress import progress


def tile_starts(length: int, tile: int, overlap: int) -> list[int]:
    """Start offsets along one axis; the last tile ends exactly at ``length``.

    >>> tile_starts(10, 4, 2)
    [0, 2, 4, 6]
    >>> tile_starts(3, 4, 2)
    [0]
    """
    if tile <= overlap:
        raise ValueError(f"tile ({tile}) must be larger than overlap ({overlap})")
    if length <= tile:
        return [0]
    step = tile - overlap
    starts = list(range(0, length - tile, step))
    return starts + [length - tile]


def _ramp(size: int, overlap: int, left: bool, right: bool) -> np.ndarray:
    """1-D blending weights: linear ramps over the overlap on sides that meet another tile."""
    w = np.ones(size, dtype=np.float32)
    n = min(overlap, size // 2)
    if n > 0:
        ramp = np.arange(1, n + 1, dtype=np.float32) / (n + 1)
        if left:
            w[:n] = ramp
        if right:
            w[size - n :] = ramp[::-1]
    return w


# The 8 dihedral transforms as (k quarter turns, flip) with their inverses.
DIHEDRAL = [(k, f) for k in range(4) for f in (False, True)]


def _forward(x: torch.Tensor, k: int, flip: bool) -> torch.Tensor:
    x = torch.rot90(x, k, dims=(-2, -1))
    return x.flip(-1) if flip else x


def _inverse(x: torch.Tensor, k: int, flip: bool) -> torch.Tensor:
    x = x.flip(-1) if flip else x
    return torch.rot90(x, -k, dims=(-2, -1))


@torch.inference_mode()
def denoise_tensor(model: nn.Module, x: torch.Tensor, ensemble: bool = False) -> torch.Tensor:
    """Run ``model`` on (B, C, H, W), averaging the 8 flips/rotations when ``ensemble``."""
    if not ensemble:
        return model(x)
    outs = [_inverse(model(_forward(x, k, f)), k, f) for k, f in DIHEDRAL]
    return torch.stack(outs).mean(dim=0)


def tiled_denoise(
    model: nn.Module,
    image: np.ndarray,
    tile: int = 256,
    overlap: int = 32,
    ensemble: bool = False,
    device: str | torch.device = "cpu",
    exact: bool = False,
) -> np.ndarray:
    """Denoise float (H, W, C) ``image`` tile by tile; returns float32 (H, W, C), not clipped.

    ``exact``: whole-image attention statistics and no blending (``overlap`` is then the model's
    own margin), so the result equals ``model`` run on the whole image.
    """
    if exact:
        from quartet.denoise.exact_tiling import exact_tiled_denoise  # it builds on this module

        return exact_tiled_denoise(model, image, tile, ensemble, device)
    model.eval()
    h, w, c = image.shape
    th, tw = min(tile, h), min(tile, w)
    ys, xs = tile_starts(h, th, overlap), tile_starts(w, tw, overlap)
    out = np.zeros((h, w, c), dtype=np.float32)
    weight = np.zeros((h, w, 1), dtype=np.float32)
    windows = [(y, x) for y in ys for x in xs]
    for y, x in progress(windows, desc="tiles", unit="tile"):
        patch = torch.from_numpy(np.ascontiguousarray(image[y : y + th, x : x + tw].transpose(2, 0, 1)))
        pred = denoise_tensor(model, patch.float()[None].to(device), ensemble)[0]  # (C, th, tw)
        wy = _ramp(th, overlap, left=y > 0, right=y + th < h)
        wx = _ramp(tw, overlap, left=x > 0, right=x + tw < w)
        wt = (wy[:, None] * wx[None, :])[..., None]  # (th, tw, 1)
        out[y : y + th, x : x + tw] += pred.cpu().numpy().transpose(1, 2, 0) * wt
        weight[y : y + th, x : x + tw] += wt
    out /= weight
    return out
