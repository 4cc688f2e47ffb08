"""Is an answer right? Normalized containment or exact match; refusal-phrase detection.

A missing or empty prediction is wrong, never an error; so is an empty gold answer.

>>> is_correct("It was Vimekton.", ["vimekton"])
True
>>> is_correct("Vimektonia", "Vimekton")  # containment is whole words, not substrings of words
False
>>> is_correct("", "x"), is_correct(None, "x")
(False, False)
"""

from __future__ import annotations

import re
import string
import unicodedata
from collections.abc import Sequence
from typing import Literal

MatchMode = Literal["contains", "exact"]

_PUNCT = re.compile(f"[{re.escape(string.punctuation)}‘’“”]")
_ARTICLES = re.compile(r"\b(a|an|the)\b")


def normalize(text: str) -> str:
    """Lowercase, drop punctuation and English articles, collapse whitespace (SQuAD style)."""
    text = unicodedata.normalize("NFKC", text).lower()
    text = _PUNCT.sub(" ", text)
    text = _ARTICLES.sub(" ", text)
    return " ".join(text.split())


def is_correct(prediction: str | None, gold: str | Sequence[str] | None, mode: MatchMode = "contains") -> bool:
    """``contains``: some normalized gold answer occurs in the normalized prediction as whole words
    (R-Tuning's ``answer in output`` test, made robust to case and punctuation); ``exact``: equality."""
    if not prediction or gold is None:
        return False
    golds = [gold] if isinstance(gold, str) else list(gold)
    pred = normalize(prediction)
    if not pred:
        return False
    for g in golds:
        g = normalize(g) if isinstance(g, str) else ""
        if not g:
            continue
        if mode == "exact" and pred == g:
            return True
        if mode == "contains" and f" {g} " in f" {pred} ":
            return True
    return False


def is_refusal(prediction: str | None, phrases: Sequence[str]) -> bool:
    """True when the prediction contains one of the refusal phrases (normalized)."""
    if not prediction:
        return False
    pred = f" {normalize(prediction)} "
    return any(normalize(p) and f" {normalize(p)} " in pred for p in phrases)
