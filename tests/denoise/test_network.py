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


def test_subband_attention_attends_each_band_of_each_level_separately():
    # gates fixed by hand: halve level 1's HL band, triple the LL_2 band, leave the rest; the
    # output's wavelet bands change exactly so, and every gate sees its own band
    from quartet.denoise.wavelets import haar_dwt_multilevel

    sa = SubbandAttention(2, levels=2, reduction=1)
    seen = {}

    def scale(name, factor):
        def f(t):
            seen[name] = tuple(t.shape[-2:])
            return t * factor
        return f

    for level in range(2):
        for i, band in enumerate(("LH", "HL", "HH")):
            factor = 0.5 if (level, band) == (0, "HL") else 1.0
            sa.attend_bands[3 * level + i].forward = scale(f"{band}{level + 1}", factor)
    sa.attend_ll.forward = scale("LL2", 3.0)
    sa.attend_out.forward = scale("out", 1.0)
    x = torch.randn(1, 2, 8, 8, dtype=torch.float64)
    y = sa(x)
    assert seen == {"LH1": (4, 4), "HL1": (4, 4), "HH1": (4, 4), "LH2": (2, 2), "HL2": (2, 2), "HH2": (2, 2),
                    "LL2": (2, 2), "out": (8, 8)}
    ll_x, highs_x = haar_dwt_multilevel(x, 2)
    ll_y, highs_y = haar_dwt_multilevel(y, 2)
    torch.testing.assert_close(ll_y, 3 * ll_x)
    expected_fine = highs_x[0].clone()
    expected_fine[:, :, 1] *= 0.5  # HL of level 1
    torch.testing.assert_close(highs_y[0], expected_fine)
    torch.testing.assert_close(highs_y[1], highs_x[1])


def test_subband_attention_real_gates_are_per_band_per_channel_gains():
    # with the learned gates: each band of the output is its input band times one gain per channel
    from quartet.denoise.wavelets import haar_dwt_multilevel

    torch.manual_seed(0)
    sa = SubbandAttention(4, levels=2, reduction=2).double()
    sa.attend_out.forward = lambda t: t  # look at the bands before the final CA
    x = torch.randn(2, 4, 16, 16, dtype=torch.float64)
    ll_x, highs_x = haar_dwt_multilevel(x, 2)
    ll_y, highs_y = haar_dwt_multilevel(sa(x), 2)
    for bx, by in [(ll_x, ll_y)] + [(hx[:, :, i], hy[:, :, i]) for hx, hy in zip(highs_x, highs_y, strict=True)
                                    for i in range(3)]:
        gain = by / bx  # (B, C, h, w): one value per image and channel, in (0, 1)
        torch.testing.assert_close(gain, gain[..., :1, :1].expand_as(gain))
        assert (gain > 0).all() and (gain < 1).all()
    # different bands get different gains (they are separate CAs)
    g_lh1 = (highs_y[0][:, :, 0] / highs_x[0][:, :, 0])[..., 0, 0]
    g_hh1 = (highs_y[0][:, :, 2] / highs_x[0][:, :, 2])[..., 0, 0]
    assert not torch.allclose(g_lh1, g_hh1)


@pytest.mark.parametrize("module", [ChannelAttention(4, 2), SubbandPyramidAttention(4, 3, 2), SubbandAttention(4, 2, 2)])
def test_pooled_means_from_band_means_match_what_every_gate_pools(module):
    # what exact tiling relies on: the pooled mean of every CA follows from the input's band means
    from quartet.denoise.wavelets import haar_dwt_multilevel

    torch.manual_seed(0)
    module = module.double()
    x = torch.randn(1, 4, 16, 24, dtype=torch.float64) + 0.3
    pooled = {}
    hooks = [m.pool.register_forward_hook(lambda mod, a, out: pooled.__setitem__(mod, out))
             for m in module.modules() if isinstance(m, ChannelAttention)]
    module(x)
    for h in hooks:
        h.remove()
    ll, highs = haar_dwt_multilevel(x, module.levels) if module.levels else (x, [])
    derived = module.pooled_means(ll.mean((-2, -1), keepdim=True), [hi.mean((-2, -1), keepdim=True) for hi in highs])
    assert len(derived) == len(pooled) == sum(isinstance(m, ChannelAttention) for m in module.modules())
    for ca, value in derived.items():
        torch.testing.assert_close(value, pooled[ca.pool])
