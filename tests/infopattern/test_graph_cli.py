"""The graph verbs end to end: build from a messages file, export, eval; each verb's --help has an example."""

from __future__ import annotations

import argparse
import json

import networkx as nx
import pytest

from quartet.core.records import BadRecordError
from quartet.infopattern.graph.cli import add_graph_verbs
from quartet.infopattern.graph.export import read_graph
from quartet.infopattern.graph.io import read_messages
from quartet.infopattern.graph.run import filter_time, parse_time

ROWS = [
    {"id": "m1", "text": "The alpha plant is leaking badly.", "author": "A", "community": "left",
     "created_at": "2024-05-01T09:00:00Z"},
    {"id": "m2", "text": "Officials deny the beta report entirely.", "author": "B", "community": "right",
     "created_at": "2024-05-01T10:00:00Z"},
    {"id": "m3", "text": "Officials confirm the beta report today.", "author": "A", "community": "left",
     "created_at": "2024-05-02T12:00:00Z"},
    {"id": "m4", "text": "The alpha leak is a hoax story!", "author": "B", "community": "right",
     "created_at": "2024-05-03T12:00:00Z", "parent_id": "m3"},
]


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="quartet infopattern")
    add_graph_verbs(p.add_subparsers(dest="verb", required=True))
    return p


def run(argv: list[str]) -> int:
    args = parser().parse_args(argv)
    return args.handler(args)


@pytest.fixture
def messages_file(tmp_path):
    path = tmp_path / "messages.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in ROWS) + "\n")
    return path


@pytest.fixture(autouse=True)
def toy_embedder(monkeypatch):
    """The CLI's MiniLM replaced by a topic one-hot (instant, known clusters)."""
    import numpy as np

    class Toy:
        def encode(self, texts):
            out = np.zeros((len(texts), 3))
            for i, t in enumerate(texts):
                out[i, 0 if "alpha" in t.lower() else 1 if "beta" in t.lower() else 2] = 1.0
            return out

    monkeypatch.setattr("quartet.infopattern.graph.build.MiniLMEmbedder", Toy)


@pytest.mark.parametrize("verb", ["build", "export", "eval"])
def test_every_verb_help_shows_an_example(verb, capsys):
    with pytest.raises(SystemExit):
        parser().parse_args(["graph", verb, "--help"])
    out = capsys.readouterr().out
    assert "example:" in out and f"quartet infopattern graph {verb}" in out


def test_build_then_export_end_to_end(messages_file, tmp_path, capsys):
    runs = tmp_path / "runs"
    assert run(["graph", "build", "--input", str(messages_file), "--runs", str(runs), "graph.min_weight=0"]) == 0
    out = capsys.readouterr().out
    assert "4 messages -> 4 claims -> 2 claim clusters" in out
    art = runs / "infopattern" / "graph_messages" / "artifacts"
    graph = read_graph(art / "graph.json")
    assert [n["size"] for n in graph["nodes"]] == [2, 2]
    assert graph["nodes"][0]["origin_community"] == "left" and graph["nodes"][1]["origin_community"] == "right"
    assert nx.read_gexf(art / "graph.gexf").number_of_nodes() == 2
    assert (runs / "infopattern" / "graph_messages" / "config.yaml").is_file()
    # A second run finds the stage done and leaves the files alone.
    before = (art / "graph.json").stat().st_mtime_ns
    assert run(["graph", "build", "--input", str(messages_file), "--runs", str(runs), "graph.min_weight=0"]) == 0
    assert (art / "graph.json").stat().st_mtime_ns == before
    # export converts to GraphML that networkx reads back with the same edges.
    target = tmp_path / "out" / "g.graphml"
    assert run(["graph", "export", "--graph", str(art / "graph.json"), "--out", str(target)]) == 0
    g = nx.read_graphml(target)
    assert {(u, v) for u, v in g.edges} == {(e["source"], e["target"]) for e in graph["links"]}


def test_build_with_time_window(messages_file, tmp_path, capsys):
    runs = tmp_path / "runs"
    assert run(["graph", "build", "--input", str(messages_file), "--runs", str(runs), "--name", "may2",
                "--since", "2024-05-02", "--until", "2024-05-03"]) == 0
    assert "1 messages -> 1 claims -> 1 claim clusters" in capsys.readouterr().out
    with pytest.raises(ValueError, match="no message"):
        run(["graph", "build", "--input", str(messages_file), "--runs", str(runs), "--name", "none",
             "--since", "2030-01-01"])
    with pytest.raises(ValueError, match="since: 'May 2' is not an ISO date"):
        parse_time("May 2", "since")


def test_filter_time_bounds_are_half_open():
    from quartet.infopattern.messages import Message

    msgs = [Message(r["id"], r["text"], created_at=parse_time(r["created_at"], "t")) for r in ROWS]
    kept = filter_time(msgs, parse_time("2024-05-01T10:00", "s"), parse_time("2024-05-03T12:00:00Z", "u"))
    assert [m.id for m in kept] == ["m2", "m3"]
    assert filter_time(msgs + [Message("x", "undated")], None, None)[-1].id == "x"


def test_bad_message_files_name_file_line_and_field(tmp_path):
    bad_json = tmp_path / "bad.jsonl"
    bad_json.write_text(json.dumps(ROWS[0]) + "\n{not json\n")
    with pytest.raises(BadRecordError) as err:
        read_messages(bad_json)
    assert err.value.line == 2 and "bad.jsonl" in str(err.value)
    bad_time = tmp_path / "t.csv"
    bad_time.write_text("id,text,created_at\n1,The plant is leaking now.,yesterday\n")
    with pytest.raises(BadRecordError) as err:
        read_messages(bad_time)
    assert (err.value.line, err.value.field) == (2, "created_at")
    no_text = tmp_path / "n.csv"
    no_text.write_text("id,body\n1,hi\n")
    with pytest.raises(BadRecordError, match="needs a 'text' column"):
        read_messages(no_text)
    dup = tmp_path / "d.jsonl"
    dup.write_text(json.dumps(ROWS[0]) + "\n" + json.dumps(ROWS[0]) + "\n")
    with pytest.raises(BadRecordError, match="'m1' appears 2 times"):
        read_messages(dup)
    with pytest.raises(BadRecordError, match=r"\.jsonl or \.csv"):
        read_messages(tmp_path / "m.txt")


def test_export_rejects_a_broken_graph(tmp_path):
    path = tmp_path / "g.json"
    path.write_text(json.dumps({"nodes": [{"id": "c0", "name": "x", "size": 1, "community_shares": {}}],
                                "links": [{"source": "c0", "target": "c9", "weight": 1.0}]}))
    with pytest.raises(BadRecordError, match=r"links\[0\]\.target"):
        run(["graph", "export", "--graph", str(path), "--out", str(tmp_path / "g.gexf")])
    path.write_text("[1, 2]")
    with pytest.raises(BadRecordError, match="nodes"):
        read_graph(path)
