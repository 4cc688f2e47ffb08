import numpy as np
import pytest
import torch

from quartet.denoise.network import DenoiserConfig, build_denoiser
from quartet.denoise.tiling import denoise_tensor, tile_starts, tiled_denoise

RADIUS = 14  # receptive-field radius of one block: head 1 + merge-and-run 8 + residual 2 + enhanced 2 + tail 1


def _away_from_seams(length, tile, overlap):
    """Mask of positions further than RADIUS from every internal tile edge."""
    starts = tile_starts(length, tile, overlap)
    edges = {s for s in starts if s > 0} | {s + tile for s in starts if s + tile < length}
    pos = np.arange(length)
    return np.all([np.abs(pos - e + 0.5) > RADIUS + 0.5 for e in edges], axis=0)


def test_tiled_equals_untiled_away_from_seams():
    torch.manual_seed(0)
    net = build_denoiser(DenoiserConfig(width=8, blocks=1, attention="none"))
    image = np.random.default_rng(0).uniform(size=(150, 200, 3)).astype(np.float32)
    full = denoise_tensor(net, torch.from_numpy(image.transpose(2, 0, 1))[None])[0].numpy().transpose(1, 2, 0)
    tiled = tiled_denoise(net, image, tile=96, overlap=48)
    mask = _away_from_seams(150, 96, 48)[:, None] & _away_from_seams(200, 96, 48)[None, :]
    assert mask.mean() > 0.1  # enough pixels compared
    assert np.abs(tiled - full)[mask].max() < 1e-4
    # the blend is not a no-op: near seams the zero padding of each tile shows
    assert np.abs(tiled - full)[~mask].max() > 1e-4


def test_global_attention_tiles_differ_only_slightly():
    torch.manual_seed(0)
    net = build_denoiser(DenoiserConfig(width=8, blocks=1, attention="spa", levels=2, reduction=2))
    image = np.random.default_rng(1).uniform(size=(100, 120, 3)).astype(np.float32)
    full = denoise_tensor(net, torch.from_numpy(image.transpose(2, 0, 1))[None])[0].numpy().transpose(1, 2, 0)
    tiled = tiled_denoise(net, image, tile=64, overlap=32)
    assert tiled.shape == image.shape
    assert np.abs(tiled - full).mean() < 0.05


def test_self_ensemble_of_equivariant_model_is_exact():
    # a per-pixel model commutes with flips/rotations, so the x8 ensemble changes nothing
    model = torch.nn.Conv2d(3, 3, 1)
    x = torch.rand(1, 3, 9, 13)
    torch.testing.assert_close(denoise_tensor(model, x, ensemble=True), denoise_tensor(model, x))
    # a non-equivariant model: the ensemble averages 8 different outputs
    shift = torch.nn.Conv2d(3, 3, 3, padding=1)
    assert not torch.allclose(denoise_tensor(shift, x, ensemble=True), denoise_tensor(shift, x))
    image = x[0].numpy().transpose(1, 2, 0)
    out = tiled_denoise(shift, image, tile=8, overlap=4, ensemble=True)
    assert out.shape == image.shape


def test_tile_starts_and_bad_overlap():
    assert tile_starts(100, 40, 10) == [0, 30, 60]
    with pytest.raises(ValueError, match="larger than overlap"):
        tile_starts(100, 8, 8)
