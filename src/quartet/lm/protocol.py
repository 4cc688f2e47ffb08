"""The interface every language-model backend implements.

Systems (PRM, refusal, InfoPattern) code against ``LanguageModel`` only, so the same
pipeline runs on the built-in tiny transformer, on any Hugging Face causal LM from a
local directory, or on a served model.

Two levels:

* text level (``generate``, ``loglikelihood``, ``next_token_logprobs``,
  ``marked_logprobs``), batched and padding-aware, which every backend provides;
* module level (``module``, ``tokenizer``), for training: ``module`` is an
  ``nn.Module`` mapping ``input_ids (B, T)`` and ``attention_mask (B, T)`` to
  ``logits (B, T, V)``. Backends that cannot be trained (a remote server) raise
  ``NotImplementedError`` there.

``hidden_transform`` installs a function applied to the final hidden state just
before the output head, for everything the model does while it is installed
(forward passes and generation). LM-Switch uses it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Literal, Protocol, runtime_checkable

import torch
from torch import nn


@dataclass(frozen=True)
class SamplingParams:
    """How to sample continuations."""

    max_new_tokens: int = 64  # hard limit on generated tokens; generation always stops here
    temperature: float = 1.0  # 0 means greedy (argmax)
    top_k: int = 0  # keep only the k most likely tokens (0: off)
    top_p: float = 1.0  # nucleus sampling mass (1.0: off)
    stop: tuple[str, ...] = ()  # stop strings; the returned text ends before the first one found
    stop_token_ids: tuple[int, ...] = ()  # token ids that end a row like eos does (eos always does)
    seed: int | None = None  # per-request seed: the same seed gives the same samples whatever the batch


@dataclass(frozen=True)
class Completion:
    """One generated continuation."""

    text: str  # decoded text, cut before a stop string
    token_ids: tuple[int, ...]  # generated token ids (up to and excluding eos / a stop token / the stop string's tokens)
    logprobs: tuple[float, ...]  # log-prob of each generated token under the model (temperature 1, unfiltered)
    finish_reason: Literal["stop", "eos", "length"]


@runtime_checkable
class TextTokenizer(Protocol):
    """What quartet needs from a tokenizer (built-in or Hugging Face)."""

    @property
    def vocab_size(self) -> int: ...
    @property
    def pad_id(self) -> int: ...
    @property
    def eos_id(self) -> int: ...
    @property
    def bos_id(self) -> int | None: ...

    def encode(self, text: str, add_bos: bool = False) -> list[int]: ...
    def decode(self, ids: Sequence[int]) -> str: ...
    def token_to_id(self, token: str) -> int | None: ...


HiddenTransform = Callable[[torch.Tensor], torch.Tensor]  # (B, T, D) -> (B, T, D)


@runtime_checkable
class LanguageModel(Protocol):
    @property
    def tokenizer(self) -> TextTokenizer: ...

    @property
    def module(self) -> nn.Module:
        """Trainable ``nn.Module``: ``module(input_ids, attention_mask) -> logits (B, T, V)``."""
        ...

    @property
    def device(self) -> torch.device: ...

    def generate(self, prompts: Sequence[str], params: SamplingParams, n: int = 1) -> list[list[Completion]]:
        """``n`` continuations for each prompt (outer list follows ``prompts``).

        Backends share one prefill of a prompt across its ``n`` continuations.
        """
        ...

    def loglikelihood(self, prompts: Sequence[str], continuations: Sequence[str]) -> list[list[float]]:
        """Per-token log-probs of each continuation given its prompt (tokens of ``prompt + continuation``
        after the prompt's own tokens)."""
        ...

    def next_token_logprobs(self, texts: Sequence[str], candidate_ids: Sequence[int]) -> torch.Tensor:
        """Log-probs (full-vocabulary softmax) of ``candidate_ids`` as the token after each text: (B, C)."""
        ...

    def marked_logprobs(
        self, texts: Sequence[str], marker_id: int, candidate_ids: Sequence[int]
    ) -> list[torch.Tensor]:
        """One forward pass per text; at every occurrence of ``marker_id``, the log-probs of
        ``candidate_ids`` as the next token. Returns one (n_markers_i, C) tensor per text."""
        ...

    def hidden_transform(self, transform: HiddenTransform | None) -> AbstractContextManager[None]:
        """Context manager installing ``transform`` on the final hidden state."""
        ...

    def save(self, directory: str) -> None:
        """Write weights and tokenizer so that the same backend can load them again."""
        ...


def context_limit(lm: LanguageModel) -> int | None:
    """The longest input ``lm`` takes in tokens (built-in ``max_seq_len``, HF
    ``max_position_embeddings``), or None when the backend does not say (a served model)."""
    try:
        module = lm.module
    except (AttributeError, NotImplementedError):
        return None
    cfg = getattr(module, "cfg", None)
    if cfg is not None and hasattr(cfg, "max_seq_len"):
        return int(cfg.max_seq_len)
    hf_cfg = getattr(getattr(module, "model", None), "config", None)
    return getattr(hf_cfg, "max_position_embeddings", None)
