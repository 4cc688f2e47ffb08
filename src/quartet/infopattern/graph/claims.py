"""Claims: the sentences of messages that assert something.

Messages are split with pysbd (a maintained rule-based sentence boundary detector that
knows abbreviations, decimals and URLs), then each sentence passes the **non-claim rule**:

1. a question (its last non-space character is ``?``) is not a claim: it asks, it does not assert;
2. after removing URLs, @mentions, an ``RT`` prefix and the ``#`` of hashtags, a sentence
   with fewer than ``min_words`` words of two or more letters is a fragment (``"lol"``,
   ``"@bob yes."``, a bare link) and is not a claim;
3. everything else is a claim.

The rule is deliberately simple and documented, so a user can predict what is dropped;
``min_words`` is the one knob.

>>> [c.text for c in split_claims([Message("m1", "Vaccines save lives. Do they? http://t.co/x @bob ok.")])]
['Vaccines save lives.']
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache

import pysbd

from quartet.infopattern.messages import Message

_URL = re.compile(r"(?:https?://|www\.)\S+", re.IGNORECASE)
_MENTION = re.compile(r"(?<!\w)@\w+")
_RT = re.compile(r"^\s*RT\b:?", re.IGNORECASE)
_WORD = re.compile(r"[^\W\d_]{2,}")


@dataclass(frozen=True)
class Claim:
    """One claim sentence and where it came from."""

    message_id: str
    index: int  # position among the message's claims
    text: str  # the sentence as written (shown to people)
    clean: str  # URLs, mentions, RT and '#' removed (embedded and used for keywords)
    order: int  # position of the message in the input (tie-break for equal times)
    author: str | None
    community: str | None
    created_at: datetime | None


def clean_claim(sentence: str) -> str:
    """Remove URLs, @mentions, an RT prefix and hashtag marks; squeeze spaces.

    >>> clean_claim("RT @ann: #Ebola is here http://t.co/x")
    'Ebola is here'
    """
    text = _RT.sub("", sentence)
    text = _URL.sub(" ", text)
    text = _MENTION.sub(" ", text)
    text = text.replace("#", "")
    text = re.sub(r"\s+", " ", text).strip(" :")
    return text.strip()


def is_claim(sentence: str, min_words: int = 3) -> bool:
    """The non-claim rule of this module's docstring.

    >>> is_claim("Is this real?"), is_claim("@bob lol"), is_claim("The plane crashed in France.")
    (False, False, True)
    """
    if sentence.rstrip().endswith("?"):
        return False
    return len(_WORD.findall(clean_claim(sentence))) >= min_words


@lru_cache(maxsize=8)
def _segmenter(language: str) -> pysbd.Segmenter:
    return pysbd.Segmenter(language=language, clean=False)


def split_sentences(text: str, language: str = "en") -> list[str]:
    """Sentences of ``text`` by pysbd, stripped, empty ones dropped."""
    if not text.strip():
        return []
    return [s.strip() for s in _segmenter(language).segment(text) if s.strip()]


def split_claims(
    messages: Sequence[Message], language: str = "en", min_words: int = 3, community_field: str = "community"
) -> list[Claim]:
    """All claims of ``messages`` in input order.

    ``community_field`` names the Message attribute that groups authors (``community`` by
    default; ``stance`` or ``target`` for data sets without community labels).
    """
    claims: list[Claim] = []
    for order, message in enumerate(messages):
        community = getattr(message, community_field)
        kept = [s for s in split_sentences(message.text, language) if is_claim(s, min_words)]
        for index, sentence in enumerate(kept):
            claims.append(
                Claim(
                    message_id=message.id, index=index, text=sentence, clean=clean_claim(sentence), order=order,
                    author=message.author, community=community, created_at=message.created_at,
                )
            )
    return claims
