import math

import pytest

from quartet.prm.best_of_n import (
    aggregate,
    bootstrap_ci,
    majority_vote,
    pass_at_n,
    select,
    weighted_majority,
)


def test_aggregations_by_hand():
    s = [0.9, 0.4, 0.8]
    assert aggregate(s, "min") == 0.4
    assert aggregate(s, "product") == pytest.approx(0.288)
    assert aggregate(s, "mean") == pytest.approx(0.7)
    assert aggregate(s, "last") == 0.8
    assert aggregate([], "min") == -math.inf
    with pytest.raises(ValueError):
        aggregate(s, "max")


def test_select_depends_on_aggregation():
    cands = [[0.99, 0.30], [0.60, 0.60], [0.70, 0.95]]
    assert select(cands, "min") == 2
    assert select(cands, "last") == 2
    assert select([[0.99, 0.30], [0.60, 0.60]], "min") == 1
    assert select([[0.99, 0.30], [0.60, 0.60]], "mean") == 0
    assert select([[0.5], [0.5]]) == 0  # ties: first
    assert select([[], [0.1]]) == 1
    with pytest.raises(ValueError):
        select([])


def test_votes():
    assert majority_vote([1, 2, 2, None, None, None]) == 2
    assert majority_vote([None, None]) is None
    assert majority_vote([0, 0, 5]) == 0
    assert weighted_majority([1, 2, 2], [0.9, 0.4, 0.4]) == 1
    assert weighted_majority([1, 2, 2], [0.7, 0.4, 0.4]) == 2
    assert pass_at_n([False, False, True]) and not pass_at_n([False])


def test_bootstrap_ci_contains_mean_and_shrinks():
    vals = [1.0] * 30 + [0.0] * 70
    lo, hi = bootstrap_ci(vals, n_boot=2000, seed=1)
    assert lo < 0.3 < hi and 0.15 < lo and hi < 0.45
    lo2, hi2 = bootstrap_ci(vals * 10, n_boot=2000, seed=1)
    assert hi2 - lo2 < hi - lo
    assert bootstrap_ci(vals, seed=3) == bootstrap_ci(vals, seed=3)


def test_evaluate_bon_by_hand():
    from quartet.prm.best_of_n import evaluate_bon

    # problem 1: the PRM ranks the right candidate first, majority picks the wrong answer 7
    p1 = {"answers": [5, 7, 7], "correct": [True, False, False], "scores": {"prm": [[0.9], [0.2], [0.3]]}}
    # problem 2: nothing is right
    p2 = {"answers": [1, None, 2], "correct": [False, False, False], "scores": {"prm": [[0.5], [0.9], [0.1]]}}
    out = evaluate_bon([p1, p2], ns=[3, 8], seeds=[0, 1], n_boot=50)
    assert out["ns"] == [3]  # N larger than the pool is dropped
    m = out["methods"]
    assert m["prm"]["acc"] == [0.5] and m["majority"]["acc"] == [0.0] and m["pass@n"]["acc"] == [0.5]
    assert m["weighted_prm"]["acc"] == [0.5]  # 0.9 for 5 beats 0.2 + 0.3 for 7
    assert m["prm"]["per_seed"] == [[0.5, 0.5]]
