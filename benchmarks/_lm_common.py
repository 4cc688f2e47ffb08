"""Shared setup of the language-model benchmarks: one built-in model and its transformers twin."""

from __future__ import annotations

import argparse

import torch

from quartet.lm.builtin import BuiltinLM
from quartet.lm.export import to_llama_config
from quartet.lm.model import ModelConfig
from quartet.lm.tokenizer import Tokenizer
from quartet.worlds import arithmetic


def add_shape_args(parser: argparse.ArgumentParser) -> None:
    # Defaults: the embedded demo's model (configs/lm/tiny.yaml).
    parser.add_argument("--dim", type=int, default=64)
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--heads", type=int, default=4)
    parser.add_argument("--max-seq-len", type=int, default=1024)
    # One thread: at these sizes a thread pool costs more in synchronisation than it gains.
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads for both sides")


def build_pair(args: argparse.Namespace):
    """A seeded built-in model and a ``LlamaForCausalLM`` holding the same weights."""
    from transformers import LlamaForCausalLM

    torch.set_num_threads(args.threads)
    problems = arithmetic.generate(400, seed=0)
    tokenizer = Tokenizer.train([arithmetic.prompt(p) + arithmetic.solution_text(p) for p in problems], kind="word")
    cfg = ModelConfig(vocab_size=tokenizer.vocab_size, dim=args.dim, n_layers=args.layers, n_heads=args.heads,
                      max_seq_len=args.max_seq_len)
    ours = BuiltinLM.create(cfg, tokenizer, seed=0)
    hf = LlamaForCausalLM(to_llama_config(ours)).eval()
    state = {f"model.{k}": v for k, v in ours.module.state_dict().items()}
    state["lm_head.weight"] = state["model.embed_tokens.weight"]
    hf.load_state_dict(state, strict=False)
    return ours, hf
