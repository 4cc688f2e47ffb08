"""Hand-computed metrics and answer matching."""

import math

import numpy as np
import pytest

from quartet.refusal.matching import is_correct, is_refusal, normalize
from quartet.refusal.metrics import (
    answer_stats,
    auroc,
    average_precision,
    expected_calibration_error,
    mean_risk_at_coverage,
    rate,
    risk_coverage,
)


def test_average_precision_hand_computed():
    # Ranked: 1 (P@1 = 1), 0, 1 (P@3 = 2/3), 0  -> AP = (1 + 2/3) / 2
    assert average_precision([1, 0, 1, 0], [0.9, 0.8, 0.7, 0.1]) == pytest.approx(5 / 6)
    # Correct ones ranked last: P@3 = 1/3, P@4 = 2/4
    assert average_precision([0, 0, 1, 1], [0.9, 0.8, 0.7, 0.1]) == pytest.approx((1 / 3 + 1 / 2) / 2)
    assert math.isnan(average_precision([0, 0], [0.3, 0.2]))


def test_auroc_hand_computed():
    # Pairs (pos, neg): (0.9,0.8) ok, (0.9,0.1) ok, (0.7,0.8) wrong, (0.7,0.1) ok -> 3/4
    assert auroc([1, 0, 1, 0], [0.9, 0.8, 0.7, 0.1]) == pytest.approx(0.75)
    assert math.isnan(auroc([1, 1], [0.3, 0.2]))


def test_ece_ten_bins_hand_computed():
    # bin 9: {0.95 (1), 0.92 (0)} acc .5 conf .935 -> .435 * 2/5; bin 2: {0.25 (0)} -> .25 * 1/5;
    # bin 6: {0.6 (1), 0.65 (1)} acc 1 conf .625 -> .375 * 2/5
    ece = expected_calibration_error([1, 0, 0, 1, 1], [0.95, 0.92, 0.25, 0.6, 0.65])
    assert ece == pytest.approx(0.435 * 0.4 + 0.25 * 0.2 + 0.375 * 0.4)
    # confidence exactly 1.0 lands in the last bin; a perfect calibration is 0
    assert expected_calibration_error([1, 0], [1.0, 0.0]) == pytest.approx(0.0)


def test_answer_stats_and_rates():
    stats = answer_stats([1, 0, 1, 0], [0.9, 0.6, 0.5, 0.2])
    assert stats == {"answer_rate": 0.5, "accuracy_answered": 0.5}  # 0.5 is not > 0.5
    none = answer_stats([1, 0], [0.1, 0.2])
    assert none["answer_rate"] == 0 and math.isnan(none["accuracy_answered"])
    assert rate([True, False, False, True]) == 0.5 and math.isnan(rate([]))


def test_risk_coverage_order_and_values():
    cov, risk = risk_coverage([0, 1, 1, 0], [0.1, 0.9, 0.8, 0.7])
    np.testing.assert_allclose(cov, [0.25, 0.5, 0.75, 1.0])
    np.testing.assert_allclose(risk, [0.0, 0.0, 1 / 3, 0.5])


def test_mean_risk_at_coverage_hand_computed():
    # run A, 10 questions ranked w w r r r r r r r r: risk after k answered 1, 1, 2/3, 1/2, ..., 2/10
    a = ([0, 0] + [1] * 8, [1 - i / 10 for i in range(10)])
    # run B, 4 questions ranked r w r w (the confidences in another order): risk 0, 1/2, 1/3, 1/2
    b = ([1, 0, 0, 1], [0.9, 0.8, 0.1, 0.7])
    grid = [0.01, 0.1 * 3, 0.5, 1.0]  # 0.1 * 3 is 0.30000000000000004
    # A answers 1, 3 (not 4, the ceiling of 3.0000000000000004), 5, 10; B answers 1, 2, 2, 4
    expected = [(1 + 0) / 2, (2 / 3 + 1 / 2) / 2, (2 / 5 + 1 / 2) / 2, (2 / 10 + 1 / 2) / 2]
    np.testing.assert_allclose(mean_risk_at_coverage([a, b], grid), expected)
    np.testing.assert_allclose(mean_risk_at_coverage([b], grid), [0, 1 / 2, 1 / 2, 1 / 2])


def test_metric_input_errors():
    with pytest.raises(ValueError, match="equally long"):
        average_precision([1, 0], [0.5])
    with pytest.raises(ValueError, match="0 and 1"):
        average_precision([2, 0], [0.5, 0.1])


def test_matching_normalized_containment_and_exact():
    assert normalize("  The  Capital, is Vimekton! ") == "capital is vimekton"
    assert is_correct("Vimekton.", ["Pasuton", "vimekton"])
    assert is_correct("I think it is Vimekton", "Vimekton")
    assert not is_correct("I think it is Vimekton", "Vimekton", mode="exact")
    assert is_correct("the Vimekton", "Vimekton", mode="exact")
    assert not is_correct("Vimektonia", "Vimekton")
    assert is_correct("born in 1873.", "1873")


@pytest.mark.parametrize("pred", [None, "", "   ", "..."])
def test_empty_or_missing_prediction_is_wrong(pred):
    assert is_correct(pred, "Vimekton") is False


@pytest.mark.parametrize("gold", [None, "", [], ["", "  "]])
def test_empty_or_missing_gold_is_wrong(gold):
    assert is_correct("Vimekton", gold) is False


def test_refusal_detection():
    phrases = ["I don't know the answer.", "I'm not sure."]
    assert is_refusal("Well, I don't know the answer", phrases)
    assert is_refusal("i'm NOT sure.", phrases)
    assert not is_refusal("Vimekton.", phrases)
    assert not is_refusal(None, phrases) and not is_refusal("x", [""])
