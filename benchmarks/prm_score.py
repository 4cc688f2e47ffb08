"""Scoring 8-step solutions with a PRM: one forward pass per solution against one per step.

quartet's ``quartet.prm.scoring.step_scores`` reads every step's P(+) from a single forward
pass over the solution with a step tag after each step. The baseline, measured in the same
run on the same model, is what one writes without step tags in the input: score prefix
``steps[:j+1]`` with its own forward pass for every j (``step_scores_per_prefix``, batched
per solution). Both give the same scores (checked); the ratio of times is the claim (target >= 4).

    python benchmarks/prm_score.py [--solutions 64]
"""

from __future__ import annotations

import argparse
import json
import time

import torch

from quartet.lm.builtin import BuiltinLM
from quartet.lm.model import ModelConfig
from quartet.prm.data import MathProblem
from quartet.prm.policy import build_tokenizer
from quartet.prm.rollout import policy_prompt
from quartet.prm.scoring import step_scores, step_scores_per_prefix
from quartet.worlds.arithmetic import WorldConfig, generate


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--solutions", type=int, default=64)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    # 7 operations + the answer line = 8 steps per solution.
    world = WorldConfig(min_steps=7, max_steps=7, start_range=(2, 20), operand_range=(1, 10), factor_range=(2, 3),
                        max_value=1000, ops=("+", "-", "*"))
    problems = [MathProblem(p.id, p.question, str(p.answer), p.steps)
                for p in generate(args.solutions, seed=0, cfg=world)]
    assert all(len(p.steps) == 8 for p in problems)
    tok = build_tokenizer(problems)
    lm = BuiltinLM.create(ModelConfig(vocab_size=tok.vocab_size, dim=64, n_layers=2, n_heads=4, max_seq_len=512),
                          tok, seed=0, batch_size=64)
    prompts = [policy_prompt(p.question) for p in problems]
    steps = [list(p.steps) for p in problems]

    def single_pass() -> list[list[float]]:
        return step_scores(lm, prompts, steps)

    def per_step() -> list[list[float]]:
        return [step_scores_per_prefix(lm, q, s) for q, s in zip(prompts, steps, strict=True)]

    def timed(fn):
        fn()  # warm-up
        start = time.perf_counter()
        out = fn()
        return time.perf_counter() - start, out

    t_single, a = timed(single_pass)
    t_per_step, b = timed(per_step)
    max_diff = max(abs(x - y) for ra, rb in zip(a, b, strict=True) for x, y in zip(ra, rb, strict=True))
    print(json.dumps({
        "benchmark": "prm_score", "solutions": len(problems), "steps_per_solution": 8, "threads": args.threads,
        "solutions_per_s": {"single_pass": len(problems) / t_single, "per_step": len(problems) / t_per_step},
        "speedup_single_pass_vs_per_step": t_per_step / t_single, "max_score_difference": max_diff,
        "target": 4.0,
    }, indent=2))


if __name__ == "__main__":
    main()
