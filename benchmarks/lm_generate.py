"""Sampling speed of the built-in model's KV-cache generation against transformers' ``generate``.

Both sides hold the same weights (depth, width, heads, vocabulary), run on the CPU with
the same threads, sample with temperature 1 and never stop early (no eos), so each
produces exactly batch x new_tokens tokens. Also times prefix sharing: N continuations
branching from one prefill of a long prompt, against the same N rows each prefilling
the prompt (batched, the stronger baseline). The built-in model is timed twice: eager
(the default) and with ``compile_decoding`` (each step through ``torch.compile``; the
seconds its first call takes, compiling included, are printed as ``compile_s``).

    python benchmarks/lm_generate.py            # prints one JSON object
"""

from __future__ import annotations

import argparse
import json
import time

import torch
from _lm_common import add_shape_args, build_pair

from quartet.lm.builtin import BuiltinDecoder, compiled_decode_step, decode_step
from quartet.lm.generate import generate_ids
from quartet.lm.protocol import SamplingParams

NEVER = -1  # an eos id no token has: every row runs to max_new_tokens


def fastest(repeats: int, **fns) -> dict[str, float]:
    """Seconds of each function's fastest call: one warm-up call each, then ``repeats`` rounds in
    which every function runs once, so a slow spell of a shared machine cannot land on one side only."""
    for fn in fns.values():
        fn()
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    return {name: min(ts) for name, ts in times.items()}


def ours_sample(lm, prompts: list[list[int]], new_tokens: int, n: int = 1, step_fn=decode_step) -> None:
    params = SamplingParams(max_new_tokens=new_tokens, temperature=1.0, seed=0)
    with torch.inference_mode():
        generate_ids(BuiltinDecoder(lm.module, step_fn), prompts, params, n, eos_id=NEVER, pad_id=lm.tokenizer.pad_id,
                     decode=lm.tokenizer.decode)


def hf_sample(model, prompts: list[list[int]], new_tokens: int) -> None:
    ids = torch.tensor(prompts)
    with torch.inference_mode():
        out = model.generate(ids, attention_mask=torch.ones_like(ids), do_sample=True, temperature=1.0, top_k=0,
                             top_p=1.0, max_new_tokens=new_tokens, min_new_tokens=new_tokens, pad_token_id=0)
    assert out.shape[1] == ids.shape[1] + new_tokens


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_shape_args(parser)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--new-tokens", type=int, default=128)
    parser.add_argument("--prompt-len", type=int, default=16)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    ours, hf = build_pair(args)
    gen = torch.Generator().manual_seed(0)
    vocab = ours.tokenizer.vocab_size
    prompts = torch.randint(4, vocab, (args.batch, args.prompt_len), generator=gen).tolist()

    tokens = args.batch * args.new_tokens
    compiled = compiled_decode_step()
    start = time.perf_counter()
    ours_sample(ours, prompts, args.new_tokens, step_fn=compiled)
    compile_s = time.perf_counter() - start
    t = fastest(args.repeats,
                ours=lambda: ours_sample(ours, prompts, args.new_tokens),
                compiled=lambda: ours_sample(ours, prompts, args.new_tokens, step_fn=compiled),
                hf=lambda: hf_sample(hf, prompts, args.new_tokens))

    long_prompt = torch.randint(4, vocab, (512,), generator=gen).tolist()
    sharing = {}
    for new in (32, 128):
        sharing[new] = fastest(args.repeats,
                               shared=lambda new=new: ours_sample(ours, [long_prompt], new, n=16),
                               separate=lambda new=new: ours_sample(ours, [long_prompt] * 16, new, n=1))

    print(json.dumps({
        "model": {"dim": args.dim, "layers": args.layers, "heads": args.heads, "vocab": vocab,
                  "parameters": ours.module.num_parameters(), "threads": args.threads},
        "batch": args.batch, "new_tokens": args.new_tokens,
        "quartet_tokens_per_s": round(tokens / t["ours"], 1),
        "hf_tokens_per_s": round(tokens / t["hf"], 1),
        "ratio": round(t["hf"] / t["ours"], 2),
        "quartet_compiled_tokens_per_s": round(tokens / t["compiled"], 1),
        "ratio_compiled": round(t["hf"] / t["compiled"], 2),
        "compile_s": round(compile_s, 1),
        "prefix_sharing_s": {str(k): {side: round(s, 4) for side, s in v.items()} for k, v in sharing.items()},
        "prefix_sharing_ratio": round(sharing[32]["separate"] / sharing[32]["shared"], 2),
        "prefix_sharing_ratio_128_new_tokens": round(sharing[128]["separate"] / sharing[128]["shared"], 2),
    }))


if __name__ == "__main__":
    main()
