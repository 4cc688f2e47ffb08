"""The claim-graph part of the InfoPattern demo: ``graph_section_parts(root)``.

On RumourEval 2017 dev (when ``$QUARTET_DATA/social`` has it) it builds the claim-propagation
graph of the 25 threads (nodes coloured by the SDQC stance of the messages, the closest thing
to a community the data has), hides the reply links and infers each reply's parent from
text and time, and draws the graph; without the data it builds the graph of a small built-in
message set with left / neutral / right communities. Everything lands under ``root/graph/``;
a second call reads the finished files back (resumable, seconds). On 2 cores the RumourEval
path takes about half a minute, most of it loading MiniLM and embedding ~600 texts.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import networkx as nx
import numpy as np

from quartet.core.demo import Example, Figure, Table
from quartet.core.io import atomic_write_json
from quartet.infopattern.graph.build import build_graph_for_messages
from quartet.infopattern.graph.cluster import Embedder, MiniLMEmbedder
from quartet.infopattern.graph.config import GraphConfig, GraphEvalConfig, RumourEvalConfig
from quartet.infopattern.graph.export import write_graph
from quartet.infopattern.messages import Message

log = logging.getLogger(__name__)
COLOURS = {"left": "#2f6fde", "right": "#d64541", "neutral": "#8a94a6", "support": "#2a9d8f",
           "deny": "#d64541", "query": "#e9a23b", "comment": "#8a94a6", "unknown": "#c3c9d3"}
PALETTE = ["#8e5bd6", "#d6457f", "#4caf50", "#795548", "#00acc1"]


def builtin_messages() -> list[Message]:
    """Three claims spreading across left / neutral / right communities over four days, with replies."""
    t0 = datetime(2024, 5, 1, 8, tzinfo=UTC)
    rows = [  # (hours after t0, author, community, text, parent)
        (0, "ana", "left", "The river plant is dumping chemicals into the water.", None),
        (2, "ben", "left", "Chemicals from the river plant are poisoning our water.", "m0"),
        (5, "cal", "neutral", "Reports say the river plant dumped chemicals into the water.", "m1"),
        (9, "dee", "right", "The chemical dumping story about the river plant is fake news.", "m2"),
        (12, "eve", "right", "The river plant passed every safety inspection this year.", "m3"),
        (20, "fay", "neutral", "The river plant passed its safety inspection, officials say.", "m4"),
        (26, "gus", "left", "The safety inspection of the plant was paid for by the owners.", "m5"),
        (30, "hal", "right", "New taxes on fuel will destroy small businesses.", None),
        (33, "ivy", "right", "Fuel taxes are killing small businesses across the state.", "m7"),
        (40, "jon", "neutral", "Economists disagree on whether fuel taxes hurt small businesses.", "m8"),
        (44, "kim", "left", "Fuel tax money pays for the new bus lines.", "m9"),
        (50, "lee", "left", "The new bus lines are funded by the fuel tax.", "m10"),
        (55, "max", "neutral", "The council confirmed the fuel tax funds the bus lines.", "m11"),
        (60, "ned", "right", "The bus lines are a waste of fuel tax money.", "m12"),
        (66, "ana", "left", "The river plant is still dumping chemicals into the water.", None),
        (70, "cal", "neutral", "Water tests near the river plant found chemicals.", "m14"),
        (75, "eve", "right", "The water tests near the plant were done by activists.", "m15"),
        (80, "oli", "neutral", "Is the water safe to drink?", "m15"),
        (86, "hal", "right", "Small businesses will close because of the fuel taxes.", None),
        (90, "kim", "left", "The fuel tax keeps the bus lines running.", "m18"),
    ]
    return [Message(id=f"m{i}", text=text, author=author, community=community,
                    created_at=t0 + timedelta(hours=h), parent_id=parent, thread_id=None, source="builtin")
            for i, (h, author, community, text, parent) in enumerate(rows)]


def _rumoureval(data_dir: Path | None) -> tuple[list[Message], Path] | None:
    from quartet.infopattern.loaders import load_rumoureval, social_root

    root = data_dir or social_root()
    if not (root / "rumoureval2017" / "dev").is_dir():
        return None
    return load_rumoureval("dev", root), root


def draw_graph(graph: dict[str, Any], path: Path, title: str, top: int = 30) -> Path:
    """A PNG of the ``top`` largest claim clusters: colour = majority community, area = claims, width = weight."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure as MplFigure
    from matplotlib.lines import Line2D

    nodes = sorted(graph["nodes"], key=lambda n: (-n["size"], n["id"]))[:top]
    keep = {n["id"] for n in nodes}
    g = nx.DiGraph()
    for n in nodes:
        g.add_node(n["id"])
    for e in graph["links"]:
        if e["source"] in keep and e["target"] in keep:
            g.add_edge(e["source"], e["target"], weight=e["weight"])
    communities = sorted({c for n in nodes for c in n["community_counts"]})
    colours = {c: COLOURS.get(c.lower(), PALETTE[i % len(PALETTE)]) for i, c in enumerate(communities)}
    pos = nx.spring_layout(g, seed=0, k=1.6 / max(np.sqrt(len(nodes)), 1.0))
    fig = MplFigure(figsize=(9, 7), dpi=110)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(1, 1, 1)
    biggest = max((n["size"] for n in nodes), default=1)
    node_colour = [colours[max(n["community_counts"], key=n["community_counts"].get)] for n in nodes]
    sizes = [120 + 1400 * n["size"] / biggest for n in nodes]
    nx.draw_networkx_edges(g, pos, ax=ax, width=[0.6 + 3 * d["weight"] for _, _, d in g.edges(data=True)],
                           edge_color="#9aa4b2", arrows=True, arrowsize=10, node_size=sizes, alpha=0.8)
    nx.draw_networkx_nodes(g, pos, ax=ax, nodelist=[n["id"] for n in nodes], node_color=node_colour,
                           node_size=sizes, edgecolors="white")
    labels = {n["id"]: ", ".join(n["keywords"][:2]) for n in nodes[:12]}
    nx.draw_networkx_labels(g, pos, labels=labels, ax=ax, font_size=7, verticalalignment="top")
    ax.legend(handles=[Line2D([], [], marker="o", linestyle="", color=colours[c], label=c) for c in communities],
              loc="lower left", fontsize=8, title="majority community", title_fontsize=8)
    ax.set_title(f"{title}\n({len(nodes)} largest of {len(graph['nodes'])} claim clusters; arrow width = transition weight)",
                 fontsize=10)
    ax.axis("off")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    return path


