"""The claim-graph verbs of ``quartet infopattern``: ``graph build``, ``graph export``, ``graph eval``.

``quartet.infopattern.cli`` calls ``add_graph_verbs(verbs)`` with its verb subparsers.
Handlers are thin wrappers over library functions; only this module prints.
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

from quartet.core.cliargs import add_config_args, add_verb, config_from_args

EVAL_CONFIG = "configs/infopattern/graph_tiny.yaml"


def _build(args: argparse.Namespace) -> int:
    from quartet.infopattern.graph.config import GraphBuildConfig
    from quartet.infopattern.graph.run import run_graph_build

    cfg = config_from_args(GraphBuildConfig, args)
    flags = {"input": str(args.input) if args.input else None, "name": args.name,
             "since": args.since, "until": args.until}
    cfg = dataclasses.replace(cfg, **{k: v for k, v in flags.items() if v is not None})
    out = run_graph_build(cfg, root=args.runs)
    import json

    meta = json.loads(out.read_text(encoding="utf-8"))["meta"]
    print(f"{meta['messages']} messages -> {meta['claims']} claims -> {meta['clusters']} claim clusters, "
          f"{meta['edges']} edges")
    for path in sorted(out.parent.glob("graph.*")):
        print(f"  {path}")
    return 0


def _export(args: argparse.Namespace) -> int:
    from quartet.infopattern.graph.export import read_graph, write_graph

    path = write_graph(read_graph(args.graph), args.out, args.format)
    print(f"wrote {path}")
    return 0


def _eval(args: argparse.Namespace) -> int:
    from quartet.infopattern.graph.config import GraphEvalConfig
    from quartet.infopattern.graph.evaluate import run_graph_eval

    out = run_graph_eval(config_from_args(GraphEvalConfig, args), root=args.runs)
    print(out.with_suffix(".md").read_text(encoding="utf-8"))
    print(f"wrote {out} and {out.with_suffix('.md')}")
    return 0


def add_graph_verbs(verbs) -> None:
    """Add ``graph {build,export,eval}`` to the ``quartet infopattern`` verb subparsers ``verbs``."""
    group = verbs.add_parser(
        "graph", help="claim-propagation graphs: build from your messages, export, evaluate",
        description="Claim-propagation graphs: claims -> clusters -> a directed, weighted graph across communities.",
        epilog="examples:\n  quartet infopattern graph build --input messages.jsonl\n"
               "  quartet infopattern graph export --graph runs/infopattern/graph_messages/artifacts/graph.json "
               "--out graph.gexf\n  quartet infopattern graph eval --config configs/infopattern/graph_tiny.yaml",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = group.add_subparsers(dest="graph_verb", metavar="<verb>", required=True)

    p = add_verb(sub, "build", _build, "build the claim graph of a messages file (.jsonl or .csv) and export it",
                 "quartet infopattern graph build --input messages.jsonl --since 2024-05-01 graph.threshold=0.6 "
                 "graph.stream=thread")
    p.add_argument("--input", type=Path, help="messages file; fields: text (required), id, author, community, "
                                              "created_at, parent_id, thread_id")
    p.add_argument("--name", help="run name (default graph_<input file name>)")
    p.add_argument("--since", help="keep messages created at or after this ISO time")
    p.add_argument("--until", help="keep messages created before this ISO time")
    p.add_argument("--runs", type=Path, default=None, help="runs folder (default $QUARTET_RUNS or ./runs)")
    add_config_args(p)

    p = add_verb(sub, "export", _export, "convert a graph JSON to GraphML or GEXF (for Gephi) or re-check its JSON",
                 "quartet infopattern graph export --graph runs/infopattern/graph_messages/artifacts/graph.json "
                 "--out graph.gexf")
    p.add_argument("--graph", type=Path, required=True, help="a graph.json written by `graph build` or the web app")
    p.add_argument("--out", type=Path, required=True, help="output file; the suffix picks the format")
    p.add_argument("--format", choices=("json", "graphml", "gexf"), default=None,
                   help="format (default: from the --out suffix)")

    p = add_verb(sub, "eval", _eval, "evaluate claim grouping on ArgKP-2021 and parent recovery on RumourEval",
                 f"quartet infopattern graph eval --config {EVAL_CONFIG}")
    p.add_argument("--runs", type=Path, default=None, help="runs folder (default $QUARTET_RUNS or ./runs)")
    add_config_args(p, EVAL_CONFIG)
