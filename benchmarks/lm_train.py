"""Training throughput of the built-in model against the same-shape ``LlamaForCausalLM``.

Same weights at the start, same AdamW settings, same batches of token ids, full
next-token loss, CPU, same threads. The two sides alternate ``--repeats`` times (each
time from a fresh optimizer) and each keeps its fastest: a slow spell of a shared
machine then cannot land on one side only. Prints training tokens per second for both
and their ratio.

    python benchmarks/lm_train.py            # prints one JSON object
"""

from __future__ import annotations

import argparse
import json
import time

import torch
import torch.nn.functional as F
from _lm_common import add_shape_args, build_pair


def tokens_per_second(forward, params, batches: list[torch.Tensor], warmup: int) -> float:
    optimizer = torch.optim.AdamW(params, lr=1e-3, betas=(0.9, 0.95), weight_decay=0.01)

    def step(ids: torch.Tensor) -> None:
        logits = forward(ids)  # (B, T, V)
        loss = F.cross_entropy(logits[:, :-1].reshape(-1, logits.shape[-1]), ids[:, 1:].reshape(-1))
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()

    for ids in batches[:warmup]:
        step(ids)
    start = time.perf_counter()
    for ids in batches[warmup:]:
        step(ids)
    elapsed = time.perf_counter() - start
    return sum(b.numel() for b in batches[warmup:]) / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_shape_args(parser)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--seq-len", type=int, default=128)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    ours, hf = build_pair(args)
    hf.train()
    gen = torch.Generator().manual_seed(0)
    batches = [torch.randint(4, ours.tokenizer.vocab_size, (args.batch, args.seq_len), generator=gen)
               for _ in range(args.steps + args.warmup)]
    ours_tps = hf_tps = 0.0
    for _ in range(args.repeats):
        ours_tps = max(ours_tps, tokens_per_second(ours.module.train(), list(ours.module.parameters()), batches,
                                                   args.warmup))
        hf_tps = max(hf_tps, tokens_per_second(lambda ids: hf(input_ids=ids).logits, list(hf.parameters()), batches,
                                               args.warmup))
    print(json.dumps({
        "model": {"dim": args.dim, "layers": args.layers, "heads": args.heads, "threads": args.threads},
        "batch": args.batch, "seq_len": args.seq_len, "steps": args.steps, "repeats": args.repeats,
        "quartet_tokens_per_s": round(ours_tps, 1), "hf_tokens_per_s": round(hf_tps, 1),
        "ratio": round(ours_tps / hf_tps, 2),
    }))


if __name__ == "__main__":
    main()
