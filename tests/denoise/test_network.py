import pytest
import torch

from quartet.denoise.attention import ChannelAttention, SubbandAttention, SubbandPyramidAttention
from quartet.denoise.network import DenoiserConfig, build_denoiser


def test_channel_attention_is_a_per_channel_gain():
    torch.manual_seed(0)
    ca = ChannelAttention(8, reduction=2)
    x = torch.randn(2, 8, 6, 6)
    y = ca(x)
    gain = y / x
    # one gain per (image, channel), in (0, 1), identical over all pixels
    assert torch.allclose(gain, gain[..., :1, :1].expand_as(gain), atol=1e-5)
    assert (gain > 0).all() and (gain < 1).all()


def test_spa_with_identity_gates_is_the_identity():
    # with every gate fixed at 1 the block is idwt(dwt(x)) == x: the pyramid loses nothing
    spa = SubbandPyramidAttention(4, levels=3, reduction=2)
    for ca in spa.attend:
        ca.forward = lambda t: t
    x = torch.randn(1, 4, 16, 24, dtype=torch.float64)
    torch.testing.assert_close(spa.double()(x), x)


def test_spa_attends_each_octave_separately():
    # a gate that halves the coarsest band only: the LL_3 content of the output halves
    from quartet.denoise.wavelets import haar_dwt_multilevel

    spa = SubbandPyramidAttention(2, levels=2, reduction=1)
    calls = []

    def scale(k):
        def f(t):
            calls.append(tuple(t.shape[-2:]))
            return t * (0.5 if k == 0 else 1.0)
        return f

    for k, ca in enumerate(spa.attend):
        ca.forward = scale(k)
    x = torch.randn(1, 2, 8, 8, dtype=torch.float64)
    y = spa(x)
    assert calls == [(2, 2), (4, 4), (8, 8)]  # coarsest LL, after each inverse step
    ll_x, highs_x = haar_dwt_multilevel(x, 2)
    ll_y, highs_y = haar_dwt_multilevel(y, 2)
    torch.testing.assert_close(ll_y, 0.5 * ll_x)
    for hx, hy in zip(highs_x, highs_y, strict=True):
        torch.testing.assert_close(hy, hx)


@pytest.mark.parametrize("attention", ["none", "ca", "spa", "spa_bands"])
@pytest.mark.parametrize("size", [(32, 32), (13, 21), (3, 5)])
def test_any_size_keeps_shape_and_gradients_flow(attention, size):
    torch.manual_seed(0)
    net = build_denoiser(DenoiserConfig(width=8, blocks=1, attention=attention, levels=3, reduction=2))
    x = torch.rand(2, 3, *size)
    y = net(x)
    assert y.shape == x.shape
    y.mean().backward()
    assert all(p.grad is not None for p in net.parameters())


def test_levels_and_noise_branch_change_the_model():
    count = lambda cfg: sum(p.numel() for p in build_denoiser(cfg).parameters())  # noqa: E731
    base = DenoiserConfig(width=8, blocks=2, attention="spa", levels=1, reduction=2)
    ca = DenoiserConfig(width=8, blocks=2, attention="ca", reduction=2)
    ca_params = sum(p.numel() for p in ChannelAttention(8, 2).parameters())
    # SPA with L levels holds L+1 channel attentions per block
    for levels in (1, 2, 3):
        cfg = DenoiserConfig(**{**base.__dict__, "levels": levels})
        assert count(cfg) - count(ca) == 2 * levels * ca_params
    bands = DenoiserConfig(**{**base.__dict__, "attention": "spa_bands", "levels": 2})
    assert count(bands) - count(ca) == 2 * (1 + 6) * ca_params
    assert isinstance(build_denoiser(bands).blocks[0].attention, SubbandAttention)
    noisy = DenoiserConfig(**{**base.__dict__, "noise_branch": True})
    net = build_denoiser(noisy)
    assert net.head.in_channels == 6
    assert net(torch.rand(1, 3, 16, 16)).shape == (1, 3, 16, 16)


def test_bad_config_rejected():
    with pytest.raises(ValueError, match="levels"):
        build_denoiser(DenoiserConfig(width=8, blocks=1, attention="spa", levels=4))
    with pytest.raises(ValueError, match="unknown attention"):
        build_denoiser(DenoiserConfig(width=8, blocks=1, attention="bogus"))
