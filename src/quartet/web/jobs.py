"""Uploaded message files and the background jobs that analyse them.

An upload is streamed to ``<data_dir>/uploads/<job id>.<jsonl|csv>``: the name is made by
the server (the user's file name is only used for its extension and in messages), and
reading stops with an error as soon as the size limit is passed. A job parses the file
with the InfoPattern loaders (every record validated), runs stance detection when a
stance model is loaded, builds the claim graph, and stores both; ``progress`` goes from 0
to 1 through named stages. Errors shown to the user say what is wrong with their file;
anything unexpected is logged and reported as an internal error, never as a trace.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from quartet.core.io import atomic_write_json
from quartet.core.records import BadRecordError

log = logging.getLogger(__name__)
EXTENSIONS = ("jsonl", "csv")


class UploadError(ValueError):
    """A problem with the user's file; the message is safe to show."""


@dataclass
class Job:
    id: str
    filename: str
    state: str = "queued"  # queued | running | done | error
    stage: str = "waiting"
    progress: float = 0.0
    error: str | None = None
    result: dict[str, Any] = field(default_factory=dict)

    def public(self) -> dict[str, Any]:
        return {"id": self.id, "filename": self.filename, "state": self.state, "stage": self.stage,
                "progress": round(self.progress, 3), "error": self.error, "result": self.result}


def upload_extension(filename: str) -> str:
    ext = filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
    if ext not in EXTENSIONS:
        raise UploadError(f"{filename!r}: upload a .jsonl or .csv file")
    return ext


def parse_messages(path: Path, ext: str, shown_name: str, max_messages: int) -> list:
    """Messages from the saved upload; errors name the user's file, the line and the field (not the server path)."""
    from quartet.infopattern.graph.io import read_messages

    try:
        return read_messages(path, ext, max_messages)
    except BadRecordError as err:
        where = f"line {err.line}" if err.line is not None else "file"
        what = f", field {err.field!r}" if err.field else ""
        raise UploadError(f"{shown_name}, {where}{what}: {err.reason}") from None


class JobManager:
    """One worker thread runs jobs in order; status is read by polling ``get``."""

    def __init__(self, services: Any):
        self.services = services
        self.jobs: dict[str, Job] = {}
        self.lock = threading.Lock()
        self.pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="quartet-job")

    def shutdown(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)

    def upload_dir(self) -> Path:
        folder = Path(self.services.data_dir).resolve() / "uploads"
        folder.mkdir(parents=True, exist_ok=True)
        return folder

    def new_job(self, filename: str) -> tuple[Job, Path]:
        ext = upload_extension(filename)
        job = Job(id=uuid.uuid4().hex[:12], filename=filename[-200:])
        with self.lock:
            self.jobs[job.id] = job
        return job, self.upload_dir() / f"{job.id}.{ext}"

    def get(self, job_id: str) -> Job | None:
        with self.lock:
            return self.jobs.get(job_id)

    def submit(self, job: Job, path: Path) -> None:
        self.pool.submit(self._run, job, path)

    def _stage(self, job: Job, stage: str, progress: float) -> None:
        job.stage, job.progress = stage, progress

    def _run(self, job: Job, path: Path) -> None:
        from quartet.infopattern.graph import GraphConfig, build_graph_for_messages

        job.state = "running"
        try:
            self._stage(job, "reading and checking the file", 0.05)
            messages = parse_messages(path, path.suffix.lstrip("."), job.filename,
                                      self.services.max_upload_messages)
            result: dict[str, Any] = {"messages": len(messages)}
            stance = self.services.stance
            if stance is not None:
                self._stage(job, "stance detection", 0.2)
                rows = stance.analyze([m.text for m in messages], None)
                labels = Counter(stance.bins[max(range(len(r["probs"])), key=r["probs"].__getitem__)] for r in rows)
                result["stance"] = {"bins": list(stance.bins),
                                    "counts": [labels.get(b, 0) for b in stance.bins]}
            self._stage(job, "claims, clusters and the propagation graph", 0.5)
            graph = build_graph_for_messages(messages, self.services.embedder, GraphConfig())
            graph_id = f"upload.{job.id}"
            self.services.graphs.add(graph_id, graph, f"upload: {job.filename}")
            atomic_write_json(path.parent.parent / "jobs" / job.id / "graph.json", graph)
            result.update(graph_id=graph_id, claims=graph["meta"]["claims"], clusters=graph["meta"]["clusters"])
            job.result = result
            self._stage(job, "done", 1.0)
            job.state = "done"
        except UploadError as err:
            job.state, job.error = "error", str(err)
        except Exception:  # never a trace to the page; the log has it
            log.exception("job %s failed", job.id)
            job.state, job.error = "error", "internal error while analysing the file (see the server log)"
