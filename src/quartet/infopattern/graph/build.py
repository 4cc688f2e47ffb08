"""From claims to a directed, weighted claim-propagation graph.

Nodes are claim clusters with their representative (medoid) claim, keywords, size,
community shares, first appearance, origin community and counts per community per time
window. Edges combine two kinds of evidence, selected by ``GraphConfig.edge_sources``:

- ``sequence``: claims ordered in time within a stream (one author, one reply thread, or
  one community) give transitions a -> b between consecutive claims' clusters;
- ``reply``: a reply or quote whose parent is in the data links every cluster of the
  parent to every cluster of the reply (each distinct pair once per link).

The summed count matrix is row-normalised into a transition matrix P(b | a); an edge is
kept when P >= ``min_weight`` and its count >= ``min_count``. Claims are ordered by
``created_at`` and then input order; claims without a time sort after all timed ones.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np

from quartet.infopattern.graph.claims import Claim, split_claims
from quartet.infopattern.graph.cluster import (
    Embedder,
    MiniLMEmbedder,
    class_tfidf_keywords,
    cluster_claims,
    medoids,
)
from quartet.infopattern.graph.config import GraphConfig
from quartet.infopattern.messages import Message

UNKNOWN = "unknown"


@dataclass
class ClaimSet:
    """Claims with their embeddings ``(N, D)`` and cluster labels ``(N,)``."""

    claims: list[Claim]
    embeddings: np.ndarray
    labels: np.ndarray


def discover_claims(messages: Sequence[Message], embedder: Embedder, cfg: GraphConfig) -> ClaimSet:
    """Split, embed and cluster the claims of ``messages``."""
    claims = split_claims(messages, cfg.language, cfg.min_words, cfg.community_field)
    embeddings = embedder.encode([c.clean for c in claims]) if claims else np.zeros((0, 1), np.float32)
    labels = cluster_claims(embeddings, cfg.threshold, cfg.max_claims)
    return ClaimSet(claims, embeddings, labels)


def window_start(t: datetime, window: str) -> str:
    """ISO start of the window holding ``t`` (UTC).

    >>> window_start(datetime(2024, 3, 7, 15, 30, tzinfo=UTC), "week")
    '2024-03-04T00:00:00+00:00'
    """
    t = t.astimezone(UTC) if t.tzinfo else t.replace(tzinfo=UTC)
    if window == "hour":
        start = t.replace(minute=0, second=0, microsecond=0)
    elif window == "day":
        start = t.replace(hour=0, minute=0, second=0, microsecond=0)
    elif window == "week":
        start = (t - timedelta(days=t.weekday())).replace(hour=0, minute=0, second=0, microsecond=0)
    elif window == "month":
        start = t.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    else:
        raise ValueError(f"unknown window {window!r}")
    return start.isoformat()


def _time_key(claim: Claim) -> tuple[float, int, int]:
    ts = claim.created_at.timestamp() if claim.created_at else math.inf
    return (ts, claim.order, claim.index)


def thread_roots(messages: Sequence[Message]) -> dict[str, str]:
    """Message id -> its thread: ``thread_id`` when the loader set one, else the earliest ancestor
    present in ``messages`` (itself for a root)."""
    parent = {m.id: m.parent_id for m in messages}
    roots: dict[str, str] = {m.id: m.thread_id for m in messages if m.thread_id}
    for mid in parent:
        if mid in roots:
            continue
        seen, node = {mid}, mid
        while parent.get(node) in parent and parent[node] not in seen:
            node = parent[node]
            seen.add(node)
        roots[mid] = node
    return roots


def _stream_key(claim: Claim, stream: str, roots: dict[str, str]) -> str | None:
    if stream == "author":
        return claim.author
    if stream == "thread":
        return roots.get(claim.message_id, claim.message_id)
    return claim.community


def sequence_counts(claimset: ClaimSet, messages: Sequence[Message], stream: str) -> Counter:
    """Transition counts between consecutive claims' clusters within each stream."""
    roots = thread_roots(messages)
    streams: dict[str, list[int]] = defaultdict(list)
    for i, claim in enumerate(claimset.claims):
        key = _stream_key(claim, stream, roots)
        if key is not None:  # a claim with no author/community has no stream to follow
            streams[key].append(i)
    counts: Counter = Counter()
    for members in streams.values():
        members.sort(key=lambda i: _time_key(claimset.claims[i]))
        for a, b in zip(members, members[1:], strict=False):
            counts[(int(claimset.labels[a]), int(claimset.labels[b]))] += 1
    return counts


