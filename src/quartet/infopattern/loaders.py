"""Loaders that turn files into ``Message`` records, validating every record.

Generic: ``load_jsonl`` and ``load_csv`` with a column mapping (``{"text": "body", "id": "tweet_id"}``:
Message field -> column). Data sets in ``$QUARTET_DATA/social`` (default ``../shared/data/social``):
``load_argq`` (IBM ArgQ-30k, pro/con on 71 topics), ``load_rumoureval`` (SemEval-2017 Task 8 threads,
SDQC stance, timestamps, reply tree from ``structure.json``), ``load_catalonia`` (CIC, Catalan and
Spanish tweets, FAVOR/AGAINST/NEUTRAL). ``load_dataset(name, split)`` picks one by name.

Bad input (each has a test):

* a file that is not UTF-8: ``BadRecordError`` naming the line;
* a missing column / field: ``BadRecordError`` naming it (and the columns that are there);
* an empty or whitespace-only text: ``BadRecordError``;
* a text longer than ``max_chars`` (10,000 by default): with ``on_long="truncate"`` (the default) it is
  cut to ``max_chars`` characters and the count of cut texts is logged; with ``on_long="error"`` it is
  a ``BadRecordError``;
* ``skip_bad=True`` skips bad records instead (counted in the log), as ``--skip-bad`` does on the CLI.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from quartet.core.records import BadRecordError, iter_jsonl
from quartet.infopattern.messages import Message

log = logging.getLogger(__name__)

MAX_CHARS = 10_000
MESSAGE_FIELDS = tuple(f.name for f in fields(Message))
TWITTER_TIME = "%a %b %d %H:%M:%S %z %Y"  # "Tue Mar 24 10:43:44 +0000 2015"


def social_root() -> Path:
    """Where the social data sets live: ``$QUARTET_DATA/social`` or ``../shared/data/social``."""
    return Path(os.environ.get("QUARTET_DATA", "../shared/data")) / "social"


@dataclass
class TextPolicy:
    """How texts are checked; counts what it did so loaders can log it."""

    max_chars: int = MAX_CHARS  # longest accepted text
    on_long: Literal["truncate", "error"] = "truncate"  # what happens to a longer text
    truncated: int = field(default=0, init=False)

    def check(self, text: Any, path: Path | str, line: int | None, column: str) -> str:
        if not isinstance(text, str):
            raise BadRecordError(path, line, column, f"expected text, got {type(text).__name__}")
        if not text.strip():
            raise BadRecordError(path, line, column, "empty text")
        if len(text) > self.max_chars:
            if self.on_long == "error":
                raise BadRecordError(
                    path, line, column, f"text has {len(text)} characters, more than the limit {self.max_chars}"
                )
            self.truncated += 1
            text = text[: self.max_chars]
        return text


def _parse_time(value: Any, path: Path | str, line: int | None, column: str) -> datetime | None:
    """ISO 8601, Twitter's format, or Unix seconds; naive times are taken as UTC."""
    if value is None or value == "":
        return None
    try:
        if isinstance(value, int | float) and not isinstance(value, bool):
            return datetime.fromtimestamp(float(value), tz=UTC)
        text = str(value)
        try:
            parsed = datetime.fromisoformat(text)
        except ValueError:
            parsed = datetime.strptime(text, TWITTER_TIME)
    except (ValueError, OverflowError, OSError):
        raise BadRecordError(path, line, column, f"not a time: {value!r}") from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _check_mapping(mapping: dict[str, str]) -> None:
    unknown = sorted(set(mapping) - set(MESSAGE_FIELDS))
    if unknown:
        raise ValueError(f"column mapping names unknown Message fields {unknown} (known: {list(MESSAGE_FIELDS)})")
    if "text" not in mapping:
        raise ValueError("column mapping must say which column holds the text ({'text': ...})")


