"""The certainty question and P(sure) = p("sure") / (p("sure") + p("unsure")).

The token ids of "sure" and "unsure" depend on the vocabulary: a word-level vocabulary
has ``▁sure``, byte-level BPE has ``Ġsure`` (the leading space is part of the token), a
SentencePiece vocabulary has ``▁sure`` and may split ``unsure`` into ``▁un`` + ``sure``.
So the ids are read off the tokenizer by encoding ``"I am"`` and ``"I am sure"`` and taking
the first token where they differ — the token the model actually predicts after ``I am``.

>>> round(p_sure(-1.2039728043259361, -2.3025850929940455), 6)  # log 0.3, log 0.1
0.75
"""

from __future__ import annotations

import logging
import math

import torch

from quartet.lm.protocol import TextTokenizer
from quartet.worlds.facts import OPTION_LETTERS

log = logging.getLogger(__name__)

CERTAINTY_QUESTION = "Are you sure you accurately answered the question based on your internal knowledge?"
SURE, UNSURE = "sure", "unsure"


def certainty_prompt(prompt: str, answer: str) -> str:
    """``{prompt} {answer}. Are you sure ...? I am`` — the next token is "sure" or "unsure"."""
    answer = answer.strip()
    if answer and not answer.endswith((".", "!", "?")):
        answer += "."
    return f"{prompt} {answer} {CERTAINTY_QUESTION} I am"


def certainty_suffix(sure: bool) -> str:
    """What a refusal-aware training response ends with after the answer."""
    return f" {CERTAINTY_QUESTION} I am {SURE if sure else UNSURE}."


def next_word_token_id(tokenizer: TextTokenizer, context: str, word: str) -> int:
    """Id of the first token of `` word`` after ``context`` (with its leading space, however the
    vocabulary spells it)."""
    head = tokenizer.encode(context)
    full = tokenizer.encode(f"{context} {word}")
    if full[: len(head)] != head or len(full) <= len(head):
        raise ValueError(
            f"the tokenizer does not split {context!r} + {word!r} at the word boundary; "
            "cannot find the certainty token"
        )
    if len(full) - len(head) > 1:
        log.info("%r is %d tokens; P(%s) uses its first token", word, len(full) - len(head), word)
    return full[len(head)]


def certainty_token_ids(tokenizer: TextTokenizer, context: str = "I am") -> tuple[int, int]:
    """Ids of the first token of " sure" and " unsure" after ``context``; they must differ."""
    sure_id = next_word_token_id(tokenizer, context, SURE)
    unsure_id = next_word_token_id(tokenizer, context, UNSURE)
    if sure_id == unsure_id:
        raise ValueError(f"'sure' and 'unsure' start with the same token {sure_id}; P(sure) is undefined")
    return sure_id, unsure_id


def option_token_ids(tokenizer: TextTokenizer, n: int, context: str = "Answer:") -> list[int]:
    """Ids of the option letters A, B, ... as the token after ``context`` (multiple choice)."""
    ids = [next_word_token_id(tokenizer, context, letter) for letter in OPTION_LETTERS[:n]]
    if len(set(ids)) != n:
        raise ValueError(f"option letters share token ids {ids}")
    return ids


def p_sure(logp_sure: float, logp_unsure: float) -> float:
    """Normalize over the two answers: sigmoid(log p_sure - log p_unsure), stable for tiny probabilities."""
    d = logp_sure - logp_unsure
    if d >= 0:
        return 1.0 / (1.0 + math.exp(-d))
    e = math.exp(d)
    return e / (1.0 + e)


def p_sure_batch(logprobs: torch.Tensor) -> list[float]:
    """(B, 2) log-probs of (sure, unsure) -> P(sure) per row."""
    return torch.sigmoid(logprobs[:, 0].double() - logprobs[:, 1].double()).tolist()
