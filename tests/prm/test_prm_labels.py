import math

import pytest

from quartet.prm.labels import entropy_regularized, hard, label_steps, method_name, soft


def test_hard_and_soft_by_hand():
    assert hard([0, 0, 0, 1]) == 1.0
    assert hard([0, 0, 0, 0]) == 0.0
    assert soft([0, 1, 1, 0, 1, 1, 0, 0]) == 0.5
    assert soft([1]) == 1.0


def test_er_matches_closed_form():
    # p = 3/8, eta = 2: (1/2) log(5/8 + 3/8 e^2)
    want = 0.5 * math.log(5 / 8 + 3 / 8 * math.e**2)
    assert entropy_regularized([1, 1, 1, 0, 0, 0, 0, 0], 2.0) == pytest.approx(want, abs=1e-12)
    assert entropy_regularized([0, 0, 0], 5.0) == 0.0
    assert entropy_regularized([1, 1], 5.0) == pytest.approx(1.0)


def test_er_limits_and_ordering():
    outcomes = [1, 0, 0, 0]
    assert entropy_regularized(outcomes, 1e-9) == pytest.approx(soft(outcomes), abs=1e-6)
    assert entropy_regularized(outcomes, 1e5) == pytest.approx(hard(outcomes), abs=1e-4)
    # no overflow for huge eta, monotone in eta between soft and hard
    values = [entropy_regularized(outcomes, eta) for eta in (0.5, 1, 2, 5, 10, 1000)]
    assert values == sorted(values)
    assert soft(outcomes) < values[0] and values[-1] < hard(outcomes) + 1e-12


def test_bad_outcomes_are_errors():
    with pytest.raises(ValueError):
        soft([])
    with pytest.raises(ValueError):
        hard([2])
    with pytest.raises(ValueError):
        entropy_regularized([1, 0], -1)


def test_label_steps_last_from_final():
    outs = [[1, 1, 0, 0], [0, 0, 0, 1], [1, 1, 1, 1]]
    assert label_steps(outs, False, "soft") == [0.5, 0.25, 0.0]
    assert label_steps(outs, False, "soft", last_from_final=False) == [0.5, 0.25, 1.0]
    assert label_steps(outs, True, "hard") == [1.0, 1.0, 1.0]
    assert method_name("er", 0.5) == "er0.5" and method_name("hard") == "hard"
    with pytest.raises(ValueError, match="unknown label method"):
        label_steps(outs, True, "magic")
