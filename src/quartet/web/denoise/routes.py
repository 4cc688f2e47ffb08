"""Denoise API: the body of ``POST /api/denoise`` is a PNG or JPEG file; the answer is the denoised PNG.

The upload is read with its size limit checked as it arrives, its type is checked by content
(not by name), its pixel count before it is decoded; then ``quartet.denoise.data.load_image``
validates and decodes it (truncated or corrupt files fail there) from a scratch file that is
deleted at once. Nothing else is written: the denoised PNG is the response body.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.responses import Response

from quartet.web.denoise.models import DenoiseModel, png_bytes
from quartet.web.services import Services, get_denoise, get_services

router = APIRouter(prefix="/api/denoise", tags=["denoise: photos"])
SIGNATURES = {b"\x89PNG\r\n\x1a\n": "png", b"\xff\xd8\xff": "jpeg"}


def image_kind(head: bytes) -> str | None:
    """``"png"`` / ``"jpeg"`` from a file's first bytes, else None.

    >>> image_kind(b"\\x89PNG\\r\\n\\x1a\\n...."), image_kind(b"\\xff\\xd8\\xff\\xe0"), image_kind(b"<svg")
    ('png', 'jpeg', None)
    """
    return next((kind for sig, kind in SIGNATURES.items() if head.startswith(sig)), None)


def output_name(filename: str) -> str:
    """The download's name: the upload's stem in safe characters, ``-denoised.png``.

    >>> output_name("../My photo (1).JPG")
    'My_photo_1-denoised.png'
    """
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", Path(filename.replace("\\", "/")).stem).strip("._") or "photo"
    return f"{stem[:80]}-denoised.png"


async def read_upload(request: Request, limit: int) -> bytes:
    """The request body, refused with 413 as soon as it passes ``limit`` bytes."""
    too_large = HTTPException(413, f"the file is larger than the limit of {limit // (1024 * 1024)} MiB")
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise too_large
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise too_large
        chunks.append(chunk)
    return b"".join(chunks)


def decode(data: bytes, filename: str, max_pixels: int, scratch: Path):
    """float (H, W, C) image of an uploaded PNG/JPEG; HTTP errors say what is wrong with it."""
    import io

    from PIL import Image, UnidentifiedImageError

    from quartet.denoise.data import ImageError, load_image

    if not data:
        raise HTTPException(400, f"{filename}: the file is empty")
    kind = image_kind(data[:8])
    if kind is None:
        raise HTTPException(400, f"{filename}: not a PNG or JPEG image")
    try:
        with Image.open(io.BytesIO(data)) as im:  # reads the header only
            width, height = im.size
    except (UnidentifiedImageError, OSError, SyntaxError, Image.DecompressionBombError):
        raise HTTPException(400, f"{filename}: not a readable {kind.upper()} image") from None
    if width * height > max_pixels:
        raise HTTPException(413, f"{filename}: {width}x{height} is {width * height:,} pixels; "
                                 f"the limit is {max_pixels:,}")
    scratch.mkdir(parents=True, exist_ok=True)
    path = scratch / f"{time.time_ns()}-{id(data)}.{kind}"
    try:
        path.write_bytes(data)
        return load_image(path)
    except ImageError as err:  # the server's file name never reaches the page
        raise HTTPException(400, str(err).replace(str(path), filename)) from None
    finally:
        path.unlink(missing_ok=True)


@router.get("/info", summary="The loaded denoiser and the upload limits")
def info(model: DenoiseModel = Depends(get_denoise), services: Services = Depends(get_services)) -> dict:
    return {**model.info, "max_bytes": services.max_image_bytes, "max_pixels": services.max_image_pixels}


@router.post("", summary="Denoise a PNG or JPEG (the file itself is the body); answers the denoised PNG",
             response_class=Response, responses={200: {"content": {"image/png": {}}}})
async def denoise(request: Request, filename: str = Query("photo.png", max_length=255),
                  model: DenoiseModel = Depends(get_denoise), services: Services = Depends(get_services)) -> Response:
    from starlette.concurrency import run_in_threadpool

    data = await read_upload(request, services.max_image_bytes)
    name = Path(filename.replace("\\", "/")).name or "photo"
    image = await run_in_threadpool(decode, data, name, services.max_image_pixels, services.data_dir / "denoise-tmp")
    started = time.perf_counter()
    out = await run_in_threadpool(model.denoise, image)
    seconds = time.perf_counter() - started
    body = await run_in_threadpool(png_bytes, out)
    h, w = image.shape[:2]
    return Response(body, media_type="image/png", headers={
        "Content-Disposition": f'attachment; filename="{output_name(name)}"',
        "X-Image-Width": str(w), "X-Image-Height": str(h), "X-Denoise-Seconds": f"{seconds:.3f}"})
