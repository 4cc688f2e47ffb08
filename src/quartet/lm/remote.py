"""A ``LanguageModel`` served over the OpenAI completions API (``quartet lm serve``, vLLM, …).

Uses the official ``openai`` client with the user's base URL: timeouts, retries with
exponential backoff (the client's own), and a bounded number of requests in flight.
Generation and log-likelihoods work remotely; everything that needs the model's weights
or vocabulary (training, hidden-state hooks, next-token distributions over token ids)
raises ``NotImplementedError`` naming the local backends to use instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from typing import Any

import torch

from quartet.lm.protocol import Completion, HiddenTransform, SamplingParams

LOCAL_ONLY = "needs the model's weights; load it with the builtin or hf backend instead of openai"


class OpenAICompatibleLM:
    def __init__(
        self,
        base_url: str,
        model: str | None = None,
        api_key: str = "EMPTY",
        timeout_s: float = 120.0,
        max_retries: int = 4,
        max_in_flight: int = 8,
    ):
        from openai import OpenAI

        self.client = OpenAI(base_url=base_url, api_key=api_key, timeout=timeout_s, max_retries=max_retries)
        # No model named: the server's first (quartet serves exactly one; so does vLLM by default).
        self.model = model or self.client.models.list().data[0].id
        self.max_in_flight = max_in_flight

    def _map(self, fn, items: Sequence[Any]) -> list[Any]:
        """Apply ``fn`` with at most ``max_in_flight`` requests open, keeping the order."""
        with ThreadPoolExecutor(max_workers=self.max_in_flight) as pool:
            return list(pool.map(fn, items))

    def generate(self, prompts: Sequence[str], params: SamplingParams, n: int = 1) -> list[list[Completion]]:
        def one(index_prompt: tuple[int, str]) -> list[Completion]:
            index, prompt = index_prompt
            seed = None if params.seed is None else params.seed + index  # distinct prompts, distinct streams
            response = self.client.completions.create(
                model=self.model, prompt=prompt, max_tokens=params.max_new_tokens, n=n,
                temperature=params.temperature, top_p=params.top_p, stop=list(params.stop) or None, seed=seed,
                logprobs=0,
            )
            choices = sorted(response.choices, key=lambda c: c.index)
            return [
                Completion(
                    text=c.text,
                    token_ids=(),  # a server returns text, not its token ids
                    logprobs=tuple(c.logprobs.token_logprobs) if c.logprobs else (),
                    finish_reason="length" if c.finish_reason == "length" else "stop",
                )
                for c in choices
            ]

        return self._map(one, list(enumerate(prompts)))

    def loglikelihood(self, prompts: Sequence[str], continuations: Sequence[str]) -> list[list[float]]:
        if len(prompts) != len(continuations):
            raise ValueError(f"{len(prompts)} prompts but {len(continuations)} continuations")

        def one(pair: tuple[str, str]) -> list[float]:
            prompt, continuation = pair
            response = self.client.completions.create(
                model=self.model, prompt=prompt + continuation, max_tokens=0, echo=True, logprobs=0,
            )
            lp = response.choices[0].logprobs
            # Tokens that start inside the continuation (a server scores the whole text).
            return [s for s, offset in zip(lp.token_logprobs, lp.text_offset, strict=True)
                    if offset >= len(prompt) and s is not None]

        return self._map(one, list(zip(prompts, continuations, strict=True)))

    @property
    def tokenizer(self):
        raise NotImplementedError(f"tokenizer: {LOCAL_ONLY}")

    @property
    def module(self) -> torch.nn.Module:
        raise NotImplementedError(f"training: {LOCAL_ONLY}")

    @property
    def device(self) -> torch.device:
        return torch.device("cpu")

    def next_token_logprobs(self, texts: Sequence[str], candidate_ids: Sequence[int]) -> torch.Tensor:
        raise NotImplementedError(f"next_token_logprobs: {LOCAL_ONLY}")

    def marked_logprobs(self, texts: Sequence[str], marker_id: int, candidate_ids: Sequence[int]) -> list[torch.Tensor]:
        raise NotImplementedError(f"marked_logprobs: {LOCAL_ONLY}")

    def hidden_transform(self, transform: HiddenTransform | None) -> AbstractContextManager[None]:
        raise NotImplementedError(f"hidden_transform: {LOCAL_ONLY}")

    def save(self, directory: str) -> None:
        raise NotImplementedError(f"save: {LOCAL_ONLY}")
