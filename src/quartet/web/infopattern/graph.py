"""Claim-graph API: list graphs, fetch one, list a node's messages, export JSON / GraphML / GEXF."""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Depends, HTTPException
from fastapi.responses import Response

from quartet.infopattern.graph.export import export_bytes
from quartet.web.services import GraphStore, get_graphs

router = APIRouter(prefix="/api/infopattern/graphs", tags=["infopattern: propagation graphs"])
MEDIA = {"json": "application/json", "graphml": "application/xml", "gexf": "application/xml"}


@router.get("", summary="Available claim graphs")
def list_graphs(store: GraphStore = Depends(get_graphs)) -> list[dict[str, Any]]:
    return [{"id": gid, "title": store.titles.get(gid, gid), "nodes": len(g["nodes"]), "links": len(g["links"])}
            for gid, g in sorted(store.graphs.items())]


@router.get("/{graph_id}", summary="One claim graph (nodes, links, meta)")
def get_graph(graph_id: str, store: GraphStore = Depends(get_graphs)) -> dict[str, Any]:
    return store.get(graph_id)


@router.get("/{graph_id}/nodes/{node_id}/messages", summary="The messages behind one claim node")
def node_messages(graph_id: str, node_id: str, store: GraphStore = Depends(get_graphs)) -> dict[str, Any]:
    node = next((n for n in store.get(graph_id)["nodes"] if n["id"] == node_id), None)
    if node is None:
        raise HTTPException(404, f"graph {graph_id!r} has no node {node_id!r}")
    return {"id": node_id, "name": node["name"], "messages": node.get("examples", []),
            "total": node.get("messages", len(node.get("examples", [])))}


@router.get("/{graph_id}/export", summary="Download the graph as JSON, GraphML or GEXF")
def export(graph_id: str, format: Literal["json", "graphml", "gexf"] = "json",
           store: GraphStore = Depends(get_graphs)) -> Response:
    data = export_bytes(store.get(graph_id), format)
    safe = "".join(c if c.isalnum() or c in "._-" else "_" for c in graph_id)
    return Response(data, media_type=MEDIA[format],
                    headers={"Content-Disposition": f'attachment; filename="{safe}.{format}"'})
