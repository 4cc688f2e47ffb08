"""A built-in message set: pro/con messages about fictional local topics, generated from a seed.

Used when no real data is around (tests, the demo without ``$QUARTET_DATA``). Sides differ in
what they say a topic does (helps / hurts …); negated phrasings ("does not hurt") make the
two sides share words, so a bag of words alone does not solve it perfectly.

>>> msgs = builtin_messages(6, seed=0)
>>> len(msgs), sorted({m.stance for m in msgs})
(6, ['con', 'pro'])
>>> builtin_messages(6, seed=0) == msgs
True
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

from quartet.infopattern.messages import Message

TOPICS = (
    "the new tram line", "the river dam", "the night market", "school uniforms", "the city zoo",
    "the harbour bridge", "the wind farm", "the four day week",
)
WHO = ("families", "small shops", "the old town", "children", "our river", "local workers", "the neighbours")
OPENERS = ("honestly ,", "i think", "look ,", "in my view", "clearly", "we all know", "")
PRO = ("helps", "is good for", "protects", "brings jobs to", "makes life better for", "does not hurt")
CON = ("hurts", "is bad for", "threatens", "takes jobs from", "makes life worse for", "does not help")
ENDINGS = (".", "!", ". support it .", ". stop it now .", ". think about it .", "")


def builtin_messages(n: int, seed: int = 0, split: str = "train") -> list[Message]:
    """``n`` messages, alternating pro and con, over ``TOPICS``; ``split`` only changes the ids and the seed."""
    rng = random.Random(f"{seed}-{split}")
    start = datetime(2023, 3, 1, tzinfo=UTC)
    out = []
    for i in range(n):
        side = "pro" if i % 2 == 0 else "con"
        topic = rng.choice(TOPICS)
        verb = rng.choice(PRO if side == "pro" else CON)
        ending = rng.choice(ENDINGS)
        if (side == "pro" and ending == ". stop it now .") or (side == "con" and ending == ". support it ."):
            ending = "."
        text = " ".join(w for w in (rng.choice(OPENERS), topic, verb, rng.choice(WHO)) if w) + " " + ending
        out.append(Message(
            id=f"builtin-{split}-{i}", text=text.strip(), author=f"user{rng.randrange(40)}", community=side,
            stance=side, target=topic, created_at=start + timedelta(minutes=7 * i), source="builtin", lang="en",
        ))
    return out
