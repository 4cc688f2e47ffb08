"""Infer each reply's parent from text and time alone, and compare the graphs the links make.

For reply i in a thread, the candidates are the thread's messages written before it. Each
candidate j gets

    score(i, j) = cos(e_i, e_j) + recency_weight * exp(-(t_i - t_j) / tau) + mention_weight * J(M_i, M_j)

where e are MiniLM embeddings of the cleaned texts, and J is the Jaccard overlap of the
@-handles written in the two texts (a Twitter reply repeats the handles of the conversation
it joins, so this is a text cue, not metadata), and optionally ``addressee_weight`` when the
reply's text names the candidate's author (``@handle``: Twitter writes the handle of the
author a reply answers at its start; the author of a message is part of the message, not
of the hidden link). Optionally the thread's first message gets a
prior bonus ``root_weight`` (most replies answer the source). The arg-max is the inferred parent.
Baselines: every reply answers the thread's source; every reply answers the message just
before it.
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

import numpy as np

from quartet.infopattern.graph.claims import clean_claim
from quartet.infopattern.graph.cluster import Embedder, normalize_rows
from quartet.infopattern.messages import Message

_HANDLE = re.compile(r"(?<!\w)@(\w+)")


def handles(text: str) -> set[str]:
    """Lower-cased @-handles in ``text``.

    >>> sorted(handles("@Ann @bob: yes @ann"))
    ['ann', 'bob']
    """
    return {h.lower() for h in _HANDLE.findall(text)}


def _jaccard(a: set[str], b: set[str]) -> float:
    return len(a & b) / len(a | b) if a | b else 0.0


def infer_parents(
    messages: Sequence[Message],
    embeddings: np.ndarray | None,
    recency_weight: float = 0.0,
    recency_tau_s: float = 3600.0,
    mention_weight: float = 0.0,
    text_weight: float = 1.0,
    root_weight: float = 0.0,
    addressee_weight: float = 0.0,
    author_handles: dict[str, str] | None = None,
) -> dict[str, str]:
    """Inferred parent id for every non-root message (the one written first in its thread is the root).

    Messages are grouped by ``thread_id`` and ordered by ``created_at``; ``embeddings`` rows
    follow ``messages`` (may be None when ``text_weight`` is 0). ``author_handles`` maps a
    message id to its author's @-handle; a candidate whose author the reply addresses (the
    handle is written in the reply) gets ``addressee_weight``.
    """
    unit = normalize_rows(np.asarray(embeddings, np.float64)) if embeddings is not None else None
    threads: dict[str, list[int]] = defaultdict(list)
    for i, m in enumerate(messages):
        threads[m.thread_id or m.id].append(i)
    marks = [handles(m.text) for m in messages]
    out: dict[str, str] = {}
    for members in threads.values():
        members.sort(key=lambda i: (messages[i].created_at.timestamp() if messages[i].created_at else 0.0, i))
        for pos in range(1, len(members)):
            i = members[pos]
            ti = messages[i].created_at
            best, best_score = members[0], -math.inf
            for j in members[:pos]:
                score = 0.0
                if text_weight and unit is not None:
                    score += text_weight * float(unit[i] @ unit[j])
                if recency_weight and ti and messages[j].created_at:
                    dt = max((ti - messages[j].created_at).total_seconds(), 0.0)
                    score += recency_weight * math.exp(-dt / recency_tau_s)
                if mention_weight:
                    score += mention_weight * _jaccard(marks[i], marks[j])
                if addressee_weight and author_handles and author_handles.get(messages[j].id, "").lower() in marks[i]:
                    score += addressee_weight
                if root_weight and j == members[0]:
                    score += root_weight
                if score > best_score:
                    best, best_score = j, score
            out[messages[i].id] = messages[best].id
    return out


def baseline_parents(messages: Sequence[Message], kind: str) -> dict[str, str]:
    """``source``: every reply answers the thread root; ``previous``: the message just before it."""
    threads: dict[str, list[int]] = defaultdict(list)
    for i, m in enumerate(messages):
        threads[m.thread_id or m.id].append(i)
    out = {}
    for members in threads.values():
        members.sort(key=lambda i: (messages[i].created_at.timestamp() if messages[i].created_at else 0.0, i))
        for pos in range(1, len(members)):
            j = members[0] if kind == "source" else members[pos - 1]
            out[messages[members[pos]].id] = messages[j].id
    return out


def parent_accuracy(inferred: dict[str, str], gold: dict[str, str]) -> dict[str, Any]:
    """Share of replies whose inferred parent is the gold parent (over replies with a gold parent)."""
    scored = [mid for mid in gold if mid in inferred]
    hits = sum(inferred[mid] == gold[mid] for mid in scored)
    return {"replies": len(scored), "recovered": hits, "accuracy": round(hits / len(scored), 4) if scored else None}


def embed_messages(messages: Sequence[Message], embedder: Embedder) -> np.ndarray:
    """Embeddings of the cleaned whole texts (URLs, handles and RT removed)."""
    return embedder.encode([clean_claim(m.text) or m.text for m in messages])


def with_parents(messages: Sequence[Message], parents: dict[str, str]) -> list[Message]:
    """Copies of ``messages`` whose parent ids are ``parents`` (absent key: no parent)."""
    return [replace(m, parent_id=parents.get(m.id)) for m in messages]


def compare_edges(true_links: list[dict], inferred_links: list[dict]) -> dict[str, Any]:
    """How the claim graph from inferred links differs from the one from true links.

    Edge-set precision/recall/Jaccard and the weighted Jaccard of the edge counts
    (sum of minima over sum of maxima).
    """
    t = {(e["source"], e["target"]): e["count"] for e in true_links}
    p = {(e["source"], e["target"]): e["count"] for e in inferred_links}
    both = set(t) & set(p)
    keys = set(t) | set(p)
    wmin = sum(min(t.get(k, 0), p.get(k, 0)) for k in keys)
    wmax = sum(max(t.get(k, 0), p.get(k, 0)) for k in keys)
    return {
        "true_edges": len(t), "inferred_edges": len(p), "shared_edges": len(both),
        "precision": round(len(both) / len(p), 4) if p else None,
        "recall": round(len(both) / len(t), 4) if t else None,
        "jaccard": round(len(both) / len(keys), 4) if keys else None,
        "weighted_jaccard": round(wmin / wmax, 4) if wmax else None,
    }
