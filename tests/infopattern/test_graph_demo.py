"""The claim-graph demo parts: built-in messages (no data) with a fast embedder, and resumption."""

from __future__ import annotations

import re
import zlib

import numpy as np

from quartet.infopattern.graph.demo import builtin_messages, graph_section_parts


class WordHashEmbedder:
    """Bag of hashed content words (deterministic, instant); counts calls to show resumption."""

    def __init__(self):
        self.calls = 0

    def encode(self, texts):
        self.calls += 1
        out = np.zeros((len(texts), 512))
        for i, text in enumerate(texts):
            for word in re.findall(r"[a-z]{4,}", text.lower()):
                out[i, zlib.crc32(word.encode()) % 512] += 1.0
        return out


def test_builtin_messages_are_valid_and_replies_point_back():
    msgs = builtin_messages()
    ids = [m.id for m in msgs]
    assert len(set(ids)) == len(ids) == 20
    assert {m.community for m in msgs} == {"left", "neutral", "right"}
    assert all(m.parent_id in ids[: ids.index(m.id)] for m in msgs if m.parent_id)


def test_graph_section_parts_without_data_then_resume(tmp_path):
    embedder = WordHashEmbedder()
    tables, figures, examples = graph_section_parts(tmp_path, data_dir=tmp_path / "no-data", embedder=embedder)
    summary = tables[0]
    assert summary.rows[0][0] == "built-in" and summary.rows[0][1] == 20
    assert summary.rows[0][5] == "left, neutral, right"
    assert [t.title for t in tables] == ["Claim-propagation graph", "Largest claim clusters"]
    sizes = [row[2] for row in tables[1].rows]
    assert sizes == sorted(sizes, reverse=True) and sum(sizes) <= summary.rows[0][2]
    png = tmp_path / "graph" / "graph.png"
    assert figures[0].path == str(png) and png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    for fmt in ("json", "graphml", "gexf"):
        assert (tmp_path / "graph" / f"graph.{fmt}").is_file()
    assert examples[0].text.startswith("Claim: ") and "Spread by window:" in examples[0].text
    calls = embedder.calls
    again = graph_section_parts(tmp_path, data_dir=tmp_path / "no-data", embedder=embedder)
    assert embedder.calls == calls  # finished files are read back, nothing is recomputed
    assert again[0][1].rows == tables[1].rows


def test_graph_section_parts_on_rumoureval(social_root, tmp_path):
    tables, figures, _ = graph_section_parts(tmp_path, data_dir=social_root, embedder=WordHashEmbedder())
    assert tables[0].rows[0][0] == "RumourEval 2017 dev" and tables[0].rows[0][1] == 281
    assert tables[0].rows[0][5] == "comment, deny, query, support"
    recovery = {row[0]: row for row in tables[2].rows}
    assert recovery["source (baseline)"][1] == "158/256"  # 158 of the 256 replies answer the source tweet
    assert recovery["time+addressee"][2] > recovery["source (baseline)"][2]
    assert tables[3].columns[:3] == ["true edges", "inferred edges", "shared"]
