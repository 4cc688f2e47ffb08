"""Padding-aware, batched scoring of text for any backend that maps ids to logits.

``Forward`` is ``(input_ids (B, T), attention_mask (B, T)) -> logits (B, T, V)`` with
right padding. Texts are scored in batches of similar length to waste little on padding.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F

from quartet.lm.protocol import TextTokenizer

Forward = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def right_pad(sequences: Sequence[Sequence[int]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    width = max(1, max(len(s) for s in sequences))
    ids = torch.full((len(sequences), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(sequences), width), dtype=torch.long)
    for row, seq in enumerate(sequences):
        ids[row, : len(seq)] = torch.tensor(list(seq), dtype=torch.long)
        mask[row, : len(seq)] = 1
    return ids, mask


def split_continuation(tokenizer: TextTokenizer, prompt: str, continuation: str) -> tuple[list[int], list[int]]:
    """Token ids of ``prompt`` (with bos) and of ``continuation`` as it is tokenized after it.

    Encoding the joined text keeps word-boundary tokens right (BPE's leading-space
    tokens, SentencePiece's "▁"); when the joined encoding does not start with the
    prompt's own ids, the two are encoded separately.
    """
    prompt_ids = tokenizer.encode(prompt, add_bos=True)
    full = tokenizer.encode(prompt + continuation, add_bos=True)
    if full[: len(prompt_ids)] == prompt_ids and len(full) > len(prompt_ids):
        return prompt_ids, full[len(prompt_ids) :]
    return prompt_ids, tokenizer.encode(continuation)


def _batches(lengths: Sequence[int], batch_size: int) -> list[list[int]]:
    order = sorted(range(len(lengths)), key=lambda i: lengths[i])
    return [order[i : i + batch_size] for i in range(0, len(order), batch_size)]


@torch.no_grad()
def continuation_logprobs(
    forward: Forward,
    tokenizer: TextTokenizer,
    prompts: Sequence[str],
    continuations: Sequence[str],
    batch_size: int,
    device: torch.device,
) -> list[list[float]]:
    """Per-token log-probs of each continuation given its prompt."""
    if len(prompts) != len(continuations):
        raise ValueError(f"{len(prompts)} prompts but {len(continuations)} continuations")
    pairs = [split_continuation(tokenizer, p, c) for p, c in zip(prompts, continuations, strict=True)]
    results: list[list[float]] = [[] for _ in pairs]
    for batch in _batches([len(p) + len(c) for p, c in pairs], batch_size):
        seqs = [pairs[i][0] + pairs[i][1] for i in batch]
        ids, mask = right_pad(seqs, tokenizer.pad_id)
        logp = F.log_softmax(forward(ids.to(device), mask.to(device)).float(), -1)  # (B, T, V)
        for row, i in enumerate(batch):
            start, n = len(pairs[i][0]), len(pairs[i][1])
            targets = ids[row, start : start + n].to(device)
            results[i] = logp[row, start - 1 : start - 1 + n].gather(-1, targets[:, None]).squeeze(-1).tolist()
    return results


@torch.no_grad()
def next_token_logprobs(
    forward: Forward,
    tokenizer: TextTokenizer,
    texts: Sequence[str],
    candidate_ids: Sequence[int],
    batch_size: int,
    device: torch.device,
) -> torch.Tensor:
    """Log-probs (B, C) of each candidate id as the token after each text."""
    encoded = [tokenizer.encode(t, add_bos=True) for t in texts]
    out = torch.empty(len(texts), len(candidate_ids))
    cand = torch.tensor(list(candidate_ids), dtype=torch.long, device=device)
    for batch in _batches([len(e) for e in encoded], batch_size):
        ids, mask = right_pad([encoded[i] for i in batch], tokenizer.pad_id)
        logits = forward(ids.to(device), mask.to(device)).float()  # (B, T, V)
        last = mask.sum(-1).to(device) - 1
        logp = F.log_softmax(logits[torch.arange(len(batch), device=device), last], -1)  # (B, V)
        out[batch] = logp[:, cand].cpu()
    return out


@torch.no_grad()
def marked_logprobs(
    forward: Forward,
    tokenizer: TextTokenizer,
    texts: Sequence[str],
    marker_id: int,
    candidate_ids: Sequence[int],
    batch_size: int,
    device: torch.device,
) -> list[torch.Tensor]:
    """At every ``marker_id`` in each text, log-probs of the candidates as the next token.

    One forward pass per text scores all its markers (a PRM scores every step at once).
    """
    encoded = [tokenizer.encode(t, add_bos=True) for t in texts]
    cand = torch.tensor(list(candidate_ids), dtype=torch.long, device=device)
    results: list[torch.Tensor] = [torch.empty(0, len(candidate_ids)) for _ in texts]
    for batch in _batches([len(e) for e in encoded], batch_size):
        ids, mask = right_pad([encoded[i] for i in batch], tokenizer.pad_id)
        ids, mask = ids.to(device), mask.to(device)
        logp = F.log_softmax(forward(ids, mask).float(), -1)  # (B, T, V)
        for row, i in enumerate(batch):
            positions = torch.nonzero((ids[row] == marker_id) & (mask[row] == 1)).flatten()
            results[i] = logp[row, positions][:, cand].cpu()  # (n_markers, C)
    return results