def _to_message(
    row: dict[str, Any], mapping: dict[str, str], path: Path | str, line: int, policy: TextPolicy, source: str
) -> Message:
    values: dict[str, Any] = {}
    for name, column in mapping.items():
        if column not in row:
            raise BadRecordError(path, line, column, f"missing (wanted for Message.{name})")
        values[name] = row[column]
    values["text"] = policy.check(values["text"], path, line, mapping["text"])
    if "created_at" in values:
        values["created_at"] = _parse_time(values["created_at"], path, line, mapping["created_at"])
    for name in MESSAGE_FIELDS:
        if name not in ("text", "created_at") and values.get(name) not in (None, ""):
            values[name] = str(values[name])
        elif name in values and values[name] == "":
            values[name] = None
    values.setdefault("id", f"{Path(path).stem}:{line}")
    values.setdefault("source", source)
    return Message(**values)


def _collect(
    rows: Iterator[tuple[int, dict[str, Any]]],
    build: Callable[[int, dict[str, Any]], Message],
    path: Path | str,
    skip_bad: bool,
    policy: TextPolicy,
) -> list[Message]:
    out, skipped = [], 0
    for line, row in rows:
        try:
            out.append(build(line, row))
        except BadRecordError as err:
            if not skip_bad:
                raise
            skipped += 1
            log.warning("skipping bad record: %s", err)
    if skipped:
        log.warning("%s: skipped %d bad records", path, skipped)
    if policy.truncated:
        log.warning("%s: truncated %d texts to %d characters", path, policy.truncated, policy.max_chars)
    if not out:
        raise BadRecordError(path, None, None, "no messages (the file is empty or every record was bad)")
    return out


def load_jsonl(
    path: Path | str,
    mapping: dict[str, str] | None = None,
    skip_bad: bool = False,
    policy: TextPolicy | None = None,
    source: str = "jsonl",
) -> list[Message]:
    """Messages from a JSONL file; ``mapping`` defaults to the Message field names themselves."""
    mapping = dict(mapping or {"text": "text"})
    _check_mapping(mapping)
    policy = policy or TextPolicy()
    return _collect(
        iter_jsonl(path), lambda line, row: _to_message(row, mapping, path, line, policy, source),
        path, skip_bad, policy,
    )


def read_text_strict(path: Path | str) -> str:
    """The whole file as UTF-8 (a leading BOM is dropped); anything else names the bad line."""
    path = Path(path)
    if not path.is_file():
        raise BadRecordError(path, None, None, "file does not exist")
    data = path.read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = data[: err.start].count(b"\n") + 1
        raise BadRecordError(path, line, None, f"not UTF-8 text ({err.reason} at byte {err.start})") from None


def iter_csv(path: Path | str, delimiter: str = ",") -> Iterator[tuple[int, dict[str, str]]]:
    """``(line, row)`` for each CSV record; ``line`` is where the record starts (header is line 1)."""
    text = read_text_strict(path)
    if not text.strip():
        raise BadRecordError(path, None, None, "file is empty")
    reader = csv.DictReader(io.StringIO(text, newline=""), delimiter=delimiter)
    header = reader.fieldnames or []
    start = reader.line_num + 1
    try:
        for row in reader:
            if None in row:  # more cells than header columns
                raise BadRecordError(path, start, None, f"{len(header) + len(row[None])} cells, header has {len(header)}")
            yield start, row
            start = reader.line_num + 1
    except csv.Error as err:
        raise BadRecordError(path, reader.line_num, None, f"not valid CSV: {err}") from None


def csv_header(path: Path | str, delimiter: str = ",") -> list[str]:
    first = read_text_strict(path).splitlines()[:1]
    return next(csv.reader(first, delimiter=delimiter), []) if first else []


