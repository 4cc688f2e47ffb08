"""The denoise page's API on a tiny real denoiser: PNG/JPEG in, the tiled result as PNG out; bad uploads."""

from __future__ import annotations

import io

import numpy as np
import pytest
from fastapi.testclient import TestClient
from PIL import Image
from webruns import noisy_png

from quartet.denoise.data import load_image, to_uint8
from quartet.denoise.tiling import tiled_denoise
from quartet.web.app import create_app


@pytest.fixture
def client(services):
    with TestClient(create_app(services=services), raise_server_exceptions=False) as c:
        yield c


def post(client, data: bytes, filename: str = "photo.png"):
    return client.post(f"/api/denoise?filename={filename}", content=data)


def test_info_prefers_the_spa_model_and_states_the_limits(client):
    info = client.get("/api/denoise/info").json()
    assert info["run"] == "denoise/ablation/models/spa2-s0" and info["attention"] == "spa" and info["levels"] == 2
    assert (info["max_bytes"], info["max_pixels"], info["tile"]) == (200_000, 10_000, 256)


def test_png_comes_back_denoised_exactly_as_the_library_tiles_it(client, services, tmp_path):
    src = noisy_png(tmp_path / "in.png", (48, 40))
    r = post(client, src.read_bytes(), "../My photo (1).png")
    assert r.status_code == 200 and r.headers["content-type"] == "image/png"
    assert r.headers["content-disposition"] == 'attachment; filename="My_photo_1-denoised.png"'
    assert (r.headers["x-image-width"], r.headers["x-image-height"]) == ("48", "40")
    got = np.asarray(Image.open(io.BytesIO(r.content)))
    expected = to_uint8(tiled_denoise(services.denoise.model, load_image(src), 256, 32).clip(0, 1))
    assert got.shape == (40, 48, 3) and np.array_equal(got, expected)
    assert not np.array_equal(got, np.asarray(Image.open(src)))  # it did change the photo
    assert not any((services.data_dir / "denoise-tmp").iterdir())  # the scratch file is gone


def test_jpeg_and_grey_images_work(client, tmp_path):
    jpg = noisy_png(tmp_path / "in.jpg", (30, 20))
    r = post(client, jpg.read_bytes(), "in.jpg")
    assert r.status_code == 200 and Image.open(io.BytesIO(r.content)).size == (30, 20)
    grey = io.BytesIO()
    Image.fromarray(np.full((10, 12), 128, np.uint8)).save(grey, format="PNG")
    r = post(client, grey.getvalue())
    assert r.status_code == 200 and Image.open(io.BytesIO(r.content)).mode == "L"


def test_bad_uploads_get_clear_errors_without_server_paths(client, tmp_path, services):
    r = post(client, b"hello, I am text", "notes.png")
    assert r.status_code == 400 and r.json()["detail"] == "notes.png: not a PNG or JPEG image"
    gif = io.BytesIO()
    Image.new("RGB", (8, 8)).save(gif, format="GIF")
    assert post(client, gif.getvalue(), "a.gif").json()["detail"] == "a.gif: not a PNG or JPEG image"
    assert post(client, b"").json()["detail"] == "photo.png: the file is empty"
    data = noisy_png(tmp_path / "in.png", (48, 40)).read_bytes()
    r = post(client, data[: len(data) // 2], "cut.png")
    assert r.status_code == 400 and r.json()["detail"].startswith("cut.png: corrupt or truncated image")
    assert str(services.data_dir) not in r.text and "denoise-tmp" not in r.text
    big = io.BytesIO()
    Image.new("RGB", (200, 100)).save(big, format="PNG")  # 20,000 pixels > the 10,000 of the fixture
    r = post(client, big.getvalue(), "big.png")
    assert r.status_code == 413 and r.json()["detail"] == "big.png: 200x100 is 20,000 pixels; the limit is 10,000"
    r = post(client, b"\x89PNG\r\n\x1a\n" + b"\0" * 300_000)
    assert r.status_code == 413 and "larger than the limit" in r.json()["detail"]
