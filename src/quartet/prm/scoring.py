"""Scoring solutions with a trained PRM: every step's P(+) from ONE forward pass per solution."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from quartet.lm.protocol import LanguageModel
from quartet.prm.prm_model import RewardTokens, prm_text, tokenizer_tag


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