def _graph(root: Path, messages: list[Message], cfg: GraphConfig, embedder: Embedder) -> dict[str, Any]:
    path = root / "graph.json"
    if path.is_file():
        return json.loads(path.read_text(encoding="utf-8"))
    graph = build_graph_for_messages(messages, embedder, cfg)
    for fmt in ("graphml", "gexf", "json"):  # json last: its presence means the stage is done
        write_graph(graph, root / f"graph.{fmt}")
    return graph


def _parents(root: Path, data: Path, embedder: Embedder) -> dict[str, Any]:
    from quartet.infopattern.graph.evaluate import evaluate_rumoureval

    path = root / "parent_recovery.json"
    if path.is_file():
        return json.loads(path.read_text(encoding="utf-8"))
    cfg = GraphEvalConfig(graph=GraphConfig(window="hour", stream="thread", min_weight=0.0),
                          rumoureval=RumourEvalConfig(split="dev"))
    result = evaluate_rumoureval(data, embedder, cfg, None)
    atomic_write_json(path, result)
    return result


def _cluster_rows(graph: dict[str, Any], top: int = 8) -> list[list[Any]]:
    rows = []
    for n in sorted(graph["nodes"], key=lambda n: (-n["size"], n["id"]))[:top]:
        shares = ", ".join(f"{c} {round(100 * s)}%" for c, s in sorted(n["community_shares"].items(), key=lambda x: -x[1]))
        rows.append([n["name"][:120], ", ".join(n["keywords"][:4]), n["size"], n["first_seen"] or "undated",
                     n["origin_community"], shares])
    return rows


def _spread_example(graph: dict[str, Any]) -> Example:
    """How the largest claim travelled: counts per community per time window, in order."""
    n = max(graph["nodes"], key=lambda n: (n["size"], n["id"]))
    steps = [f"{w['window']}: " + ", ".join(f"{c} {k}" for c, k in w["counts"].items()) for w in n["windows"]]
    texts = [f"[{m['community']}] {m['text']}" for m in n["examples"][:4]]
    text = (f"Claim: {n['name']}\nKeywords: {', '.join(n['keywords'])}\nFirst seen {n['first_seen']} in "
            f"{n['origin_community']}; {n['size']} claims in {n['messages']} messages.\nSpread by window:\n  "
            + "\n  ".join(steps[:10]) + "\nMessages:\n  " + "\n  ".join(texts))
    return Example(title="The largest claim cluster and how it spread", text=text)


def graph_section_parts(
    root: Path, data_dir: Path | None = None, embedder: Embedder | None = None
) -> tuple[list[Table], list[Figure], list[Example]]:
    """Tables, figures and examples of the claim-graph demo, computed under ``root/graph`` (resumable)."""
    out = Path(root) / "graph"
    out.mkdir(parents=True, exist_ok=True)
    embedder = embedder or MiniLMEmbedder()
    found = _rumoureval(data_dir)
    if found is not None:
        messages, data = found
        title = "RumourEval 2017 dev: claim graph (colour = majority SDQC stance)"
        cfg = GraphConfig(community_field="stance", window="hour", stream="thread", min_weight=0.1)
    else:
        messages, data = builtin_messages(), None
        title = "Built-in messages: claim graph (colour = majority community)"
        cfg = GraphConfig(window="day", stream="author", min_weight=0.1, threshold=0.6)
    graph = _graph(out, messages, cfg, embedder)
    png = out / "graph.png"
    if not png.is_file():
        draw_graph(graph, png, title)
    meta = graph["meta"]
    tables = [
        Table("Claim-propagation graph", ["data", "messages", "claims", "claim clusters", "edges", "communities"],
              [["RumourEval 2017 dev" if data else "built-in", meta["messages"], meta["claims"], meta["clusters"],
                meta["edges"], ", ".join(meta["communities"])]]),
        Table("Largest claim clusters", ["representative claim", "keywords", "claims", "first seen", "started in",
                                         "community shares"], _cluster_rows(graph)),
    ]
    examples = [_spread_example(graph)] if graph["nodes"] else []
    if data is not None:
        rec = _parents(out, data, embedder)
        tables.append(Table(
            f"Reply-parent recovery with the links hidden ({rec['replies_with_gold_parent']} replies in "
            f"{rec['threads']} threads, gold: structure.json)", ["method", "recovered", "accuracy"],
            [[name, f"{v['recovered']}/{v['replies']}", v["accuracy"]] for name, v in rec["parent_recovery"].items()]))
        d = rec["graph_difference"]
        tables.append(Table(
            f"Claim graph from inferred links ({rec['best_method']}) vs from the true links",
            ["true edges", "inferred edges", "shared", "precision", "recall", "Jaccard"],
            [[d["true_edges"], d["inferred_edges"], d["shared_edges"], d["precision"], d["recall"], d["jaccard"]]]))
    return tables, [Figure(title=title, path=str(png))], examples

