"""Atomic file writes: a reader never sees a half-written file.

Under ``torchrun`` every rank runs the same code, and only global rank 0 may write: these
helpers (and ``AppendOnlyJsonl`` / ``write_jsonl``, which use the same check) do nothing on
other ranks, so every pipeline built on them writes its run directory once, from rank 0,
without a rank test of its own. A rank that needs a file rank 0 writes waits at
``distributed.barrier()`` before reading it.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
from pathlib import Path
from typing import Any

from quartet.core.distributed import is_writer

log = logging.getLogger(__name__)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` via a temp file in the same folder and a rename (rank 0 only)."""
    path = Path(path)
    if not is_writer():
        log.debug("not rank 0: skipped writing %s", path)
        return
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: Path, obj: Any) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=False) + "\n")