def reply_counts(claimset: ClaimSet, messages: Sequence[Message]) -> Counter:
    """Parent-cluster -> reply-cluster counts, each distinct pair once per reply link."""
    clusters: dict[str, set[int]] = defaultdict(set)
    for claim, label in zip(claimset.claims, claimset.labels, strict=True):
        clusters[claim.message_id].add(int(label))
    counts: Counter = Counter()
    for m in messages:
        if m.parent_id and m.parent_id in clusters and m.id in clusters:
            for a in clusters[m.parent_id]:
                for b in clusters[m.id]:
                    counts[(a, b)] += 1
    return counts


def edges_from_counts(
    seq: Counter, rep: Counter, cfg: GraphConfig
) -> list[dict[str, Any]]:
    """Row-normalised transition edges, pruned by ``min_weight`` and ``min_count``."""
    total: Counter = Counter()
    if "sequence" in cfg.edge_sources:
        total.update(seq)
    if "reply" in cfg.edge_sources:
        total.update(rep)
    if not cfg.self_loops:
        total = Counter({k: v for k, v in total.items() if k[0] != k[1]})
    out_sum: Counter = Counter()
    for (a, _), n in total.items():
        out_sum[a] += n
    links = []
    for (a, b), n in sorted(total.items()):
        weight = n / out_sum[a]
        if weight >= cfg.min_weight and n >= cfg.min_count:
            links.append({
                "source": f"c{a}", "target": f"c{b}", "weight": round(weight, 6), "count": n,
                "sequence": seq.get((a, b), 0) if "sequence" in cfg.edge_sources else 0,
                "reply": rep.get((a, b), 0) if "reply" in cfg.edge_sources else 0,
            })
    return links


def build_graph(claimset: ClaimSet, messages: Sequence[Message], cfg: GraphConfig) -> dict[str, Any]:
    """The claim graph as a JSON-ready dict ``{"nodes", "links", "meta"}``."""
    claims, labels = claimset.claims, claimset.labels
    by_id = {m.id: m for m in messages}
    reps = medoids(claimset.embeddings, labels) if len(claims) else {}
    keywords = class_tfidf_keywords([c.clean for c in claims], labels, cfg.keywords) if len(claims) else {}
    nodes = []
    for cluster in sorted(reps):
        members = sorted(np.flatnonzero(labels == cluster).tolist(), key=lambda i: _time_key(claims[i]))
        first = claims[members[0]]
        communities = Counter(claims[i].community or UNKNOWN for i in members)
        windows: dict[str, Counter] = defaultdict(Counter)
        for i in members:
            c = claims[i]
            windows[window_start(c.created_at, cfg.window) if c.created_at else "undated"][c.community or UNKNOWN] += 1
        message_ids = list(dict.fromkeys(claims[i].message_id for i in members))
        examples = []
        for mid in message_ids[: cfg.messages_per_node]:
            m = by_id.get(mid)
            examples.append({
                "id": mid, "text": m.text if m else "", "author": m.author if m else None,
                "community": (getattr(m, cfg.community_field) if m else None) or UNKNOWN,
                "created_at": m.created_at.isoformat() if m and m.created_at else None,
            })
        nodes.append({
            "id": f"c{cluster}",
            "name": claims[reps[cluster]].text,
            "keywords": keywords.get(cluster, []),
            "size": len(members),
            "messages": len(message_ids),
            "community_counts": dict(sorted(communities.items())),
            "community_shares": {k: round(v / len(members), 6) for k, v in sorted(communities.items())},
            "first_seen": first.created_at.isoformat() if first.created_at else None,
            "first_message": first.message_id,
            "origin_community": first.community or UNKNOWN,
            "windows": [{"window": w, "counts": dict(sorted(windows[w].items()))} for w in sorted(windows)],
            "examples": examples,
        })
    seq = sequence_counts(claimset, messages, cfg.stream) if "sequence" in cfg.edge_sources else Counter()
    rep = reply_counts(claimset, messages) if "reply" in cfg.edge_sources else Counter()
    links = edges_from_counts(seq, rep, cfg)
    all_communities = sorted({c.community or UNKNOWN for c in claims})
    meta = {
        "messages": len(messages), "claims": len(claims), "clusters": len(nodes), "edges": len(links),
        "communities": all_communities, "window": cfg.window, "stream": cfg.stream,
        "edge_sources": list(cfg.edge_sources), "threshold": cfg.threshold, "min_weight": cfg.min_weight,
    }
    return {"nodes": nodes, "links": links, "meta": meta}


def build_graph_for_messages(
    messages: Sequence[Message], embedder: Embedder | None = None, cfg: GraphConfig | None = None
) -> dict[str, Any]:
    """Claims -> clusters -> graph in one call (what the demo and the web app use)."""
    cfg = cfg or GraphConfig()
    claimset = discover_claims(messages, embedder or MiniLMEmbedder(), cfg)
    return build_graph(claimset, messages, cfg)
