import math
import sys

import numpy as np
import pytest

from quartet.denoise.baselines import available_baselines, nlm, noisy_input, wavelet
from quartet.denoise.metrics import mean_by, psnr, ssim, write_csv


def test_psnr_hand_computed():
    gt = np.full((8, 8, 3), 100 / 255)
    assert psnr(gt, gt + 5 / 255) == pytest.approx(10 * math.log10(255**2 / 25), abs=1e-9)
    # one channel off by 30 everywhere: MSE over channels = 900 / 3 = 300
    pred = gt.copy()
    pred[..., 1] += 30 / 255
    assert psnr(gt, pred) == pytest.approx(10 * math.log10(255**2 / 300), abs=1e-9)
    assert psnr(gt, gt) == math.inf


def test_psnr_no_uint8_overflow():
    # 0 vs 255 would wrap around in uint8 arithmetic; the true MSE is 255² -> 0 dB
    assert psnr(np.zeros((4, 4, 3)), np.ones((4, 4, 3))) == pytest.approx(0.0)
    assert psnr(np.ones((4, 4, 3)), np.zeros((4, 4, 3))) == pytest.approx(0.0)


def test_ssim_hand_computed_on_flat_images():
    # flat images a, b: variances 0, so SSIM = (2ab + C1) / (a² + b² + C1), C1 = (0.01 * 255)²
    a, b = 100, 120
    c1 = (0.01 * 255) ** 2
    expected = (2 * a * b + c1) / (a * a + b * b + c1)
    got = ssim(np.full((16, 16, 3), a / 255), np.full((16, 16, 3), b / 255))
    assert got == pytest.approx(expected, rel=1e-9)
    img = np.random.default_rng(0).uniform(size=(16, 16, 3))
    assert ssim(img, img) == pytest.approx(1.0)
    with pytest.raises(ValueError, match="shapes differ"):
        ssim(img, img[:8])


def test_csv_and_means(tmp_path):
    rows = [
        {"set": "s", "method": "m", "name": "a", "psnr": 30.0, "ssim": 0.8},
        {"set": "s", "method": "m", "name": "b", "psnr": 32.0, "ssim": 0.9},
    ]
    write_csv(tmp_path / "r.csv", rows)
    assert (tmp_path / "r.csv").read_text().splitlines()[0] == "set,method,name,psnr,ssim"
    means = mean_by(rows, ("set", "method"))
    assert means[("s", "m")] == {"psnr": 31.0, "ssim": pytest.approx(0.85), "n": 2}


def test_baselines_reduce_noise():
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:64, 0:64] / 64
    clean = np.stack([0.3 + 0.4 * xx, 0.5 + 0.2 * yy, 0.4 + 0.3 * xx * yy], -1)
    noisy = (clean + rng.normal(0, 20 / 255, clean.shape)).astype(np.float32)
    base = psnr(clean, noisy)
    assert psnr(clean, noisy_input(noisy)) == base
    assert psnr(clean, nlm(noisy)) > base + 3
    assert psnr(clean, wavelet(noisy)) > base + 3


def test_bm3d_skipped_when_absent(monkeypatch):
    monkeypatch.setitem(sys.modules, "bm3d", None)  # import fails
    monkeypatch.setattr("quartet.denoise.baselines.bm3d_installed", lambda: False)
    assert list(available_baselines(["noisy", "bm3d"])) == ["noisy"]
    with pytest.raises(ValueError, match="unknown baselines"):
        available_baselines(["median"])


def test_bm3d_baseline_runs_when_installed():
    pytest.importorskip("bm3d", reason="the optional bm3d extra (non-commercial licence) is not installed")
    from quartet.denoise.baselines import LICENCE_NOTES, bm3d_denoise

    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:40, 0:40] / 40
    clean = np.stack([0.3 + 0.4 * xx, 0.5 + 0.2 * np.sin(6 * yy), 0.6 * (xx > 0.5) + 0.2], axis=-1).astype(np.float32)
    noisy = (clean + rng.normal(0, 0.08, clean.shape)).astype(np.float32)
    assert "bm3d" in available_baselines(["noisy", "bm3d"])
    out = bm3d_denoise(noisy)
    assert out.shape == clean.shape and out.dtype == np.float32
    assert np.abs(out - clean).mean() < 0.5 * np.abs(noisy - clean).mean()  # it denoises
    grey = bm3d_denoise(noisy[..., :1])
    assert grey.shape == (40, 40, 1) and np.abs(grey - clean[..., :1]).mean() < 0.5 * np.abs(noisy - clean)[..., :1].mean()
    assert "non-commercial" in LICENCE_NOTES["bm3d"]
