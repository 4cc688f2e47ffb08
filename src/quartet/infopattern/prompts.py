"""The prompts a message is written after, for the base LM, the switch, scoring and red teaming alike.

Two templates:

* the **topic** template, ``topic : {target} . message :`` — a message on its own;
* the **reply** template, ``topic : {target} . message : {parent} . reply :`` — a message that
  answers another one (``{parent}`` is that message's text).

Training and generation use the same two, so the model is asked at red-teaming time for what
it learned: a reply to the source message. Where the data has replies (RumourEval), a reply is
trained after its parent's text. Where it has none (ArgQ arguments, Catalonia tweets), a share
of the messages (``peer_fraction``) is trained after a seeded random *other* message on the same
topic (any side, so the base model learns to answer a message without learning to contradict it:
taking the other side is the switch's job), the rest after the topic alone.

>>> m = Message(id="a", text="it hurts kids", target="gambling")
>>> message_prompt(m)
'topic : gambling . message :'
>>> message_prompt(m, parent="ban it now")
'topic : gambling . message : ban it now . reply :'
>>> message_prompt(m, parent="ban it now", reply_template="")   # an older switch: topic only
'topic : gambling . message :'
"""

from __future__ import annotations

import random
from collections import defaultdict
from collections.abc import Sequence

from quartet.infopattern.messages import Message

DEFAULT_TEMPLATE = "topic : {target} . message :"  # a message on its own, after its topic
REPLY_TEMPLATE = "topic : {target} . message : {parent} . reply :"  # a message answering {parent}
MAX_PARENT_CHARS = 600  # a parent longer than this is cut (the context is shared with the reply)


def message_prompt(
    message: Message, template: str = DEFAULT_TEMPLATE, parent: str | None = None,
    reply_template: str = REPLY_TEMPLATE,
) -> str:
    """The prompt ``message`` is scored or generated after: the reply template when it answers
    ``parent`` (and a reply template is in use), else the topic template."""
    target = message.target or "none"
    if parent and parent.strip() and reply_template:
        return reply_template.format(target=target, parent=" ".join(parent.split())[:MAX_PARENT_CHARS])
    return template.format(target=target)


def parent_texts(messages: Sequence[Message]) -> dict[str, str]:
    """``{id: parent's text}`` for each message whose parent is among ``messages``.

    >>> ms = [Message(id="r", text="root"), Message(id="c", text="child", parent_id="r"),
    ...       Message(id="o", text="orphan", parent_id="gone")]
    >>> parent_texts(ms)
    {'c': 'root'}
    """
    text = {m.id: m.text for m in messages}
    return {m.id: text[m.parent_id] for m in messages if m.parent_id and m.parent_id in text}


def training_contexts(messages: Sequence[Message], peer_fraction: float = 0.5, seed: int = 0) -> dict[str, str]:
    """What each training message is written after (absent: the topic alone).

    A message whose parent is in the set answers its parent; of the others, a seeded
    ``peer_fraction`` answer a random other message with the same target (see the module doc).

    >>> ms = [Message(id=str(i), text=f"t{i}", target="x") for i in range(4)]
    >>> ctx = training_contexts(ms, peer_fraction=1.0, seed=0)
    >>> sorted(ctx) == ["0", "1", "2", "3"] and all(ctx[k] != f"t{k}" for k in ctx)
    True
    >>> training_contexts(ms, peer_fraction=0.0)
    {}
    """
    if not 0.0 <= peer_fraction <= 1.0:
        raise ValueError(f"peer_fraction must be in [0, 1], got {peer_fraction}")
    out = parent_texts(messages)
    rng = random.Random(seed)
    by_target: dict[str | None, list[Message]] = defaultdict(list)
    for m in messages:
        by_target[m.target].append(m)
    for m in messages:
        if m.id in out or rng.random() >= peer_fraction:
            continue
        peers = by_target[m.target]
        if len(peers) < 2:
            continue
        peer = peers[rng.randrange(len(peers) - 1)]
        if peer.id == m.id:  # draw among the others: the last one stands in for m itself
            peer = peers[-1]
        out[m.id] = peer.text
    return out


def prompt_pairs(
    messages: Sequence[Message], contexts: dict[str, str], template: str = DEFAULT_TEMPLATE,
    reply_template: str = REPLY_TEMPLATE,
) -> list[tuple[str, str]]:
    """``(prompt, " " + text)`` per message, each after its context from ``contexts`` (or its topic)."""
    return [(message_prompt(m, template, contexts.get(m.id), reply_template), " " + m.text) for m in messages]
