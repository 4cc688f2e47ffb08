"""``BuiltinLM``: the built-in transformer and tokenizer behind the ``LanguageModel`` protocol."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch

from quartet.core.checkpoint import load_weights, read_weights_config, save_weights
from quartet.lm import scoring
from quartet.lm.generate import generate_ids
from quartet.lm.model import KVCache, ModelConfig, Transformer
from quartet.lm.protocol import Completion, HiddenTransform, SamplingParams
from quartet.lm.tokenizer import Tokenizer


class BuiltinDecoder:
    """``IncrementalDecoder`` over ``Transformer`` and its preallocated ``KVCache``."""

    def __init__(self, model: Transformer):
        self.model = model

    def prefill(self, input_ids, attention_mask, capacity) -> tuple[torch.Tensor, KVCache]:
        cache = self.model.new_cache(input_ids.shape[0], capacity)
        hidden = self.model.hidden(input_ids, attention_mask=attention_mask, cache=cache)
        return self.model.head(hidden[:, -1]), cache  # the output head on the last position only

    def repeat(self, state: KVCache, n: int) -> KVCache:
        state.repeat_rows(n)
        return state

    def step(self, tokens, attention_mask, state: KVCache) -> torch.Tensor:
        # The cache knows the prompt's padding and each row's position, and generated
        # tokens are real, so the step needs no mask (and builds none when nothing is padded).
        return self.model(tokens, cache=state)[:, -1]


class BuiltinLM:
    """The built-in model: trainable, generates with a KV cache and prefix sharing."""

    def __init__(self, model: Transformer, tokenizer: Tokenizer, device: str | torch.device = "cpu", batch_size: int = 64):
        if model.cfg.vocab_size < tokenizer.vocab_size:
            raise ValueError(f"model vocabulary {model.cfg.vocab_size} < tokenizer's {tokenizer.vocab_size}")
        self._model = model.to(device)
        self._tokenizer = tokenizer
        self._device = torch.device(device)
        self.batch_size = batch_size

    @classmethod
    def create(cls, cfg: ModelConfig, tokenizer: Tokenizer, seed: int = 0, **kwargs: Any) -> BuiltinLM:
        torch.manual_seed(seed)
        return cls(Transformer(cfg), tokenizer, **kwargs)

    @classmethod
    def load(cls, directory: str | Path, device: str | torch.device = "cpu", **kwargs: Any) -> BuiltinLM:
        """Load from a checkpoint folder holding ``model.safetensors``, ``model.json``, ``tokenizer.json``."""
        directory = Path(directory)
        model = Transformer(ModelConfig.from_json(read_weights_config(directory)))
        load_weights(model, directory)
        return cls(model, Tokenizer.load(directory), device=device, **kwargs)

    def save(self, directory: str | Path) -> None:
        directory = Path(directory)
        save_weights(self._model, directory, self._model.cfg.to_json())
        self._tokenizer.save(directory)

    # --- protocol --------------------------------------------------------------------
    @property
    def tokenizer(self) -> Tokenizer:
        return self._tokenizer

    @property
    def module(self) -> Transformer:
        return self._model

    @property
    def device(self) -> torch.device:
        return self._device

    def _forward(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self._model(ids, attention_mask=mask)

    def generate(self, prompts: Sequence[str], params: SamplingParams, n: int = 1) -> list[list[Completion]]:
        self._model.eval()
        encoded = [self._tokenizer.encode(p, add_bos=True) for p in prompts]
        limit = self._model.cfg.max_seq_len
        too_long = [i for i, e in enumerate(encoded) if len(e) + params.max_new_tokens > limit]
        if too_long:
            raise ValueError(
                f"prompt {too_long[0]} has {len(encoded[too_long[0]])} tokens; with max_new_tokens="
                f"{params.max_new_tokens} that exceeds the model's max_seq_len {limit}"
            )
        base_seed = params.seed if params.seed is not None else int(torch.randint(0, 2**31 - 1, (1,)))
        per_batch = max(1, self.batch_size // n)
        results: list[list[Completion]] = []
        decoder = BuiltinDecoder(self._model)
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

    @contextmanager
    def hidden_transform(self, transform: HiddenTransform | None) -> Iterator[None]:
        previous = self._model.hidden_transform
        self._model.hidden_transform = transform
        try:
            yield
        finally:
            self._model.hidden_transform = previous
