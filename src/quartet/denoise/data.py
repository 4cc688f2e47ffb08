"""Image files and noisy/clean pairs: loading with validation, pair readers, training patches.

Images are returned as float32 arrays (H, W, C) in [0, 1] with C = 1 (grey) or 3 (RGB);
8-bit files are divided by 255 and 16-bit files by 65535. Alpha is dropped with a warning.
Pillow reads 16-bit colour PNGs as 8 bits, so every 16-bit PNG is read with pypng instead;
16-bit colour TIFFs (same truncation) are refused with an error.

Pair naming rules (``find_pairs`` tries them in this order):

* SIDD: ``root/Noisy/<name>`` goes with ``root/GT/<name>`` (same file name).
* PolyU / CC: ``root/<X>_real.<ext>`` goes with ``root/<X>_mean.<ext>``.
* Plain paired folders: ``root/noisy/<stem>.<ext>`` goes with ``root/clean/<stem>.<ext'>``
  (same stem, any image extension).
"""

from __future__ import annotations

import logging
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import png
import torch
from PIL import Image, UnidentifiedImageError

log = logging.getLogger(__name__)

IMAGE_EXTENSIONS = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff"}
MIN_SIDE = 2  # smaller images cannot be denoised meaningfully (nor padded by reflection)
MAX_PIXELS = 200_000_000  # refuse decompression bombs before decoding
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
ROWS_PER_CHUNK = 256  # to_uint8 converts this many rows at a time (bounded float64 temporaries)


class ImageError(ValueError):
    """A file that cannot be used as an image, or a pair that does not fit together."""


@dataclass(frozen=True)
class ImagePair:
    name: str
    noisy: Path
    clean: Path


def load_image(path: str | Path) -> np.ndarray:
    """Read ``path`` as float32 (H, W, C) in [0, 1], C in {1, 3}; raise ImageError with the reason."""
    path = Path(path)
    if not path.is_file():
        raise ImageError(f"{path}: no such file")
    header = _png_header(path)
    if header is not None and header[2] == 16:
        return _load_png16(path, *header[:2])
    try:
        with Image.open(path) as im:
            _check_size(path, im.width, im.height)
            im.load()  # decode now so truncated files fail here
            return _to_array(im, path)
    except UnidentifiedImageError:
        raise ImageError(f"{path}: not an image (unrecognized format)") from None
    except (OSError, SyntaxError, Image.DecompressionBombError) as err:
        raise ImageError(f"{path}: corrupt or truncated image: {err}") from None


def _png_header(path: Path) -> tuple[int, int, int] | None:
    """(width, height, bit depth) from a PNG's IHDR chunk; None when the file is not a PNG."""
    with open(path, "rb") as handle:
        head = handle.read(26)
    if len(head) < 26 or not head.startswith(PNG_SIGNATURE) or head[12:16] != b"IHDR":
        return None  # not a PNG (or a broken one): Pillow decides and explains
    width, height = struct.unpack(">II", head[16:24])
    return width, height, head[24]


def _check_size(path: Path, width: int, height: int) -> None:
    if width * height > MAX_PIXELS:
        raise ImageError(f"{path}: {width}x{height} is too large (max {MAX_PIXELS} pixels)")
    if width < MIN_SIDE or height < MIN_SIDE:
        raise ImageError(f"{path}: image is {width}x{height}; need at least {MIN_SIDE}x{MIN_SIDE}")


def _load_png16(path: Path, width: int, height: int) -> np.ndarray:
    """A 16-bit PNG (grey or RGB, with or without alpha) at full precision, through pypng."""
    _check_size(path, width, height)
    try:
        width, height, pixels, info = png.Reader(filename=str(path)).read_flat()
    except (png.Error, zlib.error, EOFError, ValueError) as err:
        raise ImageError(f"{path}: corrupt or truncated image: {err}") from None
    arr = np.frombuffer(pixels, dtype=np.uint16).reshape(height, width, info["planes"])  # array('H'): native order
    if info["alpha"]:
        log.warning("%s: alpha channel dropped", path)
        arr = arr[..., :-1]
    out = arr.astype(np.float32)
    out /= 65535.0
    return out


