"""Claim-propagation graphs: claims -> clusters -> a directed, weighted graph across communities.

``build_graph_for_messages(messages)`` is the one-call entry; ``discover_claims`` +
``build_graph`` let a caller reuse one clustering with different edges (see evaluate.py).
"""

from quartet.infopattern.graph.build import (
    ClaimSet,
    build_graph,
    build_graph_for_messages,
    discover_claims,
)
from quartet.infopattern.graph.claims import Claim, is_claim, split_claims
from quartet.infopattern.graph.cluster import Embedder, MiniLMEmbedder, cluster_claims
from quartet.infopattern.graph.config import GraphConfig, GraphEvalConfig
from quartet.infopattern.graph.export import export_bytes, to_networkx, write_graph

__all__ = [
    "Claim", "ClaimSet", "Embedder", "GraphConfig", "GraphEvalConfig", "MiniLMEmbedder", "build_graph",
    "build_graph_for_messages", "cluster_claims", "discover_claims", "export_bytes", "is_claim",
    "split_claims", "to_networkx", "write_graph",
]
