"""JSONL reading with errors that name the file, line and field, and append-only results.

``AppendOnlyJsonl`` is how long jobs keep their work: one record per finished unit,
flushed as it is written, so a killed job resumes by skipping the keys it finds. Like the
writers in ``quartet.core.io`` it writes on global rank 0 only (``distributed.is_writer``).
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from quartet.core.distributed import is_writer

log = logging.getLogger(__name__)


class BadRecordError(ValueError):
    """A record in an input file that cannot be used; the message names file, line and field."""

    def __init__(self, path: Path | str, line: int | None, field: str | None, reason: str):
        self.path, self.line, self.field, self.reason = str(path), line, field, reason
        where = f"{path}" + (f", line {line}" if line is not None else "")
        what = f"field {field!r}: " if field else ""
        super().__init__(f"{where}: {what}{reason}")


def iter_jsonl(path: Path | str, whole_lines_only: bool = False) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield ``(line_number, record)`` for each non-blank line; bad JSON raises BadRecordError.

    ``whole_lines_only`` skips a last line without its newline (a record another process is
    still appending) instead of reading it.
    """
    path = Path(path)
    try:
        handle = path.open("rb")
    except FileNotFoundError:
        raise BadRecordError(path, None, None, "file does not exist") from None
    with handle:
        for number, raw in enumerate(handle, start=1):
            if whole_lines_only and not raw.endswith(b"\n"):
                break
            try:
                text = raw.decode("utf-8")
            except UnicodeDecodeError as err:
                raise BadRecordError(path, number, None, f"not UTF-8 text ({err.reason})") from None
            if not text.strip():
                continue
            try:
                record = json.loads(text)
            except json.JSONDecodeError as err:
                raise BadRecordError(path, number, None, f"not valid JSON: {err.msg}") from None
            if not isinstance(record, dict):
                raise BadRecordError(path, number, None, "expected a JSON object")
            yield number, record


def require(record: dict[str, Any], field: str, kind: type | tuple[type, ...], path: Path | str, line: int):
    """Return ``record[field]`` if present and of type ``kind``, else raise BadRecordError.

    ``True`` is not accepted where a number is asked for, though ``bool`` subclasses ``int``.
    """
    if field not in record:
        raise BadRecordError(path, line, field, "missing")
    kinds = kind if isinstance(kind, tuple) else (kind,)
    value = record[field]
    if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
        names = "/".join(k.__name__ for k in kinds)
        raise BadRecordError(path, line, field, f"expected {names}, got {type(value).__name__}")
    return value


class AppendOnlyJsonl:
    """Results file that grows one finished record at a time and survives a kill.

    ``key`` maps a record to its unit of work; ``done()`` lists keys already present,
    so a resumed job skips them. A torn last line (the process died mid-write) is
    dropped on open; a bad line anywhere else is an error, because it means the
    file was edited by hand and the results can no longer be trusted.

    On a rank other than 0 of a distributed job the file is read-only: it is neither
    created nor repaired, a last line that rank 0 is still writing is not read, and
    ``append`` keeps the record in memory only, so ``records()`` and ``done()`` still see
    this rank's own work (a unit rank 0 has also written is returned once, as this rank made it).
    """

    def __init__(self, path: Path | str, key: Callable[[dict[str, Any]], Any]):
        self.path = Path(path)
        self.key = key
        self._unsaved: list[dict[str, Any]] = []  # appended on a non-zero rank: never written
        if is_writer():
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._repair_torn_tail()

    def _repair_torn_tail(self) -> None:
        if not self.path.exists():
            return
        data = self.path.read_bytes()
        if data and not data.endswith(b"\n"):
            keep = data.rfind(b"\n") + 1
            log.warning("%s: dropping a partly written last record (%d bytes)", self.path, len(data) - keep)
            with self.path.open("r+b") as handle:
                handle.truncate(keep)

    def records(self) -> list[dict[str, Any]]:
        saved = [r for _, r in iter_jsonl(self.path, whole_lines_only=not is_writer())] if self.path.exists() else []
        if not self._unsaved:
            return saved
        # A unit may span several records: take each unit whole from one source, this rank's own.
        mine = {self.key(r) for r in self._unsaved}
        return [r for r in saved if self.key(r) not in mine] + self._unsaved

    def done(self) -> set[Any]:
        return {self.key(record) for record in self.records()}

    def append(self, record: dict[str, Any]) -> None:
        if not is_writer():
            self._unsaved.append(record)
            return
        line = json.dumps(record, ensure_ascii=False) + "\n"
        with self.path.open("a", encoding="utf-8") as handle:
            handle.write(line)
            handle.flush()
            os.fsync(handle.fileno())


def write_jsonl(path: Path | str, records: list[dict[str, Any]]) -> None:
    """Write a whole JSONL file atomically."""
    from quartet.core.io import atomic_write_text

    atomic_write_text(Path(path), "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records))
