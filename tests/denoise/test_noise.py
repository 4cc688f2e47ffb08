import math

import torch

from quartet.denoise.noise import (
    CameraNoise,
    camera_like,
    gaussian,
    jpeg,
    linear_to_srgb,
    poisson_gaussian,
    srgb_to_linear,
)


def test_gaussian_sigma_in_255_units():
    g = torch.Generator().manual_seed(0)
    clean = torch.full((3, 128, 128), 0.5)
    noisy = gaussian(clean, 25, generator=g)
    assert abs(float((noisy - clean).std()) - 25 / 255) < 2e-3
    again = gaussian(clean, 25, generator=torch.Generator().manual_seed(0))
    assert torch.equal(noisy, again)  # seeded: reproducible


def test_poisson_gaussian_variance_is_affine_in_signal():
    g = torch.Generator().manual_seed(1)
    a, b = 0.01, 0.02
    for level in (0.2, 0.6):
        clean = torch.full((1, 256, 256), level)
        noisy = poisson_gaussian(clean, a, b, generator=g)
        assert abs(float(noisy.var()) - (a * level + b * b)) < 0.1 * (a * level + b * b)
        assert abs(float(noisy.mean()) - level) < 0.01


def test_srgb_curve_roundtrip_and_known_value():
    x = torch.linspace(0, 1, 101)
    torch.testing.assert_close(linear_to_srgb(srgb_to_linear(x)), x, atol=1e-5, rtol=0)
    assert math.isclose(float(srgb_to_linear(torch.tensor(0.5))), 0.214041, rel_tol=1e-4)


def test_camera_like_is_signal_dependent_and_8bit():
    g = torch.Generator().manual_seed(2)
    model = CameraNoise(shot=(5e-3, 5e-3), read=(1e-3, 1e-3))
    dark, bright = torch.full((3, 128, 128), 0.1), torch.full((3, 128, 128), 0.9)
    nd, nb = camera_like(dark, model, g), camera_like(bright, model, g)
    # in sRGB, brighter linear signal has more shot noise, and the gamma curve reshapes it
    assert float((nd - dark).std()) > 0.005 and float((nb - bright).std()) > 0.005
    assert float((nb - bright).std()) != float((nd - dark).std())
    assert torch.equal(nd, (nd * 255).round() / 255)  # 8-bit values
    assert nd.min() >= 0 and nb.max() <= 1


def _block_edge_ratio(x: torch.Tensor) -> tuple[float, float]:
    """Mean |step| between pixels across 8x8 block edges over the mean step inside blocks, per axis."""
    ratios = []
    for dim in (-1, -2):
        steps = x.diff(dim=dim).abs().transpose(dim, -1).mean(dim=(0, 1))  # (size - 1,) per position
        at_edge = torch.arange(steps.numel()) % 8 == 7  # the step from column/row 8k+7 to 8k+8
        ratios.append(float(steps[at_edge].mean() / steps[~at_edge].mean()))
    return ratios[0], ratios[1]


def test_jpeg_option_changes_output_and_keeps_shape():
    # a smooth image (ramps, no clipping): where JPEG's 8x8 blocking shows, as in real photos' skies
    yy, xx = torch.meshgrid(torch.linspace(0, 1, 64), torch.linspace(0, 1, 64), indexing="ij")
    clean = torch.stack([0.2 + 0.6 * xx, 0.3 + 0.4 * yy, 0.5 + 0.3 * xx * yy])  # (3, 64, 64)
    shot, read = (2e-3, 2e-3), (5e-3, 5e-3)
    plain = camera_like(clean, CameraNoise(shot=shot, read=read), torch.Generator().manual_seed(3))
    out = camera_like(clean, CameraNoise(shot=shot, read=read, jpeg_quality=(30, 30)), torch.Generator().manual_seed(3))
    assert out.shape == clean.shape
    # same seed, same sensor noise: the JPEG option only compresses it (quality drawn after the noise)
    assert torch.equal(out, jpeg(plain, 30))
    assert 1 / 255 < float((out - plain).abs().mean()) < 15 / 255  # a visible but plausible change
    assert out.min() >= 0 and out.max() <= 1
    # JPEG's blocking: steps across 8x8 block edges are larger than inside blocks; without JPEG they are not
    assert min(_block_edge_ratio(out)) > 1.5
    assert max(_block_edge_ratio(plain)) < 1.15
    grey = jpeg(torch.rand(1, 16, 16), 50)
    assert grey.shape == (1, 16, 16)


def test_camera_like_noise_std_grows_with_intensity_in_linear_space():
    # the model's defining property: in the linearized raw-like space the noise variance is
    # a * L + b^2 (shot + read), so its std grows with the signal L; checked at 4 flat levels
    a, b = 4e-3, 1e-2
    model = CameraNoise(shot=(a, a), read=(b, b))
    g = torch.Generator().manual_seed(4)
    stds, expected = [], []
    for level in (0.1, 0.25, 0.45, 0.65):
        clean = linear_to_srgb(torch.full((3, 128, 128), level))
        noisy = camera_like(clean, model, g)
        residual = srgb_to_linear(noisy) - level
        assert abs(float(residual.mean())) < 0.004  # unbiased (little clipping at these levels)
        stds.append(float(residual.std()))
        expected.append(math.sqrt(a * level + b * b))
    assert all(s1 < s2 for s1, s2 in zip(stds, stds[1:], strict=False))  # grows with intensity
    for s, e in zip(stds, expected, strict=True):
        assert abs(s - e) < 0.05 * e  # and matches sqrt(a L + b^2) (8-bit rounding adds < 1%)
    # pure read noise (tiny shot gain) is flat in linear space: the growth above is the shot term
    flat = CameraNoise(shot=(1e-8, 1e-8), read=(b, b))
    lo = srgb_to_linear(camera_like(linear_to_srgb(torch.full((3, 128, 128), 0.25)), flat, g)) - 0.25
    hi = srgb_to_linear(camera_like(linear_to_srgb(torch.full((3, 128, 128), 0.65)), flat, g)) - 0.65
    assert abs(float(lo.std()) / float(hi.std()) - 1) < 0.1
