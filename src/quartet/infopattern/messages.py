"""The ``Message`` record every InfoPattern component reads."""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from datetime import datetime
from typing import Any

# Gold labels that mean "for the target" / "against the target" in the supported data sets
# (ArgQ pro/con, Catalonia FAVOR/AGAINST, RumourEval support/deny). Used for F_avg and for
# the numeric community value a switch is trained with.
FAVOR_LABELS = ("favor", "pro", "support")
AGAINST_LABELS = ("against", "con", "deny")


@dataclass(frozen=True)
class Message:
    """One social-media message (post, reply, argument, tweet)."""

    id: str  # unique within a data set
    text: str  # the message body, as written (cleaning is a separate, optional step)
    author: str | None = None  # author handle or id
    community: str | None = None  # ideology / side label of the author's community, e.g. "pro", "left"
    stance: str | None = None  # gold stance label toward ``target``, e.g. "favor", "against", "support"
    target: str | None = None  # topic the stance is about
    created_at: datetime | None = None  # timezone-aware creation time when the source has one
    parent_id: str | None = None  # the message this one replies to or quotes
    source: str | None = None  # which loader / data set produced it
    thread_id: str | None = None  # root message of the conversation (RumourEval: the source tweet)
    lang: str | None = None  # language code when known ("en", "ca", "es")

    def to_json(self) -> dict[str, Any]:
        record = asdict(self)
        record["created_at"] = self.created_at.isoformat() if self.created_at else None
        return record

    @classmethod
    def from_json(cls, record: dict[str, Any]) -> Message:
        """Inverse of ``to_json`` (unknown keys are an error)."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(record) - known)
        if unknown:
            raise ValueError(f"unknown Message fields {unknown}")
        data = dict(record)
        if data.get("created_at"):
            data["created_at"] = datetime.fromisoformat(data["created_at"])
        return cls(**data)


def stance_value(label: str | None) -> float:
    """Numeric side of a stance/community label: +1 favor-like, -1 against-like, 0 otherwise.

    >>> stance_value("pro"), stance_value("AGAINST"), stance_value("comment"), stance_value(None)
    (1.0, -1.0, 0.0, 0.0)
    """
    if label is None:
        return 0.0
    label = label.lower()
    if label in FAVOR_LABELS:
        return 1.0
    if label in AGAINST_LABELS:
        return -1.0
    return 0.0
