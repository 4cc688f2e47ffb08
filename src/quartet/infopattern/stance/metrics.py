"""Stance metrics: accuracy, macro-F1, per-class F1, F_avg and the confusion matrix.

F_avg is the SemEval-2016 Task 6 score: the mean F1 of the favor-like and the against-like
class (``FAVOR_LABELS`` / ``AGAINST_LABELS``: favor/pro/support and against/con/deny),
ignoring the other classes' own F1 (they still count as errors of the two).

>>> m = stance_metrics(["pro", "pro", "con", "con"], ["pro", "con", "con", "con"], ["con", "pro"])
>>> m["accuracy"], round(m["per_class_f1"]["pro"], 4), round(m["per_class_f1"]["con"], 4)
(0.75, 0.6667, 0.8)
>>> round(m["macro_f1"], 4), round(m["f_avg"], 4), m["confusion"]
(0.7333, 0.7333, [[2, 0], [1, 1]])
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from quartet.infopattern.messages import AGAINST_LABELS, FAVOR_LABELS


def f1_for(y_true: Sequence[str], y_pred: Sequence[str], label: str) -> float:
    """F1 of one class; 0 when the class is neither predicted nor present (no credit for nothing)."""
    tp = sum(t == label and p == label for t, p in zip(y_true, y_pred, strict=True))
    fp = sum(t != label and p == label for t, p in zip(y_true, y_pred, strict=True))
    fn = sum(t == label and p != label for t, p in zip(y_true, y_pred, strict=True))
    return 2 * tp / (2 * tp + fp + fn) if tp else 0.0


def polar_labels(labels: Sequence[str]) -> tuple[str | None, str | None]:
    """The favor-like and against-like label among ``labels`` (None when absent)."""
    favor = next((x for x in labels if x.lower() in FAVOR_LABELS), None)
    against = next((x for x in labels if x.lower() in AGAINST_LABELS), None)
    return favor, against


def stance_metrics(y_true: Sequence[str], y_pred: Sequence[str], labels: Sequence[str]) -> dict[str, Any]:
    """All stance metrics; ``confusion[i][j]`` counts gold ``labels[i]`` predicted as ``labels[j]``."""
    if len(y_true) != len(y_pred):
        raise ValueError(f"{len(y_true)} gold labels but {len(y_pred)} predictions")
    if not y_true:
        raise ValueError("no examples to score")
    labels = list(labels)
    per_class = {label: f1_for(y_true, y_pred, label) for label in labels}
    favor, against = polar_labels(labels)
    index = {label: i for i, label in enumerate(labels)}
    confusion = [[0] * len(labels) for _ in labels]
    for t, p in zip(y_true, y_pred, strict=True):
        if t in index and p in index:
            confusion[index[t]][index[p]] += 1
    return {
        "n": len(y_true),
        "accuracy": sum(t == p for t, p in zip(y_true, y_pred, strict=True)) / len(y_true),
        "macro_f1": sum(per_class.values()) / len(per_class),
        "per_class_f1": per_class,
        "f_avg": (per_class[favor] + per_class[against]) / 2 if favor and against else None,
        "labels": labels,
        "confusion": confusion,
    }
