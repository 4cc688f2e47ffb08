"""Reply-parent recovery on RumourEval 2017 with the links hidden: the weight grid behind the defaults.

Claim measured: how often each parent-inference setting recovers the true parent
(``structure.json``), on the train split (where the "+addressee" weights of
``RumourEvalConfig`` were chosen) and on dev (where they are reported), with the ratio
against the "every reply answers the source tweet" baseline measured in the same run.

    OMP_NUM_THREADS=1 QUARTET_DATA=../shared/data .venv/bin/python benchmarks/infopattern_graph_parents.py
"""

from __future__ import annotations

import json
from dataclasses import replace

from quartet.infopattern.graph import parents as P
from quartet.infopattern.graph.cluster import MiniLMEmbedder
from quartet.infopattern.graph.evaluate import author_handles, gold_parents
from quartet.infopattern.loaders import load_rumoureval, social_root


def main() -> None:
    root = social_root()
    embedder = MiniLMEmbedder()
    out: dict = {"benchmark": "infopattern_graph_parents", "data": str(root)}
    for split in ("train", "dev"):
        messages = [replace(m, parent_id=None) for m in load_rumoureval(split, root)]
        dirs = [p for p in (root / "rumoureval2017" / split).glob("*/*") if p.is_dir()]
        present = {m.id for m in messages}
        gold = {k: v for k, v in gold_parents(dirs).items() if k in present and v in present}
        who = author_handles(dirs)
        emb = P.embed_messages(messages, embedder)
        base = P.parent_accuracy(P.baseline_parents(messages, "source"), gold)["accuracy"]
        grid = {}
        for text_w in (0.0, 0.3, 1.0):
            for recency in (0.3, 1.0):
                for tau in (600.0, 3600.0):
                    acc = P.parent_accuracy(P.infer_parents(
                        messages, emb, recency, tau, text_weight=text_w, addressee_weight=1.0, author_handles=who),
                        gold)["accuracy"]
                    grid[f"text={text_w} recency={recency} tau={int(tau)}s"] = acc
        best = max(grid, key=grid.get)
        out[split] = {"replies": len(gold), "source_baseline": base, "grid": grid, "best": best,
                      "best_accuracy": grid[best], "best_ratio_vs_source": round(grid[best] / base, 3)}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
