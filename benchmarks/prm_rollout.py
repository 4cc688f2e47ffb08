"""Monte-Carlo rollouts per second on the tiny world (K completions per step prefix).

quartet: ``lm.generate(prefixes, params, n=K)`` (one prefill per prefix, branched K ways, all
prefixes of a chunk batched) against two baselines measured in the same run on the same weights:

* ``transformers``: what a transformers user would write, ``model.generate(ids,
  num_return_sequences=K)`` for each prefix, on the same-shape ``LlamaForCausalLM``
  (the built-in model exported with ``quartet.lm.export``);
* ``no_prefix_sharing``: quartet's own sampler with every prefix repeated K times and n=1.

Prints one JSON object; ``speedup_vs_transformers`` is the claim (target >= 3).

    python benchmarks/prm_rollout.py [--prefixes 32] [--k 8] [--max-new-tokens 48]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time

import torch

from quartet.lm.builtin import BuiltinLM
from quartet.lm.export import export_to_hf
from quartet.lm.model import ModelConfig
from quartet.lm.protocol import SamplingParams
from quartet.prm.data import MathProblem
from quartet.prm.policy import build_tokenizer
from quartet.prm.rollout import policy_prompt, step_prefix
from quartet.worlds.arithmetic import WorldConfig, generate


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--prefixes", type=int, default=32)
    ap.add_argument("--k", type=int, default=8)
    ap.add_argument("--max-new-tokens", type=int, default=48)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)

    # The tiny config's world and policy shape (configs/prm/tiny.yaml).
    world = WorldConfig(min_steps=2, max_steps=4, start_range=(2, 20), operand_range=(1, 10), factor_range=(2, 3),
                        max_value=40, ops=("+", "-", "*", "/"))
    problems = [MathProblem(p.id, p.question, str(p.answer), p.steps) for p in generate(200, seed=0, cfg=world)]
    tok = build_tokenizer(problems)
    lm = BuiltinLM.create(ModelConfig(vocab_size=tok.vocab_size, dim=64, n_layers=2, n_heads=4, max_seq_len=256),
                          tok, seed=0, batch_size=256)
    prefixes = []
    for p in problems:
        prefixes += [step_prefix(policy_prompt(p.question), p.steps, j) for j in range(len(p.steps) - 1)]
    prefixes = prefixes[: args.prefixes]
    k, new = args.k, args.max_new_tokens
    params = SamplingParams(max_new_tokens=new, temperature=1.0, seed=0)

    def quartet_shared() -> int:
        out = lm.generate(prefixes, params, n=k)
        return sum(len(c.token_ids) for g in out for c in g)

    def quartet_unshared() -> int:
        out = lm.generate([p for p in prefixes for _ in range(k)], params, n=1)
        return sum(len(c.token_ids) for g in out for c in g)

    with tempfile.TemporaryDirectory() as tmp:
        from transformers import LlamaForCausalLM

        hf = LlamaForCausalLM.from_pretrained(export_to_hf(lm, tmp), local_files_only=True).eval()

    def transformers_loop() -> int:
        tokens = 0
        torch.manual_seed(0)
        for text in prefixes:
            ids = torch.tensor([tok.encode(text, add_bos=True)])
            with torch.no_grad():
                out = hf.generate(ids, attention_mask=torch.ones_like(ids), do_sample=True, temperature=1.0, top_k=0,
                                  num_return_sequences=k, max_new_tokens=new, pad_token_id=tok.pad_id,
                                  eos_token_id=tok.eos_id)
            new_ids = out[:, ids.shape[1]:]
            tokens += int((new_ids != tok.pad_id).sum())
        return tokens

    def timed(fn) -> tuple[float, int]:
        fn()  # warm-up
        start = time.perf_counter()
        tokens = fn()
        return time.perf_counter() - start, tokens

    rollouts = len(prefixes) * k
    t_ours, tok_ours = timed(quartet_shared)
    t_unshared, tok_unshared = timed(quartet_unshared)
    t_hf, tok_hf = timed(transformers_loop)
    print(json.dumps({
        "benchmark": "prm_rollout", "prefixes": len(prefixes), "k": k, "max_new_tokens": new,
        "threads": args.threads,
        "rollouts_per_s": {"quartet": rollouts / t_ours, "no_prefix_sharing": rollouts / t_unshared,
                           "transformers": rollouts / t_hf},
        "tokens": {"quartet": tok_ours, "no_prefix_sharing": tok_unshared, "transformers": tok_hf},
        "speedup_vs_transformers": t_hf / t_ours, "speedup_vs_no_prefix_sharing": t_unshared / t_ours,
        "target_vs_transformers": 3.0,
    }, indent=2))


if __name__ == "__main__":
    main()
