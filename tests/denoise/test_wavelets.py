import numpy as np
import pytest
import pywt
import torch

from quartet.denoise.wavelets import haar_dwt, haar_dwt_multilevel, haar_idwt, haar_idwt_multilevel


def test_matches_pywavelets_dwt2_including_signs():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(2, 3, 8, 12))
    ll, high = haar_dwt(torch.from_numpy(x))
    for b in range(2):
        for c in range(3):
            ca, (ch, cv, cd) = pywt.dwt2(x[b, c], "haar")
            np.testing.assert_allclose(ll[b, c].numpy(), ca, atol=1e-12)
            np.testing.assert_allclose(high[b, c, 0].numpy(), ch, atol=1e-12)  # LH == cH
            np.testing.assert_allclose(high[b, c, 1].numpy(), cv, atol=1e-12)  # HL == cV
            np.testing.assert_allclose(high[b, c, 2].numpy(), cd, atol=1e-12)  # HH == cD


def test_multilevel_matches_pywavedec2():
    x = np.random.default_rng(1).normal(size=(1, 1, 16, 16))
    ll, highs = haar_dwt_multilevel(torch.from_numpy(x), levels=3)
    coeffs = pywt.wavedec2(x[0, 0], "haar", level=3)  # [cA3, (level 3), (level 2), (level 1)]
    np.testing.assert_allclose(ll[0, 0].numpy(), coeffs[0], atol=1e-12)
    for level in (1, 2, 3):
        expected = np.stack(coeffs[-level])
        np.testing.assert_allclose(highs[level - 1][0, 0].numpy(), expected, atol=1e-12)


@pytest.mark.parametrize("levels", [1, 2, 3])
def test_perfect_reconstruction(levels):
    x = torch.randn(2, 4, 24, 40, dtype=torch.float64)
    ll, highs = haar_dwt_multilevel(x, levels)
    assert ll.shape == (2, 4, 24 >> levels, 40 >> levels)
    torch.testing.assert_close(haar_idwt_multilevel(ll, highs), x, rtol=0, atol=1e-12)


def test_orthonormal_energy_and_gradient():
    x = torch.randn(1, 2, 8, 8, dtype=torch.float64, requires_grad=True)
    ll, high = haar_dwt(x)
    energy = ll.pow(2).sum() + high.pow(2).sum()
    torch.testing.assert_close(energy, x.pow(2).sum())
    energy.backward()
    torch.testing.assert_close(x.grad, 2 * x.detach())  # the transform is orthonormal
    assert torch.autograd.gradcheck(lambda t: haar_idwt(*haar_dwt(t)), (x,))


def test_odd_size_rejected():
    with pytest.raises(ValueError, match="even"):
        haar_dwt(torch.zeros(1, 1, 5, 4))
    with pytest.raises(ValueError, match="levels"):
        haar_dwt_multilevel(torch.zeros(1, 1, 4, 4), 0)
