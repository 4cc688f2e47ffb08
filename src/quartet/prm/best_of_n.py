"""Best-of-N selection, voting baselines, pass@N, and bootstrap confidence intervals.

A candidate's PRM score is a list of per-step probabilities P(+); ``aggregate`` turns it
into one number (``min`` is the paper's default).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Hashable, Mapping, Sequence

import numpy as np

AGGREGATES = ("min", "product", "mean", "last")


def aggregate(step_scores: Sequence[float], how: str = "min") -> float:
    """One score from per-step scores; an empty list scores -inf (never selected over a real one).

    >>> aggregate([0.9, 0.5, 0.8], "min"), aggregate([0.5, 0.5], "product"), aggregate([0.2, 0.6], "last")
    (0.5, 0.25, 0.6)
    """
    if not step_scores:
        return -math.inf
    if how == "min":
        return float(min(step_scores))
    if how == "product":
        return float(math.prod(step_scores))
    if how == "mean":
        return float(sum(step_scores) / len(step_scores))
    if how == "last":
        return float(step_scores[-1])
    raise ValueError(f"unknown aggregation {how!r} (known: {', '.join(AGGREGATES)})")


def select(scores: Sequence[Sequence[float]], aggregate: str = "min") -> int:
    """Index of the best of N candidates (first one on ties).

    >>> select([[0.9, 0.2], [0.6, 0.7], [0.95, 0.5]])
    1
    >>> select([[0.9, 0.2], [0.6, 0.7], [0.95, 0.5]], aggregate="mean")
    2
    """
    if not scores:
        raise ValueError("select needs at least one candidate")
    how = aggregate
    values = [_aggregate(s, how) for s in scores]
    return int(max(range(len(values)), key=lambda i: (values[i], -i)))


_aggregate = aggregate


def majority_vote(answers: Sequence[Hashable | None]) -> Hashable | None:
    """Most frequent parsable answer; ties go to the answer seen first; None if none parses.

    >>> majority_vote([3, None, 5, 5, 3, None, None])
    3
    """
    return weighted_majority(answers, [1.0] * len(answers))


def weighted_majority(answers: Sequence[Hashable | None], weights: Sequence[float]) -> Hashable | None:
    """Answer with the largest total weight (e.g. PRM scores); unparsable answers never win.

    >>> weighted_majority([3, 5, 5], [0.9, 0.3, 0.4])
    3
    """
    if len(answers) != len(weights):
        raise ValueError("answers and weights differ in length")
    totals: dict[Hashable, float] = defaultdict(float)
    order: dict[Hashable, int] = {}
    for i, (a, w) in enumerate(zip(answers, weights, strict=True)):
        if a is None:
            continue
        totals[a] += w
        order.setdefault(a, i)
    if not totals:
        return None
    return max(totals, key=lambda a: (totals[a], -order[a]))


def pass_at_n(correct: Sequence[bool]) -> bool:
    """Oracle: right if any candidate is right.

    >>> pass_at_n([False, True]), pass_at_n([])
    (True, False)
    """
    return any(correct)


def bootstrap_ci(values: Sequence[float], n_boot: int = 1000, alpha: float = 0.05, seed: int = 0
                 ) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean of ``values``.

    >>> bootstrap_ci([1.0, 1.0, 1.0])
    (1.0, 1.0)
    """
    arr = np.asarray(values, dtype=float)
    if arr.size == 0:
        return (math.nan, math.nan)
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, arr.size, size=(n_boot, arr.size))
    means = arr[idx].mean(axis=1)
    return (float(np.quantile(means, alpha / 2)), float(np.quantile(means, 1 - alpha / 2)))


def evaluate_bon(problems: Sequence[dict], ns: Sequence[int], seeds: Sequence[int], how: str = "min",
                 n_boot: int = 1000, aggregates: Mapping[str, str] | None = None) -> dict:
    """Best-of-N accuracy of every scorer, majority vote, weighted majority and pass@N.

    ``problems``: one dict per problem with ``answers`` (normalized answer or None per candidate),
    ``correct`` (bool per candidate) and ``scores`` (scorer name -> per-candidate step-score lists).
    Scorer ``s``'s step scores are aggregated by ``aggregates[s]`` when given, else by ``how``
    (an ORM, trained on its last tag only, is read with "last"), for selection and for the
    weights of its weighted vote. For each seed the candidates are shuffled and the first N are
    used, so every method sees the same N candidates. Accuracy is averaged over seeds; the 95%
    interval bootstraps problems.
    """
    if not problems:
        raise ValueError("best-of-N needs at least one problem")
    pool = min(len(p["correct"]) for p in problems)
    ns = [n for n in ns if n <= pool]
    scorers = sorted(problems[0]["scores"])
    per_scorer = {s: (aggregates or {}).get(s, how) for s in scorers}
    names = scorers + ["majority"] + [f"weighted_{s}" for s in scorers] + ["pass@n"]
    # per_problem[name][n_index] -> list over problems of the seed-averaged correctness
    per_problem = {name: [[0.0] * len(problems) for _ in ns] for name in names}
    per_seed = {name: [[0.0] * len(seeds) for _ in ns] for name in names}
    for s_i, seed in enumerate(seeds):
        rng = np.random.default_rng(seed)
        for p_i, p in enumerate(problems):
            order = rng.permutation(len(p["correct"]))
            for n_i, n in enumerate(ns):
                idx = order[:n]
                correct = [bool(p["correct"][i]) for i in idx]
                answers = [p["answers"][i] for i in idx]
                got = {}
                for s in scorers:
                    cand = [p["scores"][s][i] for i in idx]
                    got[s] = correct[select(cand, per_scorer[s])]
                    weights = [max(0.0, _aggregate(c, per_scorer[s])) for c in cand]
                    got[f"weighted_{s}"] = _answer_correct(weighted_majority(answers, weights), answers, correct)
                got["majority"] = _answer_correct(majority_vote(answers), answers, correct)
                got["pass@n"] = pass_at_n(correct)
                for name in names:
                    per_problem[name][n_i][p_i] += float(got[name]) / len(seeds)
                    per_seed[name][n_i][s_i] += float(got[name]) / len(problems)
    methods = {}
    for name in names:
        acc = [float(np.mean(v)) for v in per_problem[name]]
        ci = [list(bootstrap_ci(v, n_boot=n_boot, seed=n_i)) for n_i, v in enumerate(per_problem[name])]
        methods[name] = {"acc": acc, "ci95": ci, "per_seed": per_seed[name]}
    return {"ns": list(ns), "seeds": list(seeds), "aggregate": how, "aggregates": per_scorer,
            "n_problems": len(problems), "methods": methods}


def _answer_correct(answer: Hashable | None, answers: Sequence, correct: Sequence[bool]) -> bool:
    if answer is None:
        return False
    return correct[list(answers).index(answer)]
