"""The one interface every stance detector implements, scikit-learn style.

``fit(messages, y=None)`` returns ``self``; ``y`` defaults to each message's gold ``stance``.
``predict(messages) -> list[str]``, ``predict_proba(messages) -> (N, C)`` over ``classes_``.
Learned attributes end in ``_``. ``save(directory)`` writes ``detector.json`` (kind + parameters +
small learned values) and ``*.safetensors`` for arrays; ``load_detector(directory)`` reads them back.
Nothing is pickled.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from quartet.core.io import atomic_write_json
from quartet.infopattern.messages import Message


@runtime_checkable
class StanceDetector(Protocol):
    classes_: list[str]

    def fit(self, messages: Sequence[Message], y: Sequence[str] | None = None) -> StanceDetector: ...
    def predict_proba(self, messages: Sequence[Message]) -> np.ndarray: ...
    def predict(self, messages: Sequence[Message]) -> list[str]: ...
    def save(self, directory: Path | str) -> None: ...


def gold_labels(messages: Sequence[Message], y: Sequence[str] | None) -> list[str]:
    """``y`` if given, else the messages' ``stance``; every message must have one."""
    if y is not None:
        if len(y) != len(messages):
            raise ValueError(f"{len(messages)} messages but {len(y)} labels")
        return [str(v) for v in y]
    missing = [m.id for m in messages if m.stance is None]
    if missing:
        raise ValueError(f"{len(missing)} messages have no stance label (first: {missing[0]!r}); pass y=")
    return [m.stance for m in messages]  # type: ignore[misc]


def check_fit_input(messages: Sequence[Message], labels: list[str]) -> list[str]:
    if not messages:
        raise ValueError("cannot fit a stance detector on zero messages")
    classes = sorted(set(labels))
    if len(classes) < 2:
        raise ValueError(f"need at least two stance classes to fit, got {classes}")
    return classes


def argmax_labels(proba: np.ndarray, classes: Sequence[str]) -> list[str]:
    return [classes[i] for i in np.asarray(proba).argmax(axis=1)]


def write_detector_json(directory: Path, kind: str, params: dict[str, Any], learned: dict[str, Any]) -> None:
    atomic_write_json(directory / "detector.json", {"kind": kind, "params": params, "learned": learned})


def read_detector_json(directory: Path | str, kind: str | None = None) -> dict[str, Any]:
    """``detector.json`` of a saved detector, checked; with ``kind``, it must hold that kind."""
    path = Path(directory) / "detector.json"
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: {directory} is not a saved stance detector")
    meta = json.loads(path.read_text(encoding="utf-8"))
    for key in ("kind", "params", "learned"):
        if key not in meta:
            raise ValueError(f"{path}: field {key!r} missing")
    if kind is not None and meta["kind"] != kind:
        raise ValueError(f"{directory} holds a {meta['kind']!r} detector, not {kind!r}")
    return meta
