import pytest

from quartet.prm.answers import extract_answer, gsm8k_gold, is_correct, math_equal, numeric_equal
from quartet.prm.config import PromptConfig
from quartet.prm.rollout import policy_prompt


def test_answer_is_format():
    assert extract_answer("3 - 3 = 0\nThe answer is 0") == "0"
    assert is_correct("3 - 3 = 0\nThe answer is 0", 0)
    assert is_correct("The answer is 1,200.", "1200")
    assert not is_correct("The answer is 12", 13)
    # the policy was asked for "The answer is": a bare number or a #### line is not its answer
    assert not is_correct("12", 12)
    assert not is_correct("#### 12", 12)
    # the last "The answer is" is the final answer, as with #### and \\boxed{}
    assert extract_answer("The answer is 3\nno, 3 + 1 = 4\nThe answer is 4") == "4"
    assert is_correct("The answer is 3\nThe answer is 4", 4) and not is_correct("The answer is 3\nThe answer is 4", 3)


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


def test_the_prompt_asks_for_the_format_the_extractor_reads():
    for fmt, asked, written in (("answer_is", '"The answer is N"', "so 2 + 2 = 4\nThe answer is 4"),
                                ("gsm8k", '"#### N"', "so 2 + 2 = 4\n#### 4"),
                                ("boxed", "\\boxed{}", "so $2 + 2 = \\boxed{4}$")):
        prompt = policy_prompt("What is 2 + 2 ?", fmt)
        assert prompt.startswith("Question : What is 2 + 2 ?\n") and prompt.endswith("Answer :\n")
        assert asked in prompt and "one step per line" in prompt, fmt
        assert extract_answer(prompt, fmt) is None  # the instruction itself is not an answer
        assert is_correct(written, "4", fmt), fmt
    custom = PromptConfig(template="<q>{question}</q> {instruction}", answer_is="Say: The answer is N.")
    assert policy_prompt("a {b}", "answer_is", custom) == "<q>a {b}</q> Say: The answer is N."
    with pytest.raises(ValueError, match="no {question} field"):
        policy_prompt("q", "answer_is", PromptConfig(template="Answer :\n"))
    with pytest.raises(ValueError, match="literal braces"):
        policy_prompt("q", "answer_is", PromptConfig(template="{question} {oops}"))
    with pytest.raises(ValueError, match="unknown answer format"):
        policy_prompt("q", "latex")
