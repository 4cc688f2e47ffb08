"""Evaluate claim graphs on real data: ArgKP-2021 claim grouping, RumourEval parent recovery.

``run_graph_eval(cfg)`` writes ``artifacts/graph_eval.json`` and ``graph_eval.md`` in the run
directory, plus the RumourEval claim graph (true reply links) as JSON/GraphML/GEXF for the
web app. A data set that is not there is recorded as skipped, with the reason.
"""

from __future__ import annotations

import csv
import logging
from collections import defaultdict
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.cluster import AgglomerativeClustering
from sklearn.metrics import adjusted_rand_score, normalized_mutual_info_score

from quartet.core.io import atomic_write_json, atomic_write_text
from quartet.core.runs import open_run, runs_root
from quartet.core.seeding import seed_everything
from quartet.infopattern.graph import parents as P
from quartet.infopattern.graph.build import ClaimSet, build_graph, discover_claims
from quartet.infopattern.graph.claims import clean_claim
from quartet.infopattern.graph.cluster import (
    Embedder,
    MiniLMEmbedder,
    cluster_claims,
    medoids,
    normalize_rows,
)
from quartet.infopattern.graph.config import GraphEvalConfig
from quartet.infopattern.graph.export import write_graph
from quartet.infopattern.loaders import load_rumoureval, social_root

log = logging.getLogger(__name__)
ARGKP_FILE = Path("ibm_debater") / "ArgKP-2021.train_dev.csv"


def read_argkp(path: Path) -> list[dict[str, str]]:
    """Rows of the ArgKP-2021 CSV (topic, argument, key_point, stance, label)."""
    with path.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    for column in ("topic", "argument", "key_point", "stance", "label"):
        if rows and column not in rows[0]:
            raise ValueError(f"{path}: column {column!r} missing (header has {list(rows[0])})")
    return rows


def evaluate_argkp(rows: list[dict[str, str]], embedder: Embedder, cfg: GraphEvalConfig) -> dict[str, Any]:
    """ARI/NMI of threshold clusters against gold key points, and key-point matching precision.

    Gold: each (topic, stance) group's arguments that match exactly one key point, labelled by it.
    Matching precision: an argument's predicted key point is the most similar one of its group,
    either directly (argument -> KP) or through its cluster's medoid (cluster -> KP); precision is
    the share of predicted pairs that the gold data labels as matching (over labelled pairs).
    """
    topics = sorted({r["topic"] for r in rows})
    if cfg.argkp.max_topics:
        topics = topics[: cfg.argkp.max_topics]
    labelled: dict[tuple[str, str], int] = {}
    positives: dict[str, list[str]] = defaultdict(list)
    groups: dict[tuple[str, str], dict[str, set]] = defaultdict(lambda: {"args": set(), "kps": set()})
    for r in rows:
        if r["topic"] not in topics:
            continue
        key = (r["topic"], r["stance"])
        groups[key]["args"].add(r["argument"])
        groups[key]["kps"].add(r["key_point"])
        labelled[(r["argument"], r["key_point"])] = int(r["label"])
        if r["label"] == "1":
            positives[r["argument"]].append(r["key_point"])
    per_threshold: dict[float, dict[str, list]] = {t: defaultdict(list) for t in cfg.argkp.thresholds}
    per_oracle: dict[str, list] = defaultdict(list)  # the same clustering cut at the gold number of key points
    direct_hits, direct_n, n_args = 0, 0, 0
    for key in sorted(groups):
        args = sorted(a for a in groups[key]["args"] if len(positives.get(a, [])) == 1)
        kps = sorted(groups[key]["kps"])
        if len(args) < 2:
            continue
        n_args += len(args)
        gold = [kps.index(positives[a][0]) for a in args]
        emb = normalize_rows(embedder.encode([clean_claim(a) or a for a in args]).astype(np.float64))
        kp_emb = normalize_rows(embedder.encode(kps).astype(np.float64))
        sims = emb @ kp_emb.T  # (A, K)
        for a, k in zip(args, sims.argmax(axis=1), strict=True):
            if (a, kps[k]) in labelled:
                direct_n += 1
                direct_hits += labelled[(a, kps[k])]
        k_gold = len(set(gold))
        for linkage in ("average", "ward"):  # ward on unit vectors ~ cosine k-means
            metric = "cosine" if linkage == "average" else "euclidean"
            oracle = AgglomerativeClustering(n_clusters=k_gold, metric=metric, linkage=linkage).fit_predict(emb)
            per_oracle[f"{linkage}_ari"].append(adjusted_rand_score(gold, oracle))
            per_oracle[f"{linkage}_nmi"].append(normalized_mutual_info_score(gold, oracle))
        for t in cfg.argkp.thresholds:
            labels = cluster_claims(emb, t)
            res = per_threshold[t]
            res["ari"].append(adjusted_rand_score(gold, labels))
            res["nmi"].append(normalized_mutual_info_score(gold, labels))
            res["clusters"].append(int(labels.max()) + 1)
            res["gold_kps"].append(len(set(gold)))
            for cluster, m in medoids(emb, labels).items():
                k = int(np.argmax(kp_emb @ emb[m]))
                for i in np.flatnonzero(labels == cluster):
                    if (args[i], kps[k]) in labelled:
                        res["hits"].append(labelled[(args[i], kps[k])])
    out = {
        "topics": len(topics), "groups": sum(1 for _ in per_threshold[cfg.argkp.thresholds[0]]["ari"]),
        "arguments": n_args,
        "kp_precision_direct": round(direct_hits / direct_n, 4) if direct_n else None,
        "oracle_k": {k: round(float(np.mean(v)), 4) for k, v in sorted(per_oracle.items())},
        "by_threshold": [],
    }
    for t, res in per_threshold.items():
        out["by_threshold"].append({
            "threshold": t, "ari": round(float(np.mean(res["ari"])), 4), "nmi": round(float(np.mean(res["nmi"])), 4),
            "clusters": int(np.sum(res["clusters"])), "gold_key_points": int(np.sum(res["gold_kps"])),
            "kp_precision_cluster": round(float(np.mean(res["hits"])), 4) if res["hits"] else None,
        })
    return out


