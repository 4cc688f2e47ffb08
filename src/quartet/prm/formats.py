"""Files the PRM pipeline reads and writes.

* solutions JSONL: sampled candidates, ``{"solution_id", "problem_id", "prompt", "steps", "answer", "gold", "correct"}``;
* rollouts JSONL (append-only, resumable): one record per step prefix,
  ``{"key", "solution_id", "step", "completions", "answers", "outcomes"}``;
* labels JSONL: ``{"solution_id", "problem_id", "prompt", "steps", "labels", "final_correct"}``;
* exports: OpenRLHF / ER-PRM-Data style ``{"text", "value"}`` and TRL PRM ``{"prompt", "completions", "labels"}``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from quartet.core.records import AppendOnlyJsonl, BadRecordError, iter_jsonl, require
from quartet.prm.labels import label_steps

STEP_TAG = " ки"  # the step tag of Math-Shepherd / ER-PRM data


def rollout_key(solution_id: str, step: int) -> str:
    return f"{solution_id}/{step}"


def rollout_store(path: Path | str) -> AppendOnlyJsonl:
    return AppendOnlyJsonl(path, key=lambda r: r["key"])


def _check_list(record: dict, field: str, kind: type | tuple, path: Path | str, line: int) -> list:
    values = require(record, field, list, path, line)
    kinds = kind if isinstance(kind, tuple) else (kind,)
    for v in values:
        if not isinstance(v, kinds) or (isinstance(v, bool) and bool not in kinds):
            raise BadRecordError(path, line, field, f"every entry must be {'/'.join(k.__name__ for k in kinds)}")
    return values


def read_solutions(path: Path | str) -> list[dict[str, Any]]:
    out = []
    for line, r in iter_jsonl(path):
        for name in ("solution_id", "problem_id", "prompt", "gold"):
            require(r, name, str, path, line)
        _check_list(r, "steps", str, path, line)
        require(r, "correct", bool, path, line)
        if r.get("answer") is not None and not isinstance(r["answer"], str):
            raise BadRecordError(path, line, "answer", "expected str or null")
        out.append(r)
    return out


def read_rollouts(path: Path | str) -> dict[str, dict[str, Any]]:
    """Rollout records by key; validates each line."""
    out = {}
    for line, r in iter_jsonl(path):
        key = require(r, "key", str, path, line)
        require(r, "solution_id", str, path, line)
        require(r, "step", int, path, line)
        outcomes = _check_list(r, "outcomes", (int, float), path, line)
        if not outcomes or any(o not in (0, 1) for o in outcomes):
            raise BadRecordError(path, line, "outcomes", "expected a non-empty list of 0/1")
        out[key] = r
    return out


def read_labels(path: Path | str) -> list[dict[str, Any]]:
    out = []
    for line, r in iter_jsonl(path):
        require(r, "solution_id", str, path, line)
        require(r, "prompt", str, path, line)
        steps = _check_list(r, "steps", str, path, line)
        # None marks a step without a label (ORM data labels only the last step).
        labels = _check_list(r, "labels", (int, float, type(None)), path, line)
        if len(steps) != len(labels) or not steps:
            raise BadRecordError(path, line, "labels", f"{len(labels)} labels for {len(steps)} steps")
        if any(x is not None and not 0 <= x <= 1 for x in labels):
            raise BadRecordError(path, line, "labels", "labels must lie in [0, 1]")
        out.append(r)
    return out


def build_labels(solutions: Sequence[dict], rollouts: dict[str, dict], method: str, eta: float = 1.0,
                 last_from_final: bool = True) -> list[dict[str, Any]]:
    """Labels for every solution whose step prefixes all have rollouts (the last one may be
    missing when ``last_from_final``: it is labelled by the final answer)."""
    out = []
    for s in solutions:
        n = len(s["steps"])
        needed = n - 1 if last_from_final else n
        outcomes = []
        for j in range(needed):
            record = rollouts.get(rollout_key(s["solution_id"], j))
            if record is None:
                raise ValueError(f"no rollouts for {s['solution_id']} step {j}; run the rollout stage first")
            outcomes.append(record["outcomes"])
        if last_from_final:
            outcomes.append([1 if s["correct"] else 0])
        labels = label_steps(outcomes, s["correct"], method, eta, last_from_final)
        out.append({"solution_id": s["solution_id"], "problem_id": s["problem_id"], "prompt": s["prompt"],
                    "steps": list(s["steps"]), "labels": labels, "final_correct": bool(s["correct"])})
    return out


def outcome_labels(solutions: Sequence[dict]) -> list[dict[str, Any]]:
    """ORM data: only the final step carries a label (the solution's correctness); earlier
    steps are marked ``None`` so the loss skips them."""
    return [{"solution_id": s["solution_id"], "problem_id": s["problem_id"], "prompt": s["prompt"],
             "steps": list(s["steps"]), "labels": [None] * (len(s["steps"]) - 1) + [float(s["correct"])],
             "final_correct": bool(s["correct"])} for s in solutions]


def to_openrlhf(records: Sequence[dict]) -> list[dict[str, Any]]:
    """ER-PRM-Data / OpenRLHF style: the step tag after each step, one value per tag.

    >>> to_openrlhf([{"prompt": "Q\\n", "steps": ["1 + 1 = 2", "The answer is 2"], "labels": [0.5, 1.0]}])
    [{'text': 'Q\\n1 + 1 = 2 ки\\nThe answer is 2 ки', 'value': [0.5, 1.0]}]
    """
    return [{"text": r["prompt"] + "\n".join(s + STEP_TAG for s in r["steps"]), "value": list(r["labels"])}
            for r in records]


def to_trl(records: Sequence[dict], threshold: float | None = None) -> list[dict[str, Any]]:
    """TRL's PRM format. TRL trains on booleans: with ``threshold`` labels become ``label >= threshold``;
    without it soft labels stay floats.

    >>> to_trl([{"prompt": "Q", "steps": ["a", "b"], "labels": [0.25, 1.0]}], threshold=0.5)
    [{'prompt': 'Q', 'completions': ['a', 'b'], 'labels': [False, True]}]
    """
    out = []
    for r in records:
        labels = [x >= threshold for x in r["labels"]] if threshold is not None else list(r["labels"])
        out.append({"prompt": r["prompt"], "completions": list(r["steps"]), "labels": labels})
    return out


def group_by_problem(records: Sequence[dict]) -> dict[str, list[dict]]:
    groups: dict[str, list[dict]] = defaultdict(list)
    for r in records:
        groups[r["problem_id"]].append(r)
    return dict(groups)
