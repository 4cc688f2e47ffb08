import logging

import numpy as np
import pytest
import torch
from PIL import Image

from quartet.denoise.data import (
    ImageError,
    ImagePair,
    builtin_clean_images,
    find_pairs,
    load_image,
    load_pair,
    random_crop_pair,
    save_image,
    to_uint8,
)


def test_8bit_rgb_grey_and_16bit(tmp_path):
    rgb = np.arange(4 * 5 * 3, dtype=np.uint8).reshape(4, 5, 3)
    Image.fromarray(rgb).save(tmp_path / "rgb.png")
    out = load_image(tmp_path / "rgb.png")
    assert out.shape == (4, 5, 3) and out.dtype == np.float32
    np.testing.assert_allclose(out * 255, rgb, atol=1e-4)

    Image.fromarray(np.full((3, 3), 51, np.uint8)).save(tmp_path / "grey.jpg")
    grey = load_image(tmp_path / "grey.jpg")
    assert grey.shape == (3, 3, 1)
    np.testing.assert_allclose(grey, 0.2, atol=2 / 255)

    sixteen = np.array([[0, 65535], [32768, 1000]], dtype=np.uint16)
    Image.fromarray(sixteen).save(tmp_path / "deep.png")
    assert Image.open(tmp_path / "deep.png").mode.startswith("I")
    np.testing.assert_allclose(load_image(tmp_path / "deep.png")[..., 0], sixteen / 65535, atol=1e-6)


def test_16bit_rgb_and_rgba_png_read_at_full_precision(tmp_path, caplog):
    png = pytest.importorskip("png")  # pypng, a dependency: writes the 16-bit files Pillow cannot
    rng = np.random.default_rng(0)
    rgb = rng.integers(0, 65536, (5, 7, 3), dtype=np.uint16)
    rgb[0, 0] = [0, 65535, 257]  # extremes, and a value whose top byte equals its bottom byte
    rgb[0, 1] = [1, 256, 65534]  # values that 8-bit truncation would merge
    png.from_array(rgb.reshape(5, 21), "RGB;16").save(tmp_path / "deep.png")
    out = load_image(tmp_path / "deep.png")
    assert out.shape == (5, 7, 3) and out.dtype == np.float32
    np.testing.assert_array_equal(np.round(out.astype(np.float64) * 65535).astype(np.uint16), rgb)  # exact
    assert (rgb % 257 != 0).any()  # so an 8-bit read (v // 256 * 257) could not have matched

    rgba = np.concatenate([rgb, np.full((5, 7, 1), 9, np.uint16)], axis=-1)
    png.from_array(rgba.reshape(5, 28), "RGBA;16").save(tmp_path / "alpha.png")
    with caplog.at_level(logging.WARNING):
        out = load_image(tmp_path / "alpha.png")
    np.testing.assert_array_equal(np.round(out.astype(np.float64) * 65535).astype(np.uint16), rgb)
    assert "alpha channel dropped" in caplog.text

    data = (tmp_path / "deep.png").read_bytes()
    (tmp_path / "cut16.png").write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageError, match="cut16.png: corrupt or truncated"):
        load_image(tmp_path / "cut16.png")


def test_16bit_colour_tiff_is_refused_not_truncated(tmp_path):
    tifffile = pytest.importorskip("tifffile")  # installed with scikit-image
    tifffile.imwrite(tmp_path / "deep.tif", np.full((4, 4, 3), 1000, np.uint16), photometric="rgb")
    with pytest.raises(ImageError, match="16-bit colour TIFF"):
        load_image(tmp_path / "deep.tif")


def test_alpha_dropped_with_warning(tmp_path, caplog):
    rgba = np.zeros((4, 4, 4), np.uint8)
    rgba[..., 0] = 200
    rgba[..., 3] = 10
    Image.fromarray(rgba, "RGBA").save(tmp_path / "a.png")
    with caplog.at_level(logging.WARNING):
        out = load_image(tmp_path / "a.png")
    assert out.shape == (4, 4, 3)
    np.testing.assert_allclose(out[..., 0], 200 / 255, atol=1e-6)
    assert "alpha channel dropped" in caplog.text


def test_not_an_image(tmp_path):
    (tmp_path / "x.png").write_text("hello, I am text")
    with pytest.raises(ImageError, match="not an image"):
        load_image(tmp_path / "x.png")
    with pytest.raises(ImageError, match="no such file"):
        load_image(tmp_path / "missing.png")