def gold_parents(thread_dirs: list[Path]) -> dict[str, str]:
    """Child id -> parent id from every thread's ``structure.json`` (the gold reply tree)."""
    import json

    gold: dict[str, str] = {}

    def walk(tree: Any, parent: str | None) -> None:
        if not isinstance(tree, dict):
            return
        for node, children in tree.items():
            if parent is not None:
                gold[str(node)] = parent
            walk(children, str(node))

    for d in thread_dirs:
        walk(json.loads((d / "structure.json").read_text(encoding="utf-8")), None)
    return gold


def author_handles(thread_dirs: list[Path]) -> dict[str, str]:
    """Tweet id -> its author's screen name, from the tweet files (who wrote a message, not whom it answers)."""
    import json

    out: dict[str, str] = {}
    for d in thread_dirs:
        for path in [*(d / "source-tweet").glob("*.json"), *(d / "replies").glob("*.json")]:
            user = json.loads(path.read_text(encoding="utf-8")).get("user") or {}
            if user.get("screen_name"):
                out[path.stem] = str(user["screen_name"])
    return out


def evaluate_rumoureval(
    root: Path, embedder: Embedder, cfg: GraphEvalConfig, artifacts: Path | None = None
) -> dict[str, Any]:
    """Hide the reply links, infer parents from text and time, score against ``structure.json``."""
    rc = cfg.rumoureval
    messages = load_rumoureval(rc.split, root)
    threads = sorted({m.thread_id for m in messages})
    if rc.max_threads:
        keep = set(threads[: rc.max_threads])
        messages = [m for m in messages if m.thread_id in keep]
    thread_dirs = [p for p in (root / "rumoureval2017" / rc.split).glob("*/*") if p.is_dir()]
    gold_all = gold_parents(thread_dirs)
    who = author_handles(thread_dirs)
    present = {m.id for m in messages}
    gold = {mid: par for mid, par in gold_all.items() if mid in present and par in present}
    hidden = [replace(m, parent_id=None) for m in messages]  # nothing below sees the true links
    emb = P.embed_messages(hidden, embedder)
    methods = {
        "source (baseline)": P.baseline_parents(hidden, "source"),
        "previous (baseline)": P.baseline_parents(hidden, "previous"),
        "text": P.infer_parents(hidden, emb),
        "text+time": P.infer_parents(hidden, emb, rc.recency_weight, rc.recency_tau_s),
        "text+time+mentions": P.infer_parents(hidden, emb, rc.recency_weight, rc.recency_tau_s, rc.mention_weight),
        "text+time+mentions+root prior": P.infer_parents(
            hidden, emb, rc.recency_weight, rc.recency_tau_s, rc.mention_weight, root_weight=rc.root_weight),
        "time+addressee": P.infer_parents(
            hidden, None, rc.addressee_recency_weight, rc.recency_tau_s, text_weight=0.0,
            addressee_weight=rc.addressee_weight, author_handles=who),
        "text+time+addressee": P.infer_parents(
            hidden, emb, rc.addressee_recency_weight, rc.recency_tau_s, text_weight=rc.addressee_text_weight,
            addressee_weight=rc.addressee_weight, author_handles=who),
    }
    scores = {name: P.parent_accuracy(inferred, gold) for name, inferred in methods.items()}
    if rc.graph_method not in methods:
        raise ValueError(f"rumoureval.graph_method: {rc.graph_method!r} is not one of {list(methods)}")
    best = rc.graph_method
    # One clustering, two edge sets: the graphs differ only by which reply links made them.
    gcfg = replace(cfg.graph, edge_sources=("reply",), community_field="stance")
    claimset: ClaimSet = discover_claims(hidden, embedder, gcfg)
    true_graph = build_graph(claimset, P.with_parents(hidden, gold), gcfg)
    inferred_graph = build_graph(claimset, P.with_parents(hidden, methods[best]), gcfg)
    if artifacts is not None:
        for fmt in ("json", "graphml", "gexf"):
            write_graph(true_graph, artifacts / f"graph_rumoureval.{fmt}")
        write_graph(inferred_graph, artifacts / "graph_rumoureval_inferred.json")
    return {
        "split": rc.split, "threads": len({m.thread_id for m in messages}), "messages": len(messages),
        "replies_with_gold_parent": len(gold),
        "replies_whose_gold_parent_is_the_source": sum(
            par == next(m.thread_id for m in messages if m.id == mid) for mid, par in gold.items()),
        "parent_recovery": scores, "best_method": best,
        "graph_claims": true_graph["meta"]["claims"], "graph_clusters": true_graph["meta"]["clusters"],
        "graph_difference": P.compare_edges(true_graph["links"], inferred_graph["links"]),
    }