def load_csv(
    path: Path | str,
    mapping: dict[str, str] | None = None,
    delimiter: str = ",",
    skip_bad: bool = False,
    policy: TextPolicy | None = None,
    source: str = "csv",
) -> list[Message]:
    """Messages from a CSV/TSV file with a header; a mapped column missing from the header is an error."""
    mapping = dict(mapping or {"text": "text"})
    _check_mapping(mapping)
    policy = policy or TextPolicy()
    header = csv_header(path, delimiter)
    missing = [c for c in mapping.values() if c not in header]
    if missing:
        raise BadRecordError(path, 1, missing[0], f"column missing from the header (header has {header})")
    return _collect(
        iter_csv(path, delimiter), lambda line, row: _to_message(row, mapping, path, line, policy, source),
        path, skip_bad, policy,
    )


# ---- data sets -------------------------------------------------------------------------------------


def load_argq(split: str = "dev", root: Path | None = None, policy: TextPolicy | None = None) -> list[Message]:
    """IBM ArgQ-30k ``train``/``dev`` rows: stance ``pro``/``con`` (from ``stance_WA``) toward the topic."""
    path = (root or social_root()) / "ibm_debater" / "arg_quality_rank_30k.train_dev.csv"
    if split not in ("train", "dev"):
        raise ValueError(f"ArgQ split {split!r}: this copy has 'train' and 'dev'")
    policy = policy or TextPolicy()
    header = csv_header(path)
    for column in ("argument", "topic", "set", "stance_WA"):
        if column not in header:
            raise BadRecordError(path, 1, column, f"column missing from the header (header has {header})")

    def build(line: int, row: dict[str, str]) -> Message:
        side = {"1": "pro", "-1": "con"}.get(row["stance_WA"].strip())
        if side is None:
            raise BadRecordError(path, line, "stance_WA", f"expected 1 or -1, got {row['stance_WA']!r}")
        return Message(
            id=f"argq-{line}", text=policy.check(row["argument"], path, line, "argument"), community=side,
            stance=side, target=row["topic"], source="argq", lang="en",
        )

    rows = ((line, row) for line, row in iter_csv(path) if row["set"] == split)
    return _collect(rows, build, path, False, policy)


def load_catalonia(
    split: str = "val", lang: str = "both", root: Path | None = None, policy: TextPolicy | None = None
) -> list[Message]:
    """Catalonia Independence Corpus: ``favor``/``against``/``neutral`` toward Catalan independence.

    ``lang`` is ``catalan``, ``spanish`` or ``both``; split ``train`` or ``val`` (``dev`` means ``val``).
    The mangled float-notation ids of the source are kept as they are, prefixed with the file name.
    """
    split = "val" if split == "dev" else split
    langs = ("catalan", "spanish") if lang == "both" else (lang,)
    policy = policy or TextPolicy()
    out: list[Message] = []
    for name in langs:
        if name not in ("catalan", "spanish"):
            raise ValueError(f"Catalonia language {name!r}: expected catalan, spanish or both")
        path = (root or social_root()) / "catalonia_independence" / f"{name}_{split}.csv"
        header = csv_header(path, "\t")
        for column in ("id_str", "TWEET", "LABEL"):
            if column not in header:
                raise BadRecordError(path, 1, column, f"column missing from the header (header has {header})")

        def build(line: int, row: dict[str, str], path: Path = path, name: str = name) -> Message:
            label = row["LABEL"].strip().lower()
            if label not in ("favor", "against", "neutral"):
                raise BadRecordError(path, line, "LABEL", f"expected FAVOR/AGAINST/NEUTRAL, got {row['LABEL']!r}")
            return Message(
                id=f"{name}_{split}-{line}-{row['id_str']}", text=policy.check(row["TWEET"], path, line, "TWEET"),
                community=label, stance=label, target="Catalan independence", source="catalonia",
                lang={"catalan": "ca", "spanish": "es"}[name],
            )

        out += _collect(iter_csv(path, "\t"), build, path, False, policy)
    return out


