"""``HFCausalLM``: any Hugging Face causal LM from a local directory behind ``LanguageModel``.

Generation runs through quartet's own sampling loop (``quartet.lm.generate``) on the
model's ``DynamicCache``, so seeds, stop strings, log-probs and prefix sharing behave
exactly as with the built-in model. Nothing is downloaded: ``path`` must be a folder.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch
from torch import nn

from quartet.core import distributed
from quartet.lm.local import LocalLM
from quartet.lm.protocol import HiddenTransform


class HFTokenizer:
    """``TextTokenizer`` over a ``transformers`` tokenizer."""

    def __init__(self, tokenizer: Any):
        self.hf = tokenizer
        if tokenizer.eos_token_id is None:
            raise ValueError("the tokenizer has no eos token")

    @property
    def vocab_size(self) -> int:
        return len(self.hf)

    @property
    def pad_id(self) -> int:
        # Many causal LMs ship without a pad token; pads never carry loss or attention here.
        return self.hf.pad_token_id if self.hf.pad_token_id is not None else self.hf.eos_token_id

    @property
    def eos_id(self) -> int:
        return self.hf.eos_token_id

    @property
    def bos_id(self) -> int | None:
        return self.hf.bos_token_id

    def encode(self, text: str, add_bos: bool = False) -> list[int]:
        ids = self.hf(text, add_special_tokens=False)["input_ids"]
        return [self.bos_id, *ids] if add_bos and self.bos_id is not None else list(ids)

    def decode(self, ids: Sequence[int]) -> str:
        return self.hf.decode(list(ids), skip_special_tokens=False)

    def token_to_id(self, token: str) -> int | None:
        tid = self.hf.convert_tokens_to_ids(token)
        return None if tid is None or tid == self.hf.unk_token_id and token != self.hf.unk_token else tid


class LogitsModule(nn.Module):
    """Wraps a ``PreTrainedModel`` so that ``forward`` returns plain logits (B, T, V)."""

    def __init__(self, model: nn.Module):
        super().__init__()
        self.model = model

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor | None = None) -> torch.Tensor:
        return self.model(input_ids=input_ids, attention_mask=attention_mask, use_cache=False).logits


class HFDecoder:
    """``IncrementalDecoder`` over a transformers model and its ``DynamicCache``."""

    def __init__(self, model: nn.Module):
        self.model = model

    @staticmethod
    def _positions(mask: torch.Tensor, length: int) -> torch.Tensor:
        return (mask.long().cumsum(-1) - 1).clamp(min=0)[:, -length:]

    def prefill(self, input_ids, attention_mask, capacity):
        out = self.model(
            input_ids=input_ids,
            attention_mask=attention_mask,
            position_ids=self._positions(attention_mask, input_ids.shape[1]),
            use_cache=True,
        )
        return out.logits[:, -1], out.past_key_values

    def repeat(self, state, n: int):
        state.batch_repeat_interleave(n)
        return state

    def step(self, tokens, attention_mask, state):
        out = self.model(
            input_ids=tokens,
            attention_mask=attention_mask,
            position_ids=self._positions(attention_mask, 1),
            cache=state,
            use_cache=True,
        )
        return out.logits[:, -1]


class HFCausalLM(LocalLM):
    """A transformers causal LM (optionally with LoRA adapters) as a quartet ``LanguageModel``."""

    def __init__(self, model: nn.Module, tokenizer: Any, device: str | torch.device = "cpu", batch_size: int = 16):
        self._model = model.to(device)
        self._module = LogitsModule(self._model)
        self._tokenizer = HFTokenizer(tokenizer)
        self._device = torch.device(device)
        self.batch_size = batch_size

    @classmethod
    def load(
        cls,
        path: str | Path,
        device: str | torch.device = "cpu",
        dtype: str = "auto",
        lora_rank: int = 0,
        batch_size: int = 16,
    ) -> HFCausalLM:
        """Load model and tokenizer from a local folder; ``lora_rank > 0`` adds trainable LoRA adapters."""
        from transformers import AutoModelForCausalLM, AutoTokenizer

        path = Path(path)
        if not (path / "config.json").is_file():
            raise FileNotFoundError(f"{path} is not a Hugging Face model folder (no config.json)")
        tokenizer = AutoTokenizer.from_pretrained(path, local_files_only=True)
        torch_dtype = "auto" if dtype == "auto" else getattr(torch, dtype)
        model = AutoModelForCausalLM.from_pretrained(path, dtype=torch_dtype, local_files_only=True)
        if lora_rank > 0:
            from peft import LoraConfig, get_peft_model

            model = get_peft_model(model, LoraConfig(r=lora_rank, lora_alpha=2 * lora_rank, task_type="CAUSAL_LM"))
        return cls(model, tokenizer, device=device, batch_size=batch_size)

    def save(self, directory: str | Path) -> None:
        """``save_pretrained`` from rank 0; every rank calls it when the model is sharded (FSDP gathers)."""
        state = None
        if distributed.is_sharded(self._module):  # the trainer shards the wrapper: strip its prefix
            state = {k.removeprefix("model."): v for k, v in distributed.full_state_dict(self._module).items()}
        if not distributed.is_writer():
            return
        self._model.save_pretrained(directory, state_dict=state)
        self._tokenizer.hf.save_pretrained(directory)

    @property
    def tokenizer(self) -> HFTokenizer:
        return self._tokenizer

    @property
    def module(self) -> LogitsModule:
        return self._module

    @property
    def device(self) -> torch.device:
        return self._device

    def _forward(self, ids: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        return self._module(ids, mask)

    def _decoder(self) -> HFDecoder:
        return HFDecoder(self._model)

    @contextmanager
    def hidden_transform(self, transform: HiddenTransform | None) -> Iterator[None]:
        """Applies ``transform`` to the input of the output head, i.e. the final hidden state."""
        if transform is None:
            yield
            return
        head = self._model.get_output_embeddings()
        handle = head.register_forward_pre_hook(lambda _module, args: (transform(args[0]), *args[1:]))
        try:
            yield
        finally:
            handle.remove()