def _to_array(im: Image.Image, path: Path) -> np.ndarray:
    mode = im.mode
    bits = im.tag_v2.get(258, (8,)) if im.format == "TIFF" else (8,)  # TIFF BitsPerSample
    if mode in ("RGB", "RGBA") and max(bits) > 8:
        raise ImageError(f"{path}: {max(bits)}-bit colour TIFF would be read as 8 bits; save it as a 16-bit PNG")
    if mode in ("RGBA", "LA", "PA") or (mode == "P" and "transparency" in im.info):
        log.warning("%s: alpha channel dropped", path)
    if mode in ("I;16", "I;16B", "I;16L", "I"):
        arr = np.asarray(im, dtype=np.float64)
        scale = 65535.0 if mode != "I" or arr.max() > 255 else 255.0
        return (arr / scale).astype(np.float32)[..., None]
    if mode in ("L", "LA", "1"):
        arr = np.asarray(im if mode == "L" else im.convert("L"), dtype=np.float32)[..., None]
    elif mode == "F":
        raise ImageError(f"{path}: floating-point images are not supported")
    else:  # RGB, RGBA, P, CMYK, YCbCr, ...
        arr = np.asarray(im if mode == "RGB" else im.convert("RGB"), dtype=np.float32)
    arr /= 255.0  # in place: a 12-MP photo is 144 MB as float32
    return arr