def _walk_tree(tree: dict[str, Any], parent: str | None) -> Iterator[tuple[str, str | None]]:
    for node, children in tree.items():
        yield str(node), parent
        if isinstance(children, dict):
            yield from _walk_tree(children, str(node))


def load_rumoureval(split: str = "dev", root: Path | None = None, policy: TextPolicy | None = None) -> list[Message]:
    """RumourEval 2017 threads: every annotated tweet, with SDQC stance toward its thread's source tweet.

    ``target`` is the source tweet's text (the rumour), ``parent_id`` comes from ``structure.json``
    (falling back to ``in_reply_to_status_id``), ``thread_id`` is the source tweet, ``community`` the event.
    """
    base = (root or social_root()) / "rumoureval2017"
    labels_path = base / f"{split}-annotations" / "subtaskA.json"
    if not labels_path.is_file():
        raise BadRecordError(labels_path, None, None, "file does not exist (RumourEval splits: train, dev)")
    labels: dict[str, str] = json.loads(read_text_strict(labels_path))
    policy = policy or TextPolicy()
    out: list[Message] = []
    for thread_dir in sorted(p for p in (base / split).glob("*/*") if p.is_dir()):
        structure_path = thread_dir / "structure.json"
        try:
            structure = json.loads(read_text_strict(structure_path))
        except json.JSONDecodeError as err:
            raise BadRecordError(structure_path, err.lineno, None, f"not valid JSON: {err.msg}") from None
        parents = dict(_walk_tree(structure, None))
        tweets: dict[str, dict[str, Any]] = {}
        for sub in ("source-tweet", "replies"):
            for path in sorted((thread_dir / sub).glob("*.json")):
                tweets[path.stem] = {"path": path, **json.loads(read_text_strict(path))}
        source_id = thread_dir.name
        if source_id not in tweets:
            raise BadRecordError(thread_dir, None, "source-tweet", "thread has no source tweet file")
        rumour = tweets[source_id]["text"]
        for tweet_id, tweet in tweets.items():
            if tweet_id not in labels:
                continue
            path = tweet["path"]
            for key in ("text", "created_at"):
                if key not in tweet:
                    raise BadRecordError(path, None, key, "missing")
            parent = parents.get(tweet_id) or tweet.get("in_reply_to_status_id_str")
            out.append(Message(
                id=tweet_id, text=policy.check(tweet["text"], path, None, "text"),
                author=str(tweet.get("user", {}).get("id_str") or tweet.get("user", {}).get("id") or "") or None,
                community=thread_dir.parent.name, stance=labels[tweet_id], target=rumour,
                created_at=_parse_time(tweet["created_at"], path, None, "created_at"),
                parent_id=None if tweet_id == source_id else parent, source="rumoureval",
                thread_id=source_id, lang=tweet.get("lang"),
            ))
    if not out:
        raise BadRecordError(base / split, None, None, "no annotated tweets found")
    return out


# name -> loader(split, root); a plain dict, as the house rules ask.
DATASETS: dict[str, Callable[..., list[Message]]] = {
    "argq": lambda split, root=None: load_argq(split, root),
    "rumoureval": lambda split, root=None: load_rumoureval(split, root),
    "catalonia": lambda split, root=None: load_catalonia(split, "both", root),
    "catalonia_ca": lambda split, root=None: load_catalonia(split, "catalan", root),
    "catalonia_es": lambda split, root=None: load_catalonia(split, "spanish", root),
}


def load_dataset(name: str, split: str, root: Path | None = None) -> list[Message]:
    if name not in DATASETS:
        raise ValueError(f"unknown data set {name!r} (known: {sorted(DATASETS)})")
    return DATASETS[name](split, root)


def dataset_available(name: str, root: Path | None = None) -> bool:
    base = root or social_root()
    folder = {"argq": "ibm_debater", "rumoureval": "rumoureval2017"}.get(name, "catalonia_independence")
    return (base / folder).is_dir()
