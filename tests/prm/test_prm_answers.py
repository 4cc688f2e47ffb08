from quartet.prm.answers import extract_answer, gsm8k_gold, is_correct, math_equal, numeric_equal


def test_answer_is_format():
    assert extract_answer("3 - 3 = 0\nThe answer is 0") == "0"
    assert is_correct("3 - 3 = 0\nThe answer is 0", 0)
    assert is_correct("The answer is 1,200.", "1200")
    assert not is_correct("The answer is 12", 13)
    # the policy was asked for "The answer is": a bare number or a #### line is not its answer
    assert not is_correct("12", 12)
    assert not is_correct("#### 12", 12)


def test_unparsable_is_wrong_never_raises():
    for junk in ["", "The answer is", "The answer is seven", "\\boxed{", None, 42, "####"]:
        for fmt in ("answer_is", "gsm8k", "boxed"):
            assert is_correct(junk, "7", fmt) is False
    assert numeric_equal("1e999x", 1) is False
    assert math_equal("\\frac{", "1") is False


def test_gsm8k_and_boxed():
    assert gsm8k_gold("a\n#### 0") == "0"
    assert gsm8k_gold("no answer") is None
    assert is_correct("so #### 1,000", "1000", "gsm8k")
    assert is_correct("thus \\boxed{\\frac{1}{2}}", "0.5", "boxed")
    assert is_correct("\\boxed{\\left( 3, \\frac{\\pi}{2} \\right)}", "\\left( 3, \\frac{\\pi}{2} \\right)", "boxed")
    assert not is_correct("\\boxed{3}", "4", "boxed")
    assert extract_answer("\\boxed{1} then \\boxed{x^{2}}", "boxed") == "x^{2}"
