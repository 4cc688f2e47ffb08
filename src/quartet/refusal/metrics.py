"""Metrics of confidence: AP, AUROC, ECE, answer/refusal rates, risk–coverage.

All take ``correct`` (0/1 per question) and a confidence per question in [0, 1]. They are
pure functions of numpy-convertible sequences. Undefined values (AP with no correct answer,
AUROC with one class, accuracy when nothing is answered) are ``nan``, never an exception.

>>> average_precision([1, 0, 1, 0], [0.9, 0.8, 0.7, 0.1])
0.8333333333333333
>>> round(expected_calibration_error([1, 0], [0.95, 0.25]), 6)  # (0.05 + 0.25) / 2
0.15
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from sklearn.metrics import average_precision_score, roc_auc_score


def _arrays(correct: Sequence, confidence: Sequence) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(correct, dtype=np.int64)
    c = np.asarray(confidence, dtype=np.float64)
    if y.shape != c.shape or y.ndim != 1:
        raise ValueError(f"correct and confidence must be 1-d and equally long, got {y.shape} and {c.shape}")
    if not np.isin(y, (0, 1)).all():
        raise ValueError("correct must hold only 0 and 1")
    if np.isnan(c).any():
        raise ValueError("confidence holds NaN")
    return y, c


def average_precision(correct: Sequence, confidence: Sequence) -> float:
    """AP of ranking correct answers first by confidence (``sklearn.metrics.average_precision_score``)."""
    y, c = _arrays(correct, confidence)
    if y.sum() == 0:
        return math.nan
    return float(average_precision_score(y, c))


def auroc(correct: Sequence, confidence: Sequence) -> float:
    y, c = _arrays(correct, confidence)
    if len(y) == 0 or y.min() == y.max():
        return math.nan
    return float(roc_auc_score(y, c))


def expected_calibration_error(correct: Sequence, confidence: Sequence, n_bins: int = 10) -> float:
    """Sum over equal-width bins of (bin share) x |accuracy - mean confidence|.

    Bin b holds confidences in [b/n, (b+1)/n); a confidence of exactly 1 goes to the last bin.
    """
    y, c = _arrays(correct, confidence)
    if len(y) == 0:
        return math.nan
    bins = np.minimum((c * n_bins).astype(np.int64), n_bins - 1)
    total = 0.0
    for b in range(n_bins):
        sel = bins == b
        if sel.any():
            total += sel.mean() * abs(y[sel].mean() - c[sel].mean())
    return float(total)


def answer_stats(correct: Sequence, p_sure: Sequence, threshold: float = 0.5) -> dict[str, float]:
    """The model answers when P(sure) > threshold: answer rate and accuracy on what it answers."""
    y, p = _arrays(correct, p_sure)
    answered = p > threshold
    return {
        "answer_rate": float(answered.mean()) if len(y) else math.nan,
        "accuracy_answered": float(y[answered].mean()) if answered.any() else math.nan,
    }


def rate(flags: Sequence[bool]) -> float:
    """Share of True (e.g. refusals on unanswerable questions); nan for no questions."""
    arr = np.asarray(flags, dtype=bool)
    return float(arr.mean()) if len(arr) else math.nan


def risk_coverage(correct: Sequence, confidence: Sequence) -> tuple[np.ndarray, np.ndarray]:
    """Answer the k most confident questions, k = 1..n: coverage k/n and risk (error rate) among them.

    >>> cov, risk = risk_coverage([1, 0, 1], [0.9, 0.2, 0.5])
    >>> cov.round(3).tolist(), risk.round(3).tolist()
    ([0.333, 0.667, 1.0], [0.0, 0.0, 0.333])
    """
    y, c = _arrays(correct, confidence)
    order = np.argsort(-c, kind="stable")
    k = np.arange(1, len(y) + 1)
    risk = 1.0 - np.cumsum(y[order]) / k
    return k / len(y), risk


def mean_risk_at_coverage(runs: Sequence[tuple[Sequence, Sequence]], grid: Sequence[float]) -> np.ndarray:
    """Mean over runs (e.g. tuning seeds) of each run's risk at every coverage c of ``grid``, in (0, 1]:
    the risk when its ceil(c·n) most confident questions of n are answered. Runs may differ in n
    (a common grid is what makes them averageable); each needs at least one question.

    >>> runs = [([1, 0], [0.9, 0.1]), ([0, 1, 1, 1], [0.9, 0.8, 0.7, 0.6])]
    >>> mean_risk_at_coverage(runs, [0.5, 1.0]).tolist()  # ([0, 1/2] + [1/2, 1/4]) / 2
    [0.25, 0.375]
    """
    c = np.asarray(grid, dtype=np.float64)
    curves = []
    for correct, confidence in runs:
        _, risk = risk_coverage(correct, confidence)
        # rounded first: linspace's 0.7000000000000001 of 10 questions is 7 answered, not ceil(7.000000000000001)
        k = np.clip(np.ceil(np.round(c * len(risk), 9)).astype(np.int64), 1, len(risk))
        curves.append(risk[k - 1])
    return np.mean(curves, axis=0)


def area_under_risk_coverage(correct: Sequence, confidence: Sequence) -> float:
    """Mean risk over coverages 1/n..1 (lower is better)."""
    _, risk = risk_coverage(correct, confidence)
    return float(risk.mean()) if len(risk) else math.nan


def confidence_report(correct: Sequence, confidence: Sequence) -> dict[str, float]:
    """AP, AUROC, ECE and AURC of one confidence."""
    return {
        "ap": average_precision(correct, confidence),
        "auroc": auroc(correct, confidence),
        "ece": expected_calibration_error(correct, confidence),
        "aurc": area_under_risk_coverage(correct, confidence),
    }
