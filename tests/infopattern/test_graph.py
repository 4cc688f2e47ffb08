"""Claim graphs on hand-built message sets whose clusters, first appearances and edges are known."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime

import networkx as nx
import numpy as np
import pytest

from quartet.infopattern.graph import (
    GraphConfig,
    MiniLMEmbedder,
    build_graph_for_messages,
    is_claim,
    split_claims,
    write_graph,
)
from quartet.infopattern.graph.build import discover_claims, thread_roots
from quartet.infopattern.graph.cluster import class_tfidf_keywords, cluster_claims, medoids
from quartet.infopattern.messages import Message

TOPICS = ("alpha", "beta", "gamma")


class ToyEmbedder:
    """One-hot on the first topic word in the text: claims about one topic are one cluster."""

    def __init__(self):
        self.calls: list[list[str]] = []

    def encode(self, texts: list[str]) -> np.ndarray:
        self.calls.append(list(texts))
        out = np.zeros((len(texts), len(TOPICS) + 1))
        for i, text in enumerate(texts):
            hit = [j for j, w in enumerate(TOPICS) if w in text.lower()]
            out[i, hit[0] if hit else len(TOPICS)] = 1.0
        return out


def day(d: int, h: int = 12) -> datetime:
    return datetime(2024, 5, d, h, tzinfo=UTC)


def messages() -> list[Message]:
    return [
        Message("m1", "The alpha plant is leaking badly.", "A", "left", created_at=day(1, 9)),
        Message("m2", "Officials deny the beta report entirely.", "B", "right", created_at=day(1, 10)),
        Message("m3", "Officials confirm the beta report today. lol", "A", "left", created_at=day(2)),
        Message("m4", "The alpha leak is a hoax story!", "B", "right", created_at=day(3), parent_id="m3"),
        Message("m5", "The gamma vote was rigged everywhere.", "C", "right", created_at=day(4)),
        Message("m6", "Is the alpha plant safe? Gamma vote results are final now.", "A", "left",
                created_at=day(5)),
    ]


def cfg(**kw) -> GraphConfig:
    return replace(GraphConfig(threshold=0.9, min_weight=0.0, window="day"), **kw)


def test_non_claim_rule_drops_questions_fragments_and_links():
    assert not is_claim("Is the plant safe?")
    assert not is_claim("@bob lol")
    assert not is_claim("http://t.co/abc #wow")
    assert not is_claim("RT @x: so true")
    assert is_claim("RT @x: the plant is leaking")
    claims = split_claims(messages())
    assert [(c.message_id, c.index, c.text) for c in claims if c.message_id in ("m3", "m6")] == [
        ("m3", 0, "Officials confirm the beta report today."),
        ("m6", 0, "Gamma vote results are final now."),
    ]


def test_clusters_first_appearance_and_community_counts():
    embedder = ToyEmbedder()
    graph = build_graph_for_messages(messages(), embedder, cfg())
    assert embedder.calls and len(embedder.calls[0]) == 6  # one claim per message after the rule
    by_id = {n["id"]: n for n in graph["nodes"]}
    assert sorted(by_id) == ["c0", "c1", "c2"]  # numbered by first appearance: alpha, beta, gamma
    alpha, beta, gamma = by_id["c0"], by_id["c1"], by_id["c2"]
    assert "alpha" in alpha["name"] and "beta" in beta["name"] and "gamma" in gamma["name"].lower()
    assert (alpha["size"], beta["size"], gamma["size"]) == (2, 2, 2)
    assert alpha["first_seen"] == day(1, 9).isoformat() and alpha["first_message"] == "m1"
    assert alpha["origin_community"] == "left"
    assert beta["origin_community"] == "right" and beta["first_message"] == "m2"
    assert gamma["origin_community"] == "right"
    assert alpha["community_counts"] == {"left": 1, "right": 1}
    assert alpha["community_shares"] == {"left": 0.5, "right": 0.5}
    assert beta["windows"] == [
        {"window": "2024-05-01T00:00:00+00:00", "counts": {"right": 1}},
        {"window": "2024-05-02T00:00:00+00:00", "counts": {"left": 1}},
    ]
    assert [e["id"] for e in alpha["examples"]] == ["m1", "m4"]
    assert "alpha" in alpha["keywords"] and "beta" in beta["keywords"]
    assert graph["meta"]["communities"] == ["left", "right"]


def test_transition_edges_per_author_with_replies_and_pruning():
    # Author streams: A alpha->beta->gamma, B beta->alpha, C gamma. Reply m4 -> m3: beta->alpha.
    graph = build_graph_for_messages(messages(), ToyEmbedder(), cfg())
    edges = {(e["source"], e["target"]): e for e in graph["links"]}
    assert set(edges) == {("c0", "c1"), ("c1", "c2"), ("c1", "c0")}
    assert edges[("c0", "c1")]["weight"] == 1.0
    assert edges[("c1", "c0")]["count"] == 2 and edges[("c1", "c0")]["reply"] == 1
    assert edges[("c1", "c0")]["weight"] == pytest.approx(2 / 3, abs=1e-6)
    assert edges[("c1", "c2")]["weight"] == pytest.approx(1 / 3, abs=1e-6)
    pruned = build_graph_for_messages(messages(), ToyEmbedder(), cfg(min_weight=0.5))
    assert {(e["source"], e["target"]) for e in pruned["links"]} == {("c0", "c1"), ("c1", "c0")}
    only_seq = build_graph_for_messages(messages(), ToyEmbedder(), cfg(edge_sources=("sequence",)))
    assert {(e["source"], e["target"]): e["weight"] for e in only_seq["links"]} == {
        ("c0", "c1"): 1.0, ("c1", "c2"): 0.5, ("c1", "c0"): 0.5}
    only_reply = build_graph_for_messages(messages(), ToyEmbedder(), cfg(edge_sources=("reply",)))
    assert [(e["source"], e["target"], e["count"]) for e in only_reply["links"]] == [("c1", "c0", 1)]


def test_community_and_thread_streams_and_self_loops():
    # Community streams: left m1 alpha, m3 beta, m6 gamma; right m2 beta, m4 alpha, m5 gamma.
    g = build_graph_for_messages(messages(), ToyEmbedder(), cfg(stream="community", edge_sources=("sequence",)))
    assert {(e["source"], e["target"]): e["count"] for e in g["links"]} == {
        ("c0", "c1"): 1, ("c1", "c2"): 1, ("c1", "c0"): 1, ("c0", "c2"): 1}
    msgs = messages() + [Message("m7", "Alpha leak again today.", "D", "left", created_at=day(6), parent_id="m4")]
    assert thread_roots(msgs)["m7"] == "m3" and thread_roots(msgs)["m1"] == "m1"
    g = build_graph_for_messages(msgs, ToyEmbedder(), cfg(stream="thread", edge_sources=("sequence",)))
    assert {(e["source"], e["target"]): e["count"] for e in g["links"]} == {("c1", "c0"): 1}
    g = build_graph_for_messages(msgs, ToyEmbedder(), cfg(stream="thread", edge_sources=("sequence",),
                                                          self_loops=True))
    assert {(e["source"], e["target"]): e["count"] for e in g["links"]} == {("c1", "c0"): 1, ("c0", "c0"): 1}


def test_cluster_helpers_hand_computed():
    e = np.array([[1.0, 0.0], [0.8, 0.6], [0.6, 0.8], [0.0, 1.0]])
    # cos(0,1)=0.8, cos(1,2)=0.96, cos(2,3)=0.8, cos(0,3)=0.
    assert cluster_claims(e, threshold=0.95).tolist() == [0, 1, 1, 2]
    assert cluster_claims(e, threshold=0.0).tolist() == [0, 0, 0, 0]
    labels = np.array([0, 0, 0, 1])
    assert medoids(e, labels) == {0: 1, 1: 3}  # row 1 is closest to rows 0 and 2
    kw = class_tfidf_keywords(["red apple", "red apple pie", "blue sky", "blue sea"], np.array([0, 0, 1, 1]), 2)
    assert kw[0][:2] == ["apple", "red"] and kw[1][0] == "blue"
    with pytest.raises(ValueError, match="max_claims"):
        cluster_claims(np.ones((5, 2)), 0.5, max_claims=4)


def test_empty_input_and_no_claims():
    graph = build_graph_for_messages([Message("q", "Why?")], ToyEmbedder(), cfg())
    assert graph["nodes"] == [] and graph["links"] == [] and graph["meta"]["claims"] == 0


def test_exports_reread_by_networkx(tmp_path):
    graph = build_graph_for_messages(messages(), ToyEmbedder(), cfg())
    for fmt in ("json", "graphml", "gexf"):
        write_graph(graph, tmp_path / f"g.{fmt}")
    data = json.loads((tmp_path / "g.json").read_text())
    from_json = nx.node_link_graph(data, directed=True, multigraph=False, edges="links")
    from_graphml = nx.read_graphml(tmp_path / "g.graphml")
    from_gexf = nx.read_gexf(tmp_path / "g.gexf")
    expected = {(e["source"], e["target"]): e["weight"] for e in graph["links"]}
    for g in (from_json, from_graphml, from_gexf):
        assert g.is_directed() and sorted(g.nodes) == ["c0", "c1", "c2"]
        assert {(u, v): pytest.approx(d["weight"]) for u, v, d in g.edges(data=True)} == expected
    assert from_graphml.nodes["c0"]["size"] == 2 and from_graphml.nodes["c0"]["share_left"] == 0.5
    assert from_gexf.nodes["c1"]["origin_community"] == "right"
    assert from_json.nodes["c0"]["first_seen"] == day(1, 9).isoformat()
    with pytest.raises(ValueError, match="unknown export format"):
        write_graph(graph, tmp_path / "g.xyz")


def test_real_minilm_groups_paraphrases():
    msgs = [
        Message("a1", "The vaccine causes autism in young children.", "u1", "right", created_at=day(1)),
        Message("b1", "The election was stolen through massive voter fraud.", "u2", "right", created_at=day(2)),
        Message("a2", "Vaccines give kids autism.", "u3", "left", created_at=day(3)),
        Message("b2", "Voter fraud stole the election.", "u4", "left", created_at=day(4)),
    ]
    claimset = discover_claims(msgs, MiniLMEmbedder(), GraphConfig(threshold=0.5))
    assert claimset.embeddings.shape == (4, 384)
    assert claimset.labels.tolist() == [0, 1, 0, 1]


def test_zero_embeddings_cluster_alone():
    e = np.array([[1.0, 0.0], [0.0, 0.0], [0.99, 0.1], [0.0, 0.0]])
    assert cluster_claims(e, threshold=0.5).tolist() == [0, 1, 0, 2]
