import numpy as np
import pytest
import torch

from quartet.denoise.exact_tiling import axis_windows
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


def _untiled(net, image, ensemble=False):
    x = torch.from_numpy(image.transpose(2, 0, 1).copy())[None]
    return denoise_tensor(net, x, ensemble)[0].numpy().transpose(1, 2, 0)


@pytest.mark.parametrize(
    "attention,levels,noise_branch",
    [("none", 1, False), ("ca", 1, False), ("spa", 1, False), ("spa", 2, False), ("spa", 3, False),
     ("spa", 2, True), ("spa_bands", 2, False)],
)
def test_exact_tiling_equals_untiled_with_attention(attention, levels, noise_branch):
    torch.manual_seed(0)
    net = build_denoiser(DenoiserConfig(width=8, blocks=2, attention=attention, levels=levels, reduction=2,
                                        noise_branch=noise_branch))
    # 203 x 317 is no multiple of 8: the whole-image padding is tiled too
    image = np.random.default_rng(0).uniform(size=(203, 317, 3)).astype(np.float32)
    tile = 112
    m = net.multiple
    rows = axis_windows(-(-203 // m) * m, tile, net.tile_margin(), m)
    cols = axis_windows(-(-317 // m) * m, tile, net.tile_margin(), m)
    assert len(rows) >= 3 and len(cols) >= 4  # several tiles wide and high
    full = _untiled(net, image)
    exact = tiled_denoise(net, image, tile=tile, exact=True)
    assert np.abs(exact - full).max() < 1e-4  # everywhere, seams included
    # per-tile statistics (the blended mode) do differ: the comparison can fail
    assert np.abs(tiled_denoise(net, image, tile=tile, overlap=32) - full).max() > 1e-3


def test_exact_tiling_ensemble_equals_untiled_ensemble():
    torch.manual_seed(1)
    net = build_denoiser(DenoiserConfig(width=8, blocks=1, attention="spa", levels=2, reduction=2))
    image = np.random.default_rng(1).uniform(size=(90, 150, 3)).astype(np.float32)
    full = _untiled(net, image, ensemble=True)
    exact = tiled_denoise(net, image, tile=72, ensemble=True, exact=True)
    assert np.abs(exact - full).max() < 1e-4
    assert np.abs(full - _untiled(net, image)).max() > 1e-3  # the ensemble is not a no-op


def test_axis_windows_partition_on_the_grid():
    for length, tile, margin, multiple in [(208, 112, 40, 8), (320, 100, 16, 4), (57, 20, 4, 1), (64, 64, 8, 8)]:
        windows = axis_windows(length, tile, margin, multiple)
        cores = [(c0, c1) for _, _, c0, c1 in windows]
        assert cores[0][0] == 0 and cores[-1][1] == length
        assert all(a[1] == b[0] for a, b in zip(cores, cores[1:], strict=False))  # no gap, no overlap
        for t0, t1, c0, c1 in windows:
            assert t1 - t0 <= tile and all(v % multiple == 0 for v in (t0, c0, c1))
            assert c0 - t0 in (0, margin) and (t1 - c1 == margin or t1 == length)
            assert t0 == 0 or c0 - t0 == margin  # a cut edge always has its margin
    with pytest.raises(ValueError, match="at least 88 pixels"):
        axis_windows(500, 80, 40, 8)


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


@pytest.mark.parametrize("exact", [False, True])
def test_network_never_sees_more_than_one_tile(exact):
    # memory stays bounded because the network only ever gets one tile (its margin included),
    # however large the image: record every input the model is called on
    torch.manual_seed(0)
    net = build_denoiser(DenoiserConfig(width=8, blocks=1, attention="spa", levels=2, reduction=2))
    shapes = []
    net.register_forward_pre_hook(lambda module, args: shapes.append(tuple(args[0].shape)))
    image = np.random.default_rng(0).uniform(size=(90, 300, 3)).astype(np.float32)
    tile = 64
    out = tiled_denoise(net, image, tile=tile, overlap=16, exact=exact)
    assert out.shape == image.shape
    assert len(shapes) >= 2 * 5  # several tiles high and wide (exact: a statistics pass and the final pass)
    assert max(s[-2] for s in shapes) <= tile and max(s[-1] for s in shapes) <= tile
    assert all(s[:2] == (1, 3) for s in shapes)  # one tile at a time, never a batch of them
