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


def test_jpeg_option_changes_output_and_keeps_shape():
    g = torch.Generator().manual_seed(3)
    clean = torch.rand(3, 32, 32)
    out = camera_like(clean, CameraNoise(jpeg_quality=(30, 30)), g)
    assert out.shape == clean.shape
    grey = jpeg(torch.rand(1, 16, 16), 50)
    assert grey.shape == (1, 16, 16)
