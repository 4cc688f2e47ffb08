"""Final-answer extraction and checking.

The extraction must match the format the policy was asked to use; three are known:

* ``answer_is`` — the embedded world and most prompts: ``The answer is 42``;
* ``gsm8k`` — ``#### 42`` at the end (GSM8K's gold solutions);
* ``boxed`` — ``\\boxed{...}`` (MATH), compared with ``math-verify``.

An answer of 0 is an answer. A completion whose answer cannot be found or parsed is
wrong; no input makes these functions raise.
"""

from __future__ import annotations

import logging
import re

log = logging.getLogger(__name__)

FORMATS = ("answer_is", "gsm8k", "boxed")

_NUMBER = r"-?[\d,]*\.?\d+"
_ANSWER_IS = re.compile(r"[Tt]he answer is\s*:?\s*\$?\s*(" + _NUMBER + r")")
_GSM8K = re.compile(r"####\s*\$?\s*(" + _NUMBER + r")")
_PATTERNS = {"answer_is": _ANSWER_IS, "gsm8k": _GSM8K}


def parse_number(text: str | None) -> float | None:
    """A number from ``text`` ("1,234", "$5", "7." allowed); None if it is not one.

    >>> parse_number("1,234"), parse_number(" 0 "), parse_number("$5."), parse_number("five")
    (1234.0, 0.0, 5.0, None)
    """
    if text is None:
        return None
    cleaned = text.strip().replace(",", "").lstrip("$").rstrip(".").strip()
    try:
        return float(cleaned)
    except ValueError:
        return None


def extract_boxed(text: str) -> str | None:
    """Contents of the last ``\\boxed{...}``, braces matched; None when absent, unbalanced or
    empty (``\\boxed{}`` is how an instruction names the format, not an answer).

    >>> extract_boxed(r"so \\boxed{\\frac{1}{2}}."), extract_boxed(r"put it in \\boxed{}")
    ('\\\\frac{1}{2}', None)
    """
    start = text.rfind("\\boxed{")
    if start < 0:
        return None
    i = start + len("\\boxed{")
    depth = 1
    for j in range(i, len(text)):
        if text[j] == "{":
            depth += 1
        elif text[j] == "}":
            depth -= 1
            if depth == 0:
                return text[i:j] if text[i:j].strip() else None
    return None


def extract_answer(text: str, fmt: str = "answer_is") -> str | None:
    """The final answer string in ``text`` written in format ``fmt``; None when there is none.

    >>> extract_answer("2 + 3 = 5\\nThe answer is 5"), extract_answer("x\\n#### 1,000", "gsm8k")
    ('5', '1,000')
    >>> extract_answer("The answer is 4 ... no: 2 + 3 = 5\\nThe answer is 5")
    '5'
    >>> extract_answer("I am not sure") is None
    True
    """
    if not isinstance(text, str):
        return None
    # The last occurrence is the final answer in every format (a solution may restate an earlier one).
    if fmt in _PATTERNS:
        matches = _PATTERNS[fmt].findall(text)
        return matches[-1] if matches else None
    if fmt == "boxed":
        return extract_boxed(text)
    raise ValueError(f"unknown answer format {fmt!r} (known: {', '.join(FORMATS)})")


def numeric_equal(pred: str | None, gold: str | float | int | None, tol: float = 1e-6) -> bool:
    """Numbers equal up to ``tol`` (relative for large values); anything unparsable is unequal.

    >>> numeric_equal("0", 0), numeric_equal("1,000", "1000"), numeric_equal(None, 3), numeric_equal("x", 3)
    (True, True, False, False)
    """
    a = parse_number(pred)
    b = gold if isinstance(gold, int | float) and not isinstance(gold, bool) else parse_number(
        gold if isinstance(gold, str) else None)
    if a is None or b is None:
        return False
    return abs(a - float(b)) <= tol * max(1.0, abs(float(b)))


def math_equal(pred: str | None, gold: str | None) -> bool:
    """LaTeX answers compared by ``math-verify`` (symbolic equivalence); False on any failure.

    >>> math_equal("\\\\frac{1}{2}", "0.5"), math_equal("3", "4")
    (True, False)
    """
    if pred is None or gold is None:
        return False
    try:
        from math_verify import parse, verify

        return bool(verify(parse(f"${gold}$"), parse(f"${pred}$")))
    except Exception as err:  # math-verify raises many kinds on odd LaTeX; unparsable means wrong
        log.debug("math-verify failed on %r vs %r: %s", pred, gold, err)
        return False


def is_correct(completion: str, gold: str | float | int, fmt: str = "answer_is") -> bool:
    """Whether the answer written in ``completion`` (format ``fmt``) equals ``gold``.

    >>> is_correct("5 - 5 = 0\\nThe answer is 0", 0), is_correct("The answer is", 0)
    (True, False)
    """
    pred = extract_answer(completion, fmt)
    if fmt == "boxed":
        return math_equal(pred, str(gold))
    return numeric_equal(pred, gold)


def gsm8k_gold(answer_field: str) -> str | None:
    """GSM8K's gold answer: the text after ``####``, commas removed.

    >>> gsm8k_gold("3 * 2 = <<3*2=6>>6\\n#### 1,206")
    '1206'
    """
    found = extract_answer(answer_field, "gsm8k")
    return found.replace(",", "") if found is not None else None