def save_image(arr: np.ndarray, path: str | Path) -> None:
    """Write float (H, W, C) in [0, 1] as 8-bit PNG/JPEG (rounded, clipped)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    u8 = to_uint8(arr)
    Image.fromarray(u8[..., 0] if u8.shape[-1] == 1 else u8).save(path)


def to_uint8(arr: np.ndarray) -> np.ndarray:
    """Float [0, 1] -> uint8 [0, 255], rounded to nearest, as a saved image would be.

    Computed in float64 a band of rows at a time, so a 12-MP image needs no whole-image float64 copy.

    >>> to_uint8(np.array([[[0.0, 0.5, 1.2]]])).tolist()
    [[[0, 128, 255]]]
    """
    arr = np.asarray(arr)
    out = np.empty(arr.shape, dtype=np.uint8)
    for top in range(0, max(len(arr), 1), ROWS_PER_CHUNK):
        band = np.round(arr[top : top + ROWS_PER_CHUNK].astype(np.float64) * 255.0)
        out[top : top + ROWS_PER_CHUNK] = np.clip(band, 0, 255)
    return out


def load_pair(pair: ImagePair) -> tuple[np.ndarray, np.ndarray]:
    """(noisy, clean) arrays of one pair; sizes and channel counts must match."""
    noisy, clean = load_image(pair.noisy), load_image(pair.clean)
    if noisy.shape != clean.shape:
        raise ImageError(
            f"pair {pair.name}: {pair.noisy} is {_shape(noisy)} but {pair.clean} is {_shape(clean)}"
        )
    return noisy, clean


def _shape(arr: np.ndarray) -> str:
    return f"{arr.shape[1]}x{arr.shape[0]}x{arr.shape[2]}"


def _images(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file())


def sidd_pairs(root: str | Path) -> list[ImagePair]:
    root = Path(root)
    noisy_dir, gt_dir = root / "Noisy", root / "GT"
    pairs = []
    for noisy in _images(noisy_dir):
        clean = gt_dir / noisy.name
        if not clean.is_file():
            raise ImageError(f"{noisy}: no ground truth {clean}")
        pairs.append(ImagePair(noisy.stem, noisy, clean))
    return pairs


def polyu_pairs(root: str | Path) -> list[ImagePair]:
    root = Path(root)
    pairs = []
    for noisy in _images(root):
        if not noisy.stem.endswith("_real"):
            continue
        name = noisy.stem[: -len("_real")]
        clean = noisy.with_name(f"{name}_mean{noisy.suffix}")
        if not clean.is_file():
            raise ImageError(f"{noisy}: no ground truth {clean}")
        pairs.append(ImagePair(name, noisy, clean))
    return pairs


def folder_pairs(root: str | Path) -> list[ImagePair]:
    root = Path(root)
    clean_by_stem = {p.stem: p for p in _images(root / "clean")}
    pairs = []
    for noisy in _images(root / "noisy"):
        if noisy.stem not in clean_by_stem:
            raise ImageError(f"{noisy}: no clean image with stem {noisy.stem!r} in {root / 'clean'}")
        pairs.append(ImagePair(noisy.stem, noisy, clean_by_stem[noisy.stem]))
    return pairs


def find_pairs(root: str | Path, names: list[str] | tuple[str, ...] | None = None) -> list[ImagePair]:
    """Pairs under ``root`` by the first naming rule that fits; ``names`` keeps only those, in order."""
    root = Path(root)
    if not root.is_dir():
        raise ImageError(f"{root}: not a folder")
    if (root / "Noisy").is_dir() and (root / "GT").is_dir():
        pairs = sidd_pairs(root)
    elif (root / "noisy").is_dir() and (root / "clean").is_dir():
        pairs = folder_pairs(root)
    else:
        pairs = polyu_pairs(root)
    if not pairs:
        raise ImageError(f"{root}: no noisy/clean pairs found (see quartet.denoise.data for the naming rules)")
    if names:
        by_name = {p.name: p for p in pairs}
        missing = [n for n in names if n not in by_name]
        if missing:
            raise ImageError(f"{root}: pairs not found: {missing[:5]}{' ...' if len(missing) > 5 else ''}")
        pairs = [by_name[n] for n in names]
    return pairs


def clean_images(root: str | Path) -> list[Path]:
    """All image files directly in ``root`` (clean sets such as Kodak24, CBSD68)."""
    root = Path(root)
    if not root.is_dir():
        raise ImageError(f"{root}: not a folder")
    return _images(root)


def builtin_clean_images(count: int, size: int, seed: int) -> list[np.ndarray]:
    """Procedural RGB images (smooth gradients, flat shapes, stripes) for runs without data files."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size] / size
    images = []
    for _ in range(count):
        img = np.zeros((size, size, 3))
        for c in range(3):  # smooth background
            a, b, k = rng.uniform(-1, 1, 3)
            img[..., c] = 0.5 + 0.25 * np.sin(2 * np.pi * (a * xx + b * yy) + k)
        for _ in range(rng.integers(3, 8)):  # flat rectangles and discs with sharp edges
            colour = rng.uniform(0, 1, 3)
            cx, cy, r = rng.uniform(0, 1), rng.uniform(0, 1), rng.uniform(0.05, 0.3)
            mask = (xx - cx) ** 2 + (yy - cy) ** 2 < r**2 if rng.random() < 0.5 else (
                (abs(xx - cx) < r) & (abs(yy - cy) < r / 2)
            )
            img[mask] = colour
        if rng.random() < 0.5:  # fine stripes: high-frequency content
            period = rng.integers(3, 9)
            img[(np.arange(size) // period % 2 == 0), :, :] *= 0.8
        images.append(img.clip(0, 1).astype(np.float32))
    return images


def random_crop_pair(noisy: torch.Tensor, clean: torch.Tensor, size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Same random crop, flip and 90° rotation of (C, H, W) tensors; uses torch's global RNG.

    The trainer reseeds that RNG per step, so augmentation replays exactly on resume.
    """
    h, w = clean.shape[-2:]
    if h < size or w < size:
        raise ImageError(f"image {w}x{h} is smaller than the training patch {size}")
    top = int(torch.randint(0, h - size + 1, ()))
    left = int(torch.randint(0, w - size + 1, ()))
    noisy = noisy[:, top : top + size, left : left + size]
    clean = clean[:, top : top + size, left : left + size]
    k = int(torch.randint(0, 4, ()))
    flip = bool(torch.randint(0, 2, ()))
    noisy, clean = (torch.rot90(t, k, dims=(1, 2)) for t in (noisy, clean))
    if flip:
        noisy, clean = noisy.flip(-1), clean.flip(-1)
    return noisy.contiguous(), clean.contiguous()


def match_channels(arr: np.ndarray, channels: int) -> np.ndarray:
    """(H, W, C) -> (H, W, channels): grey repeated to RGB, or RGB averaged to grey."""
    if arr.shape[-1] == channels:
        return arr
    if channels == 3:
        return np.repeat(arr, 3, axis=-1)
    return arr.mean(axis=-1, keepdims=True)


def to_tensor(arr: np.ndarray) -> torch.Tensor:
    """(H, W, C) array -> (C, H, W) float32 tensor."""
    return torch.from_numpy(np.ascontiguousarray(arr.transpose(2, 0, 1))).float()


def to_array(t: torch.Tensor) -> np.ndarray:
    """(C, H, W) tensor -> (H, W, C) float32 array."""
    return t.detach().cpu().float().numpy().transpose(1, 2, 0)
