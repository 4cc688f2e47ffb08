"""Optional text cleaning for social-media messages.

Cleaning is a separate, explicit step: loaders keep the text exactly as written, and a
user (or a config) chooses what to strip. Each rule is a pure function of the text:

* ``urls``: ``http(s)://…`` and ``www.…`` links are replaced by ``placeholder_url``
  (default: removed);
* ``mentions``: ``@handle`` is replaced by ``placeholder_mention`` (default: removed);
* ``rt``: a leading retweet marker ``RT @handle:`` is removed;
* whitespace is always collapsed afterwards, and the result stripped.

>>> clean_text("RT @bob: look http://t.co/x  @amy !")
'look !'
>>> clean_text("see www.example.org", urls=True, placeholder_url="<url>")
'see <url>'
>>> clean_text("@a hi", mentions=False)
'@a hi'
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterable
from dataclasses import dataclass

from quartet.infopattern.messages import Message

# Trailing punctuation after a link belongs to the sentence, not the link.
_URL = re.compile(r"(?:https?://|www\.)\S+?(?=[.,;:!?)\]]*(?:\s|$))", re.IGNORECASE)
_MENTION = re.compile(r"(?<![\w@])@\w+")
# "RT @user:" or "RT:" at the start (possibly after spaces); case-sensitive, as Twitter wrote it.
_RT = re.compile(r"^\s*RT\s*(?:@\w+)?\s*:?\s*")
_SPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class CleaningConfig:
    """Which cleaning rules to apply (all on by default; ``enabled: false`` keeps the text as written)."""

    enabled: bool = True  # master switch for the cleaning step
    urls: bool = True  # strip http(s):// and www. links
    mentions: bool = True  # strip @handles
    rt: bool = True  # strip a leading "RT @handle:" retweet marker
    placeholder_url: str = ""  # what a link becomes ("" removes it)
    placeholder_mention: str = ""  # what a @handle becomes ("" removes it)


def clean_text(
    text: str,
    urls: bool = True,
    mentions: bool = True,
    rt: bool = True,
    placeholder_url: str = "",
    placeholder_mention: str = "",
) -> str:
    """Apply the chosen rules to one text (RT first, so its handle goes with it)."""
    if rt:
        text = _RT.sub("", text, count=1)
    if urls:
        text = _URL.sub(placeholder_url, text)
    if mentions:
        text = _MENTION.sub(placeholder_mention, text)
    return _SPACE.sub(" ", text).strip()


def clean_messages(messages: Iterable[Message], cfg: CleaningConfig = CleaningConfig()) -> list[Message]:
    """Cleaned copies of ``messages``; a message whose text becomes empty keeps its original text,
    because an empty message cannot be classified and dropping it would silently shrink a data set."""
    if not cfg.enabled:
        return list(messages)
    out = []
    for message in messages:
        text = clean_text(
            message.text, cfg.urls, cfg.mentions, cfg.rt, cfg.placeholder_url, cfg.placeholder_mention
        )
        out.append(dataclasses.replace(message, text=text) if text else message)
    return out
