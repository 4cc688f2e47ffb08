"""Tiled inference that equals whole-image inference, channel attention included (exact mode).

Channel attention pools over its whole input, so a tile on its own would compute its own
gains. Here every attention module gets the gains of the whole image, found in passes over
the tiles in forward order: pass j runs each tile up to the input of attention module j
(earlier modules already use their whole-image gains), adds the per-channel sums of that
input's Haar bands over the tile's core, and stops there. The module's ``pooled_means`` turns
the whole-image band means into what each of its channel attentions pools (exact for SPA: see
``quartet.denoise.attention``). A last pass runs every tile through the network with all
gains fixed.

Geometry: the image is padded (virtually, tile by tile) to a multiple of ``model.multiple``
exactly as the network pads a whole image. Tiles start on that grid, so a tile's wavelet
blocks are the whole image's; each tile's core lies at least ``model.tile_margin()`` pixels
from its cut edges, and the cores partition the image. In a core every feature equals the
whole image's (up to float rounding), so the output needs no blending.

Cost: one pass up to each attention module, plus the full pass, each over tiles enlarged by
the margin; memory: the input, the output and one tile's activations.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from quartet.core.progress import progress
from quartet.denoise.network import Denoiser, pad_mode
from quartet.denoise.tiling import DIHEDRAL, denoise_tensor
from quartet.denoise.wavelets import haar_dwt_multilevel

Window = tuple[int, int, int, int]  # tile start, tile end, core start, core end along one axis


def axis_windows(length: int, tile: int, margin: int, multiple: int = 1) -> list[Window]:
    """Tiles and their cores along one axis of ``length`` (a multiple of ``multiple``).

    Cores partition [0, length); a tile is its core plus ``margin`` on every cut side; every
    boundary is a multiple of ``multiple`` and no tile is longer than ``tile``.

    >>> axis_windows(20, 8, 2)
    [(0, 8, 0, 6), (4, 12, 6, 10), (8, 16, 10, 14), (12, 20, 14, 20)]
    >>> axis_windows(6, 8, 2)
    [(0, 6, 0, 6)]
    """
    tile = tile // multiple * multiple
    if length <= tile:
        return [(0, length, 0, length)]
    if tile - 2 * margin < multiple:
        raise ValueError(f"tile {tile} leaves no core: exact tiling of this model needs tiles of at least "
                         f"{2 * margin + multiple} pixels (margin {margin} on each side)")
    windows, core = [], 0
    while True:
        lead = margin if core else 0
        if core - lead + tile >= length:
            windows.append((core - lead, length, core, length))
            return windows
        end = core - lead + tile - margin
        windows.append((core - lead, end + margin, core, end))
        core = end


def _source_rows(start: int, end: int, size: int, mode: str) -> np.ndarray:
    """Indices into an axis of ``size`` for padded positions [start, end) (padding at the end only)."""
    idx = np.arange(start, end)
    over = idx >= size
    idx[over] = 2 * (size - 1) - idx[over] if mode == "reflect" else size - 1
    return idx


class _Collected(Exception):
    """Raised by the statistics hook: the rest of the network is not needed in this pass."""


def _attention_modules(model: Denoiser) -> list[nn.Module]:
    return [b.attention for b in model.blocks if hasattr(b.attention, "pooled_means")]


def _pools(module: nn.Module) -> list[nn.Module]:
    return [m.pool for m in module.modules() if hasattr(m, "gain")]


@torch.inference_mode()
def _exact_once(model: Denoiser, image: np.ndarray, tile: int, device: str | torch.device) -> np.ndarray:
    h, w, c = image.shape
    m = model.multiple
    hp, wp = -(-h // m) * m, -(-w // m) * m  # the size the network pads a whole image to
    margin = model.tile_margin()
    windows = [(r, q) for r in axis_windows(hp, tile, margin, m) for q in axis_windows(wp, tile, margin, m)]
    if len(windows) == 1:  # one tile: the whole image
        x = torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1))).float()[None].to(device)
        return denoise_tensor(model, x)[0].cpu().numpy().transpose(1, 2, 0)
    mode = pad_mode(h, w, hp - h, wp - w)

    def patch(r: Window, q: Window) -> torch.Tensor:
        block = image[np.ix_(_source_rows(r[0], r[1], h, mode), _source_rows(q[0], q[1], w, mode))]
        return torch.from_numpy(block.transpose(2, 0, 1).copy()).float()[None].to(device)  # (1, C, th, tw)

    fixed: dict[nn.Module, torch.Tensor] = {}  # pool module -> whole-image mean it returns instead
    hooks = [pool.register_forward_hook(lambda mod, args, out: fixed.get(mod))
             for module in _attention_modules(model) for pool in _pools(module)]
    try:
        for j, module in enumerate(_attention_modules(model)):
            levels = module.levels
            sums: list[torch.Tensor] = []  # LL_L (C,), then each level's highs (C, 3), finest first
            core: list[slice] = []  # this tile's core, in tile coordinates

            # Defaults bind this iteration's lists: the hook runs only inside this iteration.
            def collect(mod: nn.Module, args: tuple[torch.Tensor, ...], core=core, levels=levels,
                        sums=sums) -> None:
                x = args[0][..., core[0], core[1]].double()  # (1, C, core h, core w)
                ll, highs = haar_dwt_multilevel(x, levels) if levels else (x, [])
                parts = [ll.sum((0, -2, -1))] + [hi.sum((0, -2, -1)) for hi in highs]
                if not sums:
                    sums.extend(p.cpu() for p in parts)
                else:
                    for total, part in zip(sums, parts, strict=True):
                        total += part.cpu()
                raise _Collected

            hook = module.register_forward_pre_hook(collect)
            try:
                for r, q in progress(windows, desc=f"attention {j + 1} statistics", unit="tile"):
                    core[:] = [slice(r[2] - r[0], r[3] - r[0]), slice(q[2] - q[0], q[3] - q[0])]
                    try:
                        model(patch(r, q))
                    except _Collected:
                        pass
            finally:
                hook.remove()
            feat = sums[0].numel()
            # a band of level l has hp * wp / 4**l positions; highs[i] is level i + 1
            ll = (sums[0] / (hp * wp / 4**levels)).float().view(1, feat, 1, 1).to(device)
            highs = [(s / (hp * wp / 4 ** (i + 1))).float().view(1, feat, 3, 1, 1).to(device)
                     for i, s in enumerate(sums[1:])]
            fixed.update({ca.pool: p for ca, p in module.pooled_means(ll, highs).items()})
        out = np.empty((h, w, c), dtype=np.float32)
        for r, q in progress(windows, desc="tiles", unit="tile"):
            pred = model(patch(r, q))[0].cpu().numpy().transpose(1, 2, 0)  # (th, tw, C)
            y1, x1 = min(r[3], h), min(q[3], w)
            out[r[2] : y1, q[2] : x1] = pred[r[2] - r[0] : y1 - r[0], q[2] - q[0] : x1 - q[0]]
    finally:
        for hook in hooks:
            hook.remove()
    return out


def exact_tiled_denoise(model: Denoiser, image: np.ndarray, tile: int = 256, ensemble: bool = False,
                        device: str | torch.device = "cpu") -> np.ndarray:
    """Denoise float (H, W, C) ``image`` tile by tile; equals ``model`` on the whole image.

    ``ensemble`` averages the 8 flips/rotations of the whole image, each denoised exactly, as
    ``denoise_tensor(model, x, ensemble=True)`` does untiled. Returns float32, not clipped.
    """
    if not isinstance(model, Denoiser):
        raise TypeError(f"exact tiling needs a Denoiser (it knows its padding and margin), got {type(model).__name__}")
    model.eval()
    if not ensemble:
        return _exact_once(model, image, tile, device)
    out = np.zeros(image.shape, dtype=np.float32)
    for k, flip in DIHEDRAL:  # the numpy twins of tiling._forward / _inverse on (H, W, C)
        view = np.rot90(image, k, axes=(0, 1))
        pred = _exact_once(model, view[:, ::-1] if flip else view, tile, device)
        out += np.rot90(pred[:, ::-1] if flip else pred, -k, axes=(0, 1))
    return out / 8
