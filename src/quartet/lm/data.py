"""Supervised examples for causal LMs: prompt tokens masked out of the loss, right padding.

>>> from quartet.lm.tokenizer import Tokenizer
>>> tok = Tokenizer.train(["what is two ? two"], kind="word")
>>> ex = encode_sft(tok, "what is two ?", " two", max_len=32)
>>> [t if t < 0 else tok.convert_ids_to_tokens([t])[0] for t in ex["labels"]]
[-100, -100, -100, -100, -100, '▁two', '<eos>']
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from quartet.lm.protocol import TextTokenizer
from quartet.lm.scoring import split_continuation

IGNORE = -100  # label of tokens that carry no loss


def encode_sft(tokenizer: TextTokenizer, prompt: str, response: str, max_len: int) -> dict[str, list[int]]:
    """``bos prompt response eos`` with labels only on ``response eos``; truncated from the left.

    ``prompt == ""`` is plain language-model pretraining: every token after bos has a label.
    """
    prompt_ids, response_ids = split_continuation(tokenizer, prompt, response)
    ids = prompt_ids + response_ids + [tokenizer.eos_id]
    labels = [IGNORE] * len(prompt_ids) + response_ids + [tokenizer.eos_id]
    if len(ids) > max_len:
        ids, labels = ids[-max_len:], labels[-max_len:]
    return {"input_ids": ids, "labels": labels}


def collate_lm(items: list[dict[str, list[int]]], pad_id: int) -> dict[str, torch.Tensor]:
    """Right-pad to the longest item. No attention mask is needed: with right padding a
    causal model's real tokens never see the pads, and pads carry no loss."""
    width = max(len(item["input_ids"]) for item in items)
    input_ids = torch.full((len(items), width), pad_id, dtype=torch.long)
    labels = torch.full((len(items), width), IGNORE, dtype=torch.long)
    for row, item in enumerate(items):
        input_ids[row, : len(item["input_ids"])] = torch.tensor(item["input_ids"])
        labels[row, : len(item["labels"])] = torch.tensor(item["labels"])
    return {"input_ids": input_ids, "labels": labels}


def lm_loss(module: nn.Module, batch: dict[str, Any]) -> tuple[torch.Tensor, dict[str, float]]:
    """Mean next-token cross-entropy over labelled tokens."""
    logits = module(batch["input_ids"])  # (B, T, V)
    targets = batch["labels"][:, 1:]
    loss = F.cross_entropy(logits[:, :-1].flatten(0, 1).float(), targets.flatten(), ignore_index=IGNORE)
    return loss, {"tokens": float((targets != IGNORE).sum())}
