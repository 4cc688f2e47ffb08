"""``BuiltinLM``: the built-in transformer and tokenizer behind the ``LanguageModel`` protocol."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch

from quartet.core.checkpoint import load_weights, read_weights_config, save_weights
from quartet.lm.local import LocalLM
from quartet.lm.model import KVCache, ModelConfig, Transformer
from quartet.lm.protocol import HiddenTransform, SamplingParams
from quartet.lm.tokenizer import Tokenizer

StepFn = Callable[[Transformer, torch.Tensor, KVCache], torch.Tensor]  # (model, tokens, cache) -> logits


def decode_step(model: Transformer, tokens: torch.Tensor, cache: KVCache) -> torch.Tensor:
    """Logits (B, V) of one new token per row, appended to ``cache``.

    The cache knows the prompt's padding and each row's position, and generated tokens
    are real, so the step needs no mask (and builds none when nothing is padded).
    """
    return model(tokens, cache=cache)[:, -1]


def compiled_decode_step() -> StepFn:
    """``decode_step`` through ``torch.compile``, with the batch and cache length symbolic.

    A decoding step at the embedded scale is dozens of tiny ops whose dispatch costs more
    than their arithmetic; Inductor fuses the elementwise ones (norms, rotary, SwiGLU) into
    a few generated kernels. Compiling takes seconds on the first step (and again for a new
    model or a newly installed hidden transform), so it pays off for long-lived processes
    and many rollouts, not for one short sample.
    """
    return torch.compile(decode_step, dynamic=True)


class BuiltinDecoder:
    """``IncrementalDecoder`` over ``Transformer`` and its preallocated ``KVCache``."""

    def __init__(self, model: Transformer, step_fn: StepFn = decode_step):
        self.model = model
        self.step_fn = step_fn

    def prefill(self, input_ids, attention_mask, capacity) -> tuple[torch.Tensor, KVCache]:
        cache = self.model.new_cache(input_ids.shape[0], capacity)
        hidden = self.model.hidden(input_ids, attention_mask=attention_mask, cache=cache)
        return self.model.head(hidden[:, -1]), cache  # the output head on the last position only

    def repeat(self, state: KVCache, n: int) -> KVCache:
        state.repeat_rows(n)
        return state

    def step(self, tokens, attention_mask, state: KVCache) -> torch.Tensor:
        return self.step_fn(self.model, tokens, state)


class BuiltinLM(LocalLM):
    """The built-in model: trainable, generates with a KV cache and prefix sharing."""

    def __init__(
        self,
        model: Transformer,
        tokenizer: Tokenizer,
        device: str | torch.device = "cpu",
        batch_size: int = 64,
        compile_decoding: bool = False,
    ):
        """``compile_decoding``: run each decoding step through ``torch.compile`` (see
        ``compiled_decode_step``); greedy tokens are the same, log-probs agree to float rounding."""
        if model.cfg.vocab_size < tokenizer.vocab_size:
            raise ValueError(f"model vocabulary {model.cfg.vocab_size} < tokenizer's {tokenizer.vocab_size}")
        self._model = model.to(device)
        self._tokenizer = tokenizer
        self._device = torch.device(device)
        self.batch_size = batch_size
        self._step_fn = compiled_decode_step() if compile_decoding else decode_step

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

    def _decoder(self) -> BuiltinDecoder:
        return BuiltinDecoder(self._model, self._step_fn)

    def _check_prompts(self, encoded: list[list[int]], params: SamplingParams) -> None:
        limit = self._model.cfg.max_seq_len
        too_long = [i for i, e in enumerate(encoded) if len(e) + params.max_new_tokens > limit]
        if too_long:
            raise ValueError(
                f"prompt {too_long[0]} has {len(encoded[too_long[0]])} tokens; with max_new_tokens="
                f"{params.max_new_tokens} that exceeds the model's max_seq_len {limit}"
            )

    @contextmanager
    def hidden_transform(self, transform: HiddenTransform | None) -> Iterator[None]:
        previous = self._model.hidden_transform
        self._model.hidden_transform = transform
        try:
            yield
        finally:
            self._model.hidden_transform = previous
