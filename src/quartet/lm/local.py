"""``LocalLM``: the text level of the in-process backends (built-in and Hugging Face).

Both run quartet's own sampling loop (``quartet.lm.generate``) over an
``IncrementalDecoder`` and score through plain forward passes (``quartet.lm.scoring``),
so the same seed, stop strings, log-probs and prefix sharing behave alike on either.
A subclass says how to run its model: ``_forward`` (logits of a padded batch),
``_decoder`` (prefill and step with its cache) and, optionally, ``_check_prompts``.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from quartet.lm import scoring
from quartet.lm.generate import IncrementalDecoder, generate_ids
from quartet.lm.protocol import Completion, SamplingParams, TextTokenizer


class LocalLM:
    _model: nn.Module  # switched to eval mode before generating or scoring
    _tokenizer: TextTokenizer
    _device: torch.device
    batch_size: int  # rows per forward pass (prompts x continuations when generating)

    def _forward(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """Logits (B, T, V) of right- or left-padded ``ids`` with their attention ``mask``."""
        raise NotImplementedError

    def _decoder(self) -> IncrementalDecoder:
        raise NotImplementedError

    def _check_prompts(self, encoded: list[list[int]], params: SamplingParams) -> None:
        """Raise before any work when a prompt cannot be generated from (default: all can)."""

    def generate(self, prompts: Sequence[str], params: SamplingParams, n: int = 1) -> list[list[Completion]]:
        self._model.eval()
        encoded = [self._tokenizer.encode(p, add_bos=True) for p in prompts]
        self._check_prompts(encoded, params)
        # One base seed for the whole request: row seeds derive from it and the prompt index,
        # so a prompt's samples do not depend on how the prompts were batched.
        base_seed = params.seed if params.seed is not None else int(torch.randint(0, 2**31 - 1, (1,)))
        per_batch = max(1, self.batch_size // n)
        decoder = self._decoder()
        results: list[list[Completion]] = []
        for start in range(0, len(prompts), per_batch):
            chunk = range(start, min(start + per_batch, len(prompts)))
            results += generate_ids(
                decoder,
                [encoded[i] for i in chunk],
                params,
                n,
                eos_id=self._tokenizer.eos_id,
                pad_id=self._tokenizer.pad_id,
                decode=self._tokenizer.decode,
                prompt_indices=list(chunk),
                base_seed=base_seed,
                device=self._device,
            )
        return results

    def loglikelihood(self, prompts: Sequence[str], continuations: Sequence[str]) -> list[list[float]]:
        self._model.eval()
        return scoring.continuation_logprobs(
            self._forward, self._tokenizer, prompts, continuations, self.batch_size, self._device
        )

    def next_token_logprobs(self, texts: Sequence[str], candidate_ids: Sequence[int]) -> torch.Tensor:
        self._model.eval()
        return scoring.next_token_logprobs(
            self._forward, self._tokenizer, texts, candidate_ids, self.batch_size, self._device
        )

    def marked_logprobs(self, texts: Sequence[str], marker_id: int, candidate_ids: Sequence[int]) -> list[torch.Tensor]:
        self._model.eval()
        return scoring.marked_logprobs(
            self._forward, self._tokenizer, texts, marker_id, candidate_ids, self.batch_size, self._device
        )