def markdown_table(result: dict[str, Any]) -> str:
    """The eval as Markdown tables."""
    lines = ["# Claim-graph evaluation", ""]
    argkp = result.get("argkp", {})
    if "skipped" in argkp:
        lines += [f"ArgKP-2021: skipped ({argkp['skipped']})", ""]
    elif argkp:
        lines += [
            f"## ArgKP-2021 claim grouping ({argkp['topics']} topics, {argkp['groups']} topic-stance groups, "
            f"{argkp['arguments']} arguments)", "",
            f"Key-point matching precision, argument -> nearest key point: {argkp['kp_precision_direct']}", "",
            "| cosine threshold | ARI | NMI | clusters | gold key points | KP precision (cluster medoid) |",
            "|---|---|---|---|---|---|",
        ]
        lines += [f"| {r['threshold']} | {r['ari']} | {r['nmi']} | {r['clusters']} | {r['gold_key_points']} | "
                  f"{r['kp_precision_cluster']} |" for r in argkp["by_threshold"]]
        o, gold_k = argkp.get("oracle_k", {}), argkp["by_threshold"][0]["gold_key_points"]
        for linkage in ("average", "ward"):
            if f"{linkage}_ari" in o:
                lines.append(f"| reference: {linkage} linkage cut at the gold k | {o[f'{linkage}_ari']} | "
                             f"{o[f'{linkage}_nmi']} | {gold_k} | {gold_k} | - |")
        lines.append("")
    rumour = result.get("rumoureval", {})
    if "skipped" in rumour:
        lines += [f"RumourEval: skipped ({rumour['skipped']})", ""]
    elif rumour:
        lines += [
            f"## RumourEval {rumour['split']}: parent recovery with reply links hidden ({rumour['threads']} threads, "
            f"{rumour['replies_with_gold_parent']} replies; {rumour['replies_whose_gold_parent_is_the_source']} "
            "answer the source)", "",
            "| method | recovered | accuracy |", "|---|---|---|",
        ]
        lines += [f"| {k} | {v['recovered']}/{v['replies']} | {v['accuracy']} |"
                  for k, v in rumour["parent_recovery"].items()]
        d = rumour["graph_difference"]
        lines += [
            "", f"Claim graph ({rumour['graph_clusters']} clusters) from inferred links ({rumour['best_method']}) "
            "vs true links:", "",
            "| true edges | inferred edges | shared | precision | recall | Jaccard | weighted Jaccard |",
            "|---|---|---|---|---|---|---|",
            f"| {d['true_edges']} | {d['inferred_edges']} | {d['shared_edges']} | {d['precision']} | "
            f"{d['recall']} | {d['jaccard']} | {d['weighted_jaccard']} |", "",
        ]
    return "\n".join(lines)


def run_graph_eval(cfg: GraphEvalConfig, embedder: Embedder | None = None, root: Path | None = None) -> Path:
    """Both evaluations into ``<runs>/infopattern/<name>/artifacts/graph_eval.{json,md}``; returns the JSON path.

    A finished run (same config) is not recomputed. ``root`` is the runs folder (default ``runs_root()``).
    """
    seed_everything(cfg.seed)
    run = open_run((root or runs_root()) / "infopattern" / cfg.name, cfg)
    out = run.artifacts / "graph_eval.json"
    if run.stage_done("graph_eval") and out.is_file():
        log.info("graph evaluation already done: %s", out)
        return out
    data = Path(cfg.data_dir) if cfg.data_dir else social_root()
    embedder = embedder or MiniLMEmbedder()
    result: dict[str, Any] = {"data_dir": str(data)}
    argkp_path = data / ARGKP_FILE
    if argkp_path.is_file():
        result["argkp"] = evaluate_argkp(read_argkp(argkp_path), embedder, cfg)
    else:
        result["argkp"] = {"skipped": f"{argkp_path} not found"}
    if (data / "rumoureval2017" / cfg.rumoureval.split).is_dir():
        result["rumoureval"] = evaluate_rumoureval(data, embedder, cfg, run.artifacts)
    else:
        result["rumoureval"] = {"skipped": f"{data / 'rumoureval2017' / cfg.rumoureval.split} not found"}
    atomic_write_json(out, result)
    atomic_write_text(run.artifacts / "graph_eval.md", markdown_table(result))
    run.mark_stage_done("graph_eval")
    log.info("wrote %s", out)
    return out
