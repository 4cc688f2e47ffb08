"""Read a user's message file (JSONL or CSV) for graph discovery.

Columns/keys named like ``Message`` fields (``id``, ``text``, ``author``, ``community``,
``created_at``, ``parent_id``, ``thread_id``, ...) are used; others are ignored. ``text`` is
required. Every record is validated by the InfoPattern loaders, so a bad record raises
``BadRecordError`` naming the file, the line and the field. Message ids must be unique
(reply links refer to them).

>>> import tempfile, pathlib
>>> p = pathlib.Path(tempfile.mkdtemp()) / "m.jsonl"
>>> _ = p.write_text('{"id": "a", "text": "The plant is leaking.", "community": "left"}\\n')
>>> [(m.id, m.community) for m in read_messages(p)]
[('a', 'left')]
"""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from quartet.core.records import BadRecordError
from quartet.infopattern.messages import Message

FORMATS = ("jsonl", "csv")


def message_format(path: Path | str) -> str:
    """``jsonl`` or ``csv`` from the file suffix (``.json`` counts as JSONL)."""
    suffix = Path(path).suffix.lower().lstrip(".")
    fmt = "jsonl" if suffix in ("jsonl", "json", "ndjson") else suffix
    if fmt not in FORMATS:
        raise BadRecordError(path, None, None, "expected a .jsonl or .csv file of messages")
    return fmt


def read_messages(path: Path | str, fmt: str | None = None, max_messages: int | None = None) -> list[Message]:
    """Messages of a JSONL/CSV file, validated; ``max_messages`` refuses larger files."""
    from quartet.infopattern.loaders import MESSAGE_FIELDS, csv_header, load_csv, load_jsonl

    path = Path(path)
    fmt = fmt or message_format(path)
    if not path.is_file():
        raise BadRecordError(path, None, None, "file does not exist")
    if fmt == "csv":
        header = csv_header(path)
        mapping = {f: f for f in MESSAGE_FIELDS if f in header}
        if "text" not in mapping:
            raise BadRecordError(path, 1, "text", f"the CSV header needs a 'text' column (it has {header})")
        messages = load_csv(path, mapping, source="upload")
    else:
        first = next((line for line in path.read_bytes().splitlines() if line.strip()), b"")
        try:
            keys = json.loads(first) if first else {}
        except ValueError:
            keys = {}  # the loader reports the bad line properly
        mapping = {f: f for f in MESSAGE_FIELDS if isinstance(keys, dict) and f in keys}
        mapping.setdefault("text", "text")
        messages = load_jsonl(path, mapping, source="upload")
    if not messages:
        raise BadRecordError(path, None, None, "no messages in the file")
    if max_messages is not None and len(messages) > max_messages:
        raise BadRecordError(path, None, None, f"{len(messages)} messages, more than the limit of {max_messages}")
    ids = Counter(m.id for m in messages)
    dup = next((i for i, n in ids.items() if n > 1), None)
    if dup is not None:
        raise BadRecordError(path, None, "id", f"message id {dup!r} appears {ids[dup]} times; ids must be unique")
    return messages