def test_truncated_png(tmp_path):
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8)).save(
        tmp_path / "full.png"
    )
    data = (tmp_path / "full.png").read_bytes()
    (tmp_path / "cut.png").write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageError, match="truncated"):
        load_image(tmp_path / "cut.png")


def test_one_pixel_image(tmp_path):
    Image.fromarray(np.zeros((1, 1, 3), np.uint8)).save(tmp_path / "dot.png")
    with pytest.raises(ImageError, match="1x1"):
        load_image(tmp_path / "dot.png")


def test_mismatched_pair(tmp_path):
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(tmp_path / "n.png")
    Image.fromarray(np.zeros((8, 9, 3), np.uint8)).save(tmp_path / "c.png")
    with pytest.raises(ImageError, match="8x8x3 but .* is 9x8x3"):
        load_pair(ImagePair("p", tmp_path / "n.png", tmp_path / "c.png"))


def test_paired_folder_naming_rule(tmp_path):
    for sub, ext in (("noisy", "png"), ("clean", "jpg")):
        (tmp_path / sub).mkdir()
        for stem in ("b", "a"):
            Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(tmp_path / sub / f"{stem}.{ext}")
    pairs = find_pairs(tmp_path)
    assert [p.name for p in pairs] == ["a", "b"]
    assert pairs[0].clean.name == "a.jpg"
    (tmp_path / "noisy" / "c.png").write_bytes((tmp_path / "noisy" / "a.png").read_bytes())
    with pytest.raises(ImageError, match="no clean image with stem 'c'"):
        find_pairs(tmp_path)


def test_real_polyu_and_sidd_readers(denoise_data):
    polyu = find_pairs(denoise_data / "PolyU100")
    assert len(polyu) == 100
    assert polyu[0].noisy.name.endswith("_real.JPG") and polyu[0].clean.name.endswith("_mean.JPG")
    noisy, clean = load_pair(polyu[0])
    assert noisy.shape == (512, 512, 3)
    sidd = find_pairs(denoise_data / "SIDD_val_subset")
    assert len(sidd) == 40 and sidd[0].noisy.parent.name == "Noisy"
    picked = find_pairs(denoise_data / "SIDD_val_subset", ["val_3_0", "val_1_0"])
    assert [p.name for p in picked] == ["val_3_0", "val_1_0"]
    with pytest.raises(ImageError, match="not found"):
        find_pairs(denoise_data / "SIDD_val_subset", ["nope"])


def test_random_crop_pair_is_aligned_and_seeded():
    clean = torch.arange(2 * 10 * 12, dtype=torch.float32).reshape(2, 10, 12)
    noisy = clean + 1000
    torch.manual_seed(0)
    n1, c1 = random_crop_pair(noisy, clean, 6)
    assert n1.shape == (2, 6, 6) and torch.equal(n1 - 1000, c1)
    torch.manual_seed(0)
    n2, _ = random_crop_pair(noisy, clean, 6)
    assert torch.equal(n1, n2)
    with pytest.raises(ImageError, match="smaller than the training patch"):
        random_crop_pair(noisy, clean, 11)


def test_to_uint8_rounds_in_bands_like_whole_image_float64(monkeypatch):
    import quartet.denoise.data as data

    x = np.random.default_rng(0).uniform(-0.1, 1.1, (37, 5, 3)).astype(np.float32)
    x[0, 0] = [0.5 / 255, 1.5 / 255, 254.5 / 255]  # half-way values
    reference = np.clip(np.round(x.astype(np.float64) * 255.0), 0, 255).astype(np.uint8)
    monkeypatch.setattr(data, "ROWS_PER_CHUNK", 4)  # several bands, the last one short
    np.testing.assert_array_equal(to_uint8(x), reference)


def test_builtin_images_and_save_roundtrip(tmp_path):
    imgs = builtin_clean_images(3, 32, seed=0)
    assert len(imgs) == 3 and imgs[0].shape == (32, 32, 3)
    assert not np.array_equal(imgs[0], imgs[1])
    save_image(imgs[0], tmp_path / "o.png")
    np.testing.assert_array_equal(to_uint8(load_image(tmp_path / "o.png")), to_uint8(imgs[0]))
