"""Parent inference on hand-built threads, gold trees, and the evaluation end to end on real data."""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime, timedelta

import numpy as np

from quartet.infopattern.graph import parents as P
from quartet.infopattern.graph.evaluate import author_handles, gold_parents, markdown_table
from quartet.infopattern.messages import Message

T0 = datetime(2024, 5, 1, 12, tzinfo=UTC)


def thread() -> list[Message]:
    # r1 and r3 answer the source s (by @news); r2 answers r1 (by @ann) and says so with @ann.
    return [
        Message("s", "Plane crashes in the Alps", "news", thread_id="s", created_at=T0),
        Message("r1", "@news terrible crash news", "ann", thread_id="s", created_at=T0 + timedelta(minutes=1)),
        Message("r2", "@ann @news it is not confirmed", "bob", thread_id="s", created_at=T0 + timedelta(minutes=2)),
        Message("r3", "@news so sad", "cid", thread_id="s", created_at=T0 + timedelta(minutes=3)),
    ]


def test_baselines_and_addressee_inference():
    msgs = thread()
    gold = {"r1": "s", "r2": "r1", "r3": "s"}
    assert P.baseline_parents(msgs, "source") == {"r1": "s", "r2": "s", "r3": "s"}
    assert P.baseline_parents(msgs, "previous") == {"r1": "s", "r2": "r1", "r3": "r2"}
    # Recency alone picks the previous message; the addressee bonus finds r3's parent by its @news.
    who = {"s": "news", "r1": "ann", "r2": "bob", "r3": "cid"}
    inferred = P.infer_parents(msgs, None, recency_weight=1.0, recency_tau_s=60.0, text_weight=0.0,
                               addressee_weight=1.0, author_handles=who)
    # r2 names both @ann (r1's author) and @news (s's author): the more recent r1 wins.
    assert inferred == gold
    assert P.parent_accuracy(inferred, gold) == {"replies": 3, "recovered": 3, "accuracy": 1.0}
    assert P.parent_accuracy(P.baseline_parents(msgs, "previous"), gold)["recovered"] == 2


def test_text_similarity_picks_the_matching_candidate():
    msgs = thread()
    emb = np.array([[1.0, 0.0], [0.0, 1.0], [0.0, 1.0], [1.0, 0.1]])  # r3 reads like the source
    assert P.infer_parents(msgs, emb)["r3"] == "s" and P.infer_parents(msgs, emb)["r2"] == "r1"


def test_compare_edges_hand_computed():
    t = [{"source": "a", "target": "b", "count": 2}, {"source": "b", "target": "c", "count": 1}]
    p = [{"source": "a", "target": "b", "count": 1}, {"source": "c", "target": "a", "count": 1}]
    d = P.compare_edges(t, p)
    assert (d["shared_edges"], d["precision"], d["recall"], d["jaccard"]) == (1, 0.5, 0.5, 0.3333)
    assert d["weighted_jaccard"] == 0.25  # min sums 1, max sums 2+1+1


def test_gold_tree_and_author_handles(tmp_path):
    d = tmp_path / "event" / "1"
    (d / "source-tweet").mkdir(parents=True)
    (d / "replies").mkdir()
    (d / "structure.json").write_text(json.dumps({"1": {"2": {"4": []}, "3": []}}))
    (d / "source-tweet" / "1.json").write_text(json.dumps({"user": {"screen_name": "News"}}))
    (d / "replies" / "2.json").write_text(json.dumps({"user": {"screen_name": "ann"}}))
    assert gold_parents([d]) == {"2": "1", "4": "2", "3": "1"}
    assert author_handles([d]) == {"1": "News", "2": "ann"}


def test_markdown_table_says_what_was_skipped():
    text = markdown_table({"argkp": {"skipped": "x not found"}, "rumoureval": {"skipped": "y not found"}})
    assert "ArgKP-2021: skipped (x not found)" in text and "RumourEval: skipped (y not found)" in text


def test_eval_verb_on_real_data(social_root, tmp_path, capsys):
    from quartet.infopattern.graph.cli import add_graph_verbs

    p = argparse.ArgumentParser()
    add_graph_verbs(p.add_subparsers(dest="verb", required=True))
    args = p.parse_args(["graph", "eval", "--config", "configs/infopattern/graph_test.yaml", "--runs",
                         str(tmp_path), f"data_dir={social_root}"])
    assert args.handler(args) == 0
    assert "| text+time+addressee |" in capsys.readouterr().out
    art = tmp_path / "infopattern" / "graph_eval_test" / "artifacts"
    result = json.loads((art / "graph_eval.json").read_text())
    argkp, rumour = result["argkp"], result["rumoureval"]
    assert argkp["topics"] == 2 and [r["threshold"] for r in argkp["by_threshold"]] == [0.6, 0.7]
    assert all(-1 <= r["ari"] <= 1 and 0 <= r["nmi"] <= 1 for r in argkp["by_threshold"])
    assert 0 < argkp["kp_precision_direct"] <= 1
    rec = rumour["parent_recovery"]
    assert rumour["threads"] == 5 and rec["source (baseline)"]["replies"] == rumour["replies_with_gold_parent"]
    # The addressee cue beats always answering the source on these threads.
    assert rec["text+time+addressee"]["accuracy"] > rec["source (baseline)"]["accuracy"]
    for fmt in ("json", "graphml", "gexf"):
        assert (art / f"graph_rumoureval.{fmt}").is_file()
    assert (art / "graph_eval.md").read_text().startswith("# Claim-graph evaluation")
