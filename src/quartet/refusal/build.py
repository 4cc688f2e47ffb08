"""Refusal-aware training data: Vanilla, R-Tuning, R-Tuning-R, R-Tuning-U.

Each builder maps ``QAItem``s to records with ``prompt`` and
``response`` (the loss is on the response). R-Tuning keeps the gold answer for both D1
and D0 and appends the certainty question with "I am sure." / "I am unsure.";
R-Tuning-R replaces D0's answer by a refusal phrase; R-Tuning-U needs no labels: the
entropy of K sampled answers ranks the questions, the lower half are "sure".

>>> entropy_of_answers(["a", "a", "b", "b"]) == math.log(2)
True
>>> entropy_split({"q1": ["a", "a"], "q2": ["a", "b"], "q3": ["c", "c"], "q4": ["a", "b"]})
{'q1': True, 'q2': False, 'q3': True, 'q4': False}
"""

from __future__ import annotations

import math
import random
from collections import Counter
from collections.abc import Mapping, Sequence
from typing import Any

from quartet.refusal.certainty import certainty_suffix
from quartet.refusal.data import QAItem
from quartet.refusal.matching import normalize

METHODS = ("vanilla", "rtuning", "rtuning_r", "rtuning_u")
DEFAULT_REFUSALS = ("I don't know the answer.", "I'm not sure.", "I cannot answer that.")


def _record(item: QAItem, response: str, label: str | None) -> dict[str, Any]:
    return {"id": item.id, "prompt": item.prompt, "response": response, "label": label}


def _answer(item: QAItem) -> str:
    answer = item.target.strip()
    return answer if answer.endswith((".", "!", "?")) else answer + "."


def build_vanilla(items: Sequence[QAItem]) -> list[dict[str, Any]]:
    """Plain question–answer tuning."""
    return [_record(it, f" {_answer(it)}", None) for it in items]


def build_rtuning(items: Sequence[QAItem], certain: Mapping[str, bool]) -> list[dict[str, Any]]:
    """Gold answer + "I am sure." for D1 (``certain[id]``), + "I am unsure." for D0."""
    out = []
    for it in items:
        sure = bool(certain[it.id])
        out.append(_record(it, f" {_answer(it)}{certainty_suffix(sure)}", "sure" if sure else "unsure"))
    return out


def build_rtuning_r(
    items: Sequence[QAItem],
    certain: Mapping[str, bool],
    refusals: Sequence[str] = DEFAULT_REFUSALS,
    seed: int = 0,
) -> list[dict[str, Any]]:
    """Like R-Tuning, but D0's answer is a refusal phrase drawn (seeded) from ``refusals``."""
    if not refusals:
        raise ValueError("R-Tuning-R needs at least one refusal phrase")
    rng = random.Random(seed)
    out = []
    for it in items:
        sure = bool(certain[it.id])
        answer = _answer(it) if sure else rng.choice(list(refusals)).strip()
        out.append(_record(it, f" {answer}{certainty_suffix(sure)}", "sure" if sure else "unsure"))
    return out


def entropy_of_answers(answers: Sequence[str]) -> float:
    """Entropy (nats) of the empirical distribution of distinct normalized answers; empty -> 0."""
    counts = Counter(normalize(a or "") for a in answers)
    n = sum(counts.values())
    return -sum(c / n * math.log(c / n) for c in counts.values()) if n else 0.0


def entropy_split(samples: Mapping[str, Sequence[str]]) -> dict[str, bool]:
    """R-Tuning-U's labels: rank questions by answer entropy (ties keep input order); the
    lower half (``n // 2`` questions) is sure, the rest unsure."""
    ids = list(samples)
    order = sorted(range(len(ids)), key=lambda i: (entropy_of_answers(samples[ids[i]]), i))
    sure = set(order[: len(ids) // 2])
    return {qid: i in sure for i, qid in enumerate(ids)}


def build_rtuning_u(items: Sequence[QAItem], samples: Mapping[str, Sequence[str]]):
    """R-Tuning with the entropy split in place of probe correctness."""
    return build_rtuning(items, entropy_split({it.id: samples[it.id] for it in items}))


def to_text(record: Mapping[str, Any]) -> str:
    return f"{record['prompt']}{record['response']}"


def lmflow_text_only(records: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """LMFlow's ``text_only`` dataset: ``{"type": "text_only", "instances": [{"text": ...}]}``."""
    return {"type": "text_only", "instances": [{"text": to_text(r)} for r in records]}
