"""Your-data API: upload a JSONL/CSV file of messages, then poll the background job that analyses it.

The body of ``POST /api/infopattern/uploads?filename=...`` is the file itself (not multipart),
so it is streamed straight into the app's data folder with the size limit checked as it
arrives; nothing is spooled elsewhere on disk.
"""

from __future__ import annotations

import os

from fastapi import APIRouter, Depends, HTTPException, Query, Request

from quartet.web.jobs import UploadError
from quartet.web.services import Services, get_services

router = APIRouter(prefix="/api/infopattern", tags=["infopattern: your data"])


@router.post("/uploads", status_code=202, summary="Upload messages (.jsonl or .csv) and start the analysis")
async def upload(request: Request, filename: str = Query(..., max_length=255),
                 services: Services = Depends(get_services)) -> dict:
    limit = services.max_upload_bytes
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit:
        raise HTTPException(413, f"the file is larger than the limit of {limit // 1024} KiB")
    try:
        job, path = services.jobs.new_job(os.path.basename(filename))
    except UploadError as err:
        raise HTTPException(415, str(err)) from None
    tmp = path.with_suffix(path.suffix + ".part")
    size = 0
    try:
        with tmp.open("wb") as handle:
            async for chunk in request.stream():
                size += len(chunk)
                if size > limit:
                    raise HTTPException(413, f"the file is larger than the limit of {limit // 1024} KiB")
                handle.write(chunk)
        if size == 0:
            raise HTTPException(422, "the file is empty")
        tmp.replace(path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        services.jobs.jobs.pop(job.id, None)
        raise
    services.jobs.submit(job, path)
    return {"job_id": job.id, "bytes": size}


@router.get("/jobs/{job_id}", summary="Progress and result of an analysis job")
def job_status(job_id: str, services: Services = Depends(get_services)) -> dict:
    job = services.jobs.get(job_id)
    if job is None:
        raise HTTPException(404, f"no job {job_id!r}")
    return job.public()
