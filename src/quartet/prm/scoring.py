"""Scoring solutions with a trained PRM: every step's P(+) from ONE forward pass per solution."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

from quartet.lm.protocol import LanguageModel, context_limit
from quartet.lm.scoring import right_pad
from quartet.prm.prm_model import RewardTokens, ValueHeadPRM, prm_text, tokenizer_tag

# (prompts, steps per solution) -> P(+) per step per solution
Scorer = Callable[[Sequence[str], Sequence[Sequence[str]]], list[list[float]]]


def check_context(lm: LanguageModel, texts: Sequence[str], index: Sequence[int]) -> None:
    """A clear error, naming the solution, when a PRM input is longer than the model's context."""
    limit = context_limit(lm)
    if limit is None:
        return
    for i, text in zip(index, texts, strict=True):
        n = len(lm.tokenizer.encode(text, add_bos=True))
        if n > limit:
            raise ValueError(f"solution {i}: the PRM input has {n} tokens, more than the model's context of {limit}")


def step_scores(lm: LanguageModel, prompts: Sequence[str], steps: Sequence[Sequence[str]],
                tokens: RewardTokens | None = None) -> list[list[float]]:
    """P(+) at each step of each solution (softmax over the two reward tokens at each tag).

    A solution with no steps gets ``[]`` (``best_of_n.aggregate`` scores it -inf).
    """
    tokens = tokens or RewardTokens.resolve(lm.tokenizer)
    tag = tokenizer_tag(lm.tokenizer, tokens)
    todo = [i for i, s in enumerate(steps) if s]
    out: list[list[float]] = [[] for _ in steps]
    if not todo:
        return out
    texts = [prm_text(prompts[i], steps[i], tag) for i in todo]
    check_context(lm, texts, todo)
    logps = lm.marked_logprobs(texts, tokens.tag, [tokens.good, tokens.bad])
    for i, lp in zip(todo, logps, strict=True):
        if lp.shape[0] != len(steps[i]):
            raise ValueError(f"solution {i}: {lp.shape[0]} step tags scored for {len(steps[i])} steps")
        out[i] = torch.softmax(lp.float(), -1)[:, 0].tolist()
    return out


def step_scores_per_prefix(lm: LanguageModel, prompt: str, steps: Sequence[str],
                           tokens: RewardTokens | None = None) -> list[float]:
    """The naive baseline: one forward pass per step prefix (what the benchmark compares against)."""
    tokens = tokens or RewardTokens.resolve(lm.tokenizer)
    tag = tokenizer_tag(lm.tokenizer, tokens)
    texts = [prm_text(prompt, steps[: j + 1], tag) for j in range(len(steps))]
    logps = lm.next_token_logprobs(texts, [tokens.good, tokens.bad])  # (n_steps, 2)
    return torch.softmax(logps.float(), -1)[:, 0].tolist()


@torch.no_grad()
def value_step_scores(prm: ValueHeadPRM, tokenizer, prompts: Sequence[str], steps: Sequence[Sequence[str]],
                      tokens: RewardTokens | None = None, batch_size: int = 32) -> list[list[float]]:
    """The value-head variant: sigmoid of the head at every step tag, one forward pass per solution."""
    tokens = tokens or RewardTokens.resolve(tokenizer)
    tag = tokenizer_tag(tokenizer, tokens)
    out: list[list[float]] = [[] for _ in steps]
    todo = [i for i, s in enumerate(steps) if s]
    device = next(prm.parameters()).device
    prm.eval()
    for start in range(0, len(todo), batch_size):
        batch = todo[start:start + batch_size]
        ids, mask = right_pad([tokenizer.encode(prm_text(prompts[i], steps[i], tag), add_bos=True) for i in batch],
                              tokenizer.pad_id)
        values = prm(ids.to(device), attention_mask=mask.to(device))  # (B, T)
        for row, i in enumerate(batch):
            at = torch.nonzero((ids[row] == tokens.tag) & (mask[row] == 1)).flatten()
            out[i] = torch.sigmoid(values[row, at.to(device)]).tolist()
    return out
