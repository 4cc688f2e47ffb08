"""Evaluating R-Tuning questions in padded batches against one question at a time.

``quartet.refusal.evaluate.evaluate_items`` answers a batch of questions with one padded,
KV-cached generation call and reads P(sure) for the whole batch in one forward pass. The
baseline, measured in the same run on the same model and questions, is batch size 1 (what a
loop over ``model.generate`` per question does). Both give the same answers (checked; P(sure)
and confidences agree to float tolerance); the ratio of throughputs is the claim (target >= 4).

    python benchmarks/refusal_eval_batching.py [--questions 256] [--batch 64]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import torch

from quartet.lm.builtin import BuiltinLM
from quartet.lm.model import ModelConfig
from quartet.lm.tokenizer import Tokenizer
from quartet.refusal.build import DEFAULT_REFUSALS
from quartet.refusal.certainty import certainty_suffix
from quartet.refusal.data import world_items
from quartet.refusal.evaluate import evaluate_items
from quartet.worlds import facts


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--questions", type=int, default=256)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    world = facts.build_world(facts.WorldSpec(n_persons=200, n_companies=40, n_countries=20, n_cities=40), seed=0)
    items = world_items(facts.qa_items(world, "train") + facts.qa_items(world, "test_ood"))[: args.questions]
    docs = facts.pretraining_corpus(world)
    tok = Tokenizer.train(docs + facts.vocabulary_texts(world) + [certainty_suffix(True) + certainty_suffix(False)],
                          kind="word")
    lm = BuiltinLM.create(ModelConfig(vocab_size=tok.vocab_size, dim=64, n_layers=2, n_heads=4, max_seq_len=96),
                          tok, seed=0, batch_size=args.batch)

    def run(batch: int, directory: Path) -> tuple[float, dict]:
        start = time.perf_counter()
        out = evaluate_items(lm, items, directory / f"b{batch}.jsonl", DEFAULT_REFUSALS, batch_size=batch,
                             max_new_tokens=8)
        return time.perf_counter() - start, out

    with tempfile.TemporaryDirectory() as tmp:
        evaluate_items(lm, items[:8], Path(tmp) / "warm.jsonl", DEFAULT_REFUSALS, batch_size=8)  # warm-up
        t_batched, batched = run(args.batch, Path(tmp))
        t_single, single = run(1, Path(tmp))
    same_answers = all(batched[k]["prediction"] == single[k]["prediction"] for k in single)
    max_diff = max(abs(batched[k][f] - single[k][f]) for k in single for f in ("p_sure", "answer_conf"))
    print(json.dumps({
        "benchmark": "refusal_eval_batching", "questions": len(items), "batch": args.batch, "threads": args.threads,
        "questions_per_s": {"batched": len(items) / t_batched, "one_at_a_time": len(items) / t_single},
        "speedup_batched_vs_one_at_a_time": t_single / t_batched,
        "same_answers": same_answers, "max_confidence_difference": max_diff, "target": 4.0,
    }, indent=2))


if __name__ == "__main__":
    main()
