"""Export a claim graph: JSON (the web app's format), GraphML and GEXF (Gephi) via networkx.

GraphML and GEXF attributes must be scalars, so nested fields are flattened:
``community_shares`` becomes ``share_<community>`` floats, keywords a comma-separated string,
and a missing ``first_seen`` an empty string.
"""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import networkx as nx

from quartet.core.io import atomic_write_bytes, atomic_write_text

FORMATS = ("json", "graphml", "gexf")


def to_json_graph(graph: dict[str, Any]) -> dict[str, Any]:
    """The export JSON: nodes with id, name, size, community shares, first_seen (+ extras); links."""
    return {"nodes": graph["nodes"], "links": graph["links"], "meta": graph.get("meta", {})}


def to_networkx(graph: dict[str, Any]) -> nx.DiGraph:
    """A DiGraph with scalar attributes only, ready for GraphML/GEXF."""
    g = nx.DiGraph()
    communities = sorted({c for n in graph["nodes"] for c in n["community_shares"]})
    for node in graph["nodes"]:
        attrs: dict[str, Any] = {
            "label": node["name"],
            "name": node["name"],
            "size": int(node["size"]),
            "messages": int(node.get("messages", node["size"])),
            "first_seen": node.get("first_seen") or "",
            "origin_community": node.get("origin_community") or "",
            "keywords": ", ".join(node.get("keywords", [])),
        }
        for c in communities:
            attrs[f"share_{c}"] = float(node["community_shares"].get(c, 0.0))
        g.add_node(node["id"], **attrs)
    for link in graph["links"]:
        g.add_edge(
            link["source"], link["target"], weight=float(link["weight"]), count=int(link.get("count", 0)),
            sequence=int(link.get("sequence", 0)), reply=int(link.get("reply", 0)),
        )
    return g


def export_bytes(graph: dict[str, Any], fmt: str) -> bytes:
    """The graph serialised as ``fmt`` (one of FORMATS)."""
    if fmt == "json":
        return json.dumps(to_json_graph(graph), ensure_ascii=False, indent=1).encode("utf-8")
    if fmt not in FORMATS:
        raise ValueError(f"unknown export format {fmt!r} (choose from {', '.join(FORMATS)})")
    buffer = io.BytesIO()
    g = to_networkx(graph)
    if fmt == "graphml":
        nx.write_graphml(g, buffer)
    else:
        nx.write_gexf(g, buffer)
    return buffer.getvalue()


def write_graph(graph: dict[str, Any], path: Path | str, fmt: str | None = None) -> Path:
    """Write the graph to ``path``; the format defaults to the file suffix."""
    path = Path(path)
    fmt = fmt or path.suffix.lstrip(".").lower()
    data = export_bytes(graph, fmt)
    if fmt == "json":
        atomic_write_text(path, data.decode("utf-8"))
    else:
        atomic_write_bytes(path, data)
    return path


def read_graph(path: Path | str) -> dict[str, Any]:
    """A graph JSON written by ``write_graph`` (or by hand), checked field by field.

    Nodes need ``id``, ``name``, ``size`` and ``community_shares``; links ``source``, ``target``
    and ``weight``, with both ends among the nodes. Errors name the file and the offending item.
    """
    from quartet.core.records import BadRecordError

    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BadRecordError(path, None, None, "file does not exist") from None
    except (UnicodeDecodeError, ValueError) as err:
        raise BadRecordError(path, getattr(err, "lineno", None), None, f"not a JSON graph: {err}") from None
    if not isinstance(data, dict) or not isinstance(data.get("nodes"), list) or not isinstance(data.get("links"), list):
        raise BadRecordError(path, None, None, 'a graph is a JSON object with "nodes" and "links" lists')
    ids = set()
    for i, node in enumerate(data["nodes"]):
        for key, kind in (("id", str), ("name", str), ("size", int), ("community_shares", dict)):
            if not isinstance(node, dict) or not isinstance(node.get(key), kind):
                raise BadRecordError(path, None, f"nodes[{i}].{key}", f"missing or not a {kind.__name__}")
        ids.add(node["id"])
    for i, link in enumerate(data["links"]):
        for key in ("source", "target"):
            if not isinstance(link, dict) or link.get(key) not in ids:
                raise BadRecordError(path, None, f"links[{i}].{key}", "missing or not a node id")
        if not isinstance(link.get("weight"), int | float):
            raise BadRecordError(path, None, f"links[{i}].weight", "missing or not a number")
    data.setdefault("meta", {})
    return data
