"""``run_graph_build``: a messages file -> a claim graph in a run directory (what ``graph build`` runs).

The run directory ``runs/infopattern/<name>/`` holds ``config.yaml`` and
``artifacts/graph.{json,graphml,gexf}``; ``quartet serve --runs runs`` lists the graph.
A rerun with the same config finds the stage done and returns at once.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from quartet.core.runs import open_run, runs_root
from quartet.infopattern.graph.build import build_graph_for_messages
from quartet.infopattern.graph.cluster import Embedder
from quartet.infopattern.graph.config import GraphBuildConfig
from quartet.infopattern.graph.export import FORMATS, write_graph
from quartet.infopattern.graph.io import read_messages
from quartet.infopattern.messages import Message

log = logging.getLogger(__name__)


def parse_time(value: str, what: str) -> datetime | None:
    """An ISO date/time (UTC when no zone is given); "" is None.

    >>> parse_time("2024-05-01", "since").isoformat()
    '2024-05-01T00:00:00+00:00'
    """
    if not value:
        return None
    try:
        t = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"{what}: {value!r} is not an ISO date or time (e.g. 2024-05-01 or 2024-05-01T12:00)") from None
    return t if t.tzinfo else t.replace(tzinfo=UTC)


def filter_time(messages: Sequence[Message], since: datetime | None, until: datetime | None) -> list[Message]:
    """Messages with ``since <= created_at < until``; undated messages are kept only without bounds."""
    if since is None and until is None:
        return list(messages)
    return [m for m in messages if m.created_at is not None
            and (since is None or m.created_at >= since) and (until is None or m.created_at < until)]


def run_graph_build(cfg: GraphBuildConfig, embedder: Embedder | None = None, root: Path | None = None) -> Path:
    """Build and export the graph of ``cfg.input``; returns the run's ``artifacts/graph.json``."""
    if not cfg.input:
        raise ValueError("input: give the messages file (.jsonl or .csv) to build the graph from")
    bad = [f for f in cfg.formats if f not in FORMATS]
    if bad or "json" not in cfg.formats:
        raise ValueError(f"formats: {list(cfg.formats)} must include json and only use {list(FORMATS)}")
    since, until = parse_time(cfg.since, "since"), parse_time(cfg.until, "until")
    name = cfg.name or f"graph_{Path(cfg.input).stem}"
    run = open_run((root or runs_root()) / "infopattern" / name, cfg)
    out = run.artifacts / "graph.json"
    if run.stage_done("graph") and out.is_file():
        log.info("graph already built: %s", out)
        return out
    messages = filter_time(read_messages(cfg.input), since, until)
    if not messages:
        raise ValueError(f"no message of {cfg.input} falls between since={cfg.since!r} and until={cfg.until!r}")
    graph = build_graph_for_messages(messages, embedder, cfg.graph)
    graph["meta"]["input"] = str(cfg.input)
    for fmt in cfg.formats:
        write_graph(graph, run.artifacts / f"graph.{fmt}")
    run.log_metrics({k: graph["meta"][k] for k in ("messages", "claims", "clusters", "edges")})
    run.mark_stage_done("graph")
    log.info("wrote %s (%d claims, %d clusters, %d edges)", out, graph["meta"]["claims"],
             graph["meta"]["clusters"], graph["meta"]["edges"])
    return out
