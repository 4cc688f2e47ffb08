"""LM-Switch (Han et al., 2023): a low-rank linear switch on a frozen language model's final hidden state.

    h' = h + ε · Σ_k s_k · (h · W_k),   W_k = P1_k · P2_kᵀ   (P1_k, P2_k: D × r)

``s`` is the stance value of each sequence (−1 … +1 per dimension k); the base model is
frozen and only P1, P2 are trained, with the ordinary LM loss on messages whose ``s`` is
their community's value. Applying the switch with −s writes as the opposite community.

The switch works on any ``LanguageModel`` through its ``hidden_transform`` hook (the
built-in transformer and Hugging Face models alike) and is saved on its own
(``switch.safetensors`` + ``switch.json``), never with the base model's weights.

>>> sw = LMSwitch(dim=4, rank=2)
>>> h = torch.ones(1, 3, 4)
>>> bool(torch.equal(sw(h, torch.tensor([[1.0]])), h))   # P2 starts at zero: the switch starts off
True
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from quartet.core.checkpoint import load_weights, read_weights_config, save_weights
from quartet.core.runs import RunDir
from quartet.core.trainer import TrainConfig, Trainer
from quartet.infopattern.messages import Message, stance_value
from quartet.infopattern.prompts import DEFAULT_TEMPLATE, REPLY_TEMPLATE, message_prompt
from quartet.lm.data import IGNORE, collate_lm, encode_sft
from quartet.lm.protocol import LanguageModel, context_limit
from quartet.lm.scoring import split_continuation

log = logging.getLogger(__name__)

__all__ = ["DEFAULT_TEMPLATE", "REPLY_TEMPLATE", "LMSwitch", "message_prompt", "switched", "train_switch"]


class LMSwitch(nn.Module):
    """``K`` stance dimensions, each a rank-``r`` linear map of the hidden state, scaled by ``s_k``."""

    def __init__(self, dim: int, rank: int = 8, n_dims: int = 1, epsilon: float = 1.0, seed: int = 0):
        super().__init__()
        self.dim, self.rank, self.n_dims, self.epsilon = dim, rank, n_dims, epsilon
        gen = torch.Generator().manual_seed(seed)
        # LoRA-style start: P1 random, P2 zero, so W = 0 and the switched model equals the base model.
        self.p1 = nn.Parameter(torch.randn(n_dims, dim, rank, generator=gen) / dim**0.5)
        self.p2 = nn.Parameter(torch.zeros(n_dims, dim, rank))

    def config(self) -> dict[str, Any]:
        return {"kind": "lm-switch", "dim": self.dim, "rank": self.rank, "n_dims": self.n_dims,
                "epsilon": self.epsilon}

    def forward(self, h: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
        """``h`` (B, T, D); ``s`` (B, K) or (K,) or a scalar. Returns h' (B, T, D) in h's dtype."""
        s = torch.as_tensor(s, dtype=torch.float32, device=h.device)
        s = s.reshape(1, -1).expand(h.shape[0], self.n_dims) if s.dim() < 2 else s  # (B, K)
        low = torch.einsum("btd,kdr->btkr", h.float(), self.p1)  # (B, T, K, r)
        delta = torch.einsum("btkr,ker->btke", low, self.p2)  # (B, T, K, D)
        delta = (delta * s[:, None, :, None]).sum(2)  # (B, T, D)
        return h + (self.epsilon * delta).to(h.dtype)

    def save(self, directory: Path | str, extra: dict[str, Any] | None = None) -> None:
        save_weights(self, Path(directory), {**self.config(), **(extra or {})}, name="switch")

    @classmethod
    def load(cls, directory: Path | str) -> LMSwitch:
        cfg = read_weights_config(Path(directory), name="switch")
        if cfg.get("kind") != "lm-switch":
            raise ValueError(f"{directory}/switch.json: not an LM-Switch (kind {cfg.get('kind')!r})")
        switch = cls(cfg["dim"], cfg["rank"], cfg["n_dims"], cfg["epsilon"])
        load_weights(switch, Path(directory), name="switch")
        return switch


def switch_meta(directory: Path | str) -> dict[str, Any]:
    """The JSON sidecar of a saved switch (prompt template, label values, base model)."""
    return read_weights_config(Path(directory), name="switch")


@contextmanager
def switched(lm: LanguageModel, switch: LMSwitch, s: float | Sequence[float] | torch.Tensor) -> Iterator[None]:
    """Everything ``lm`` does inside the block (scoring, generation) runs with the switch at ``s``."""
    value = torch.as_tensor(s, dtype=torch.float32).reshape(-1)
    if value.numel() == 1 and switch.n_dims > 1:
        value = value.expand(switch.n_dims)
    switch.to(lm.device).eval()
    with torch.no_grad(), lm.hidden_transform(lambda h: switch(h, value)):
        yield


def axis_value(switch: LMSwitch, value: float, dim: int | None = None) -> float | list[float]:
    """``s`` that sets dimension ``dim`` to ``value`` and the others to 0 (``dim`` None, or a
    one-dimension switch: ``value`` itself, which ``switched`` applies to every dimension).

    >>> axis_value(LMSwitch(4, 1, n_dims=3), -1.0, 1), axis_value(LMSwitch(4, 1), 0.5, 0)
    ([0.0, -1.0, 0.0], 0.5)
    """
    if dim is None or switch.n_dims == 1:
        return value
    if not 0 <= dim < switch.n_dims:
        raise ValueError(f"switch dimension {dim} does not exist (the switch has {switch.n_dims})")
    return [value if k == dim else 0.0 for k in range(switch.n_dims)]


def hidden_dim(lm: LanguageModel) -> int:
    """Width of ``lm``'s final hidden state (the built-in model's ``dim``, a HF model's ``hidden_size``)."""
    cfg = getattr(lm.module, "cfg", None)
    if cfg is not None and hasattr(cfg, "dim"):
        return int(cfg.dim)
    inner = getattr(lm.module, "model", None)
    hf_cfg = getattr(inner, "config", None)
    if hf_cfg is not None and hasattr(hf_cfg, "hidden_size"):
        return int(hf_cfg.hidden_size)
    raise ValueError("cannot tell the hidden size of this language model")


def switch_templates(meta: dict[str, Any]) -> tuple[str, str]:
    """``(topic template, reply template)`` a saved switch was trained with; a switch saved
    without a reply template was trained on topic prompts only, so it gets none ("")."""
    return meta.get("template", DEFAULT_TEMPLATE), meta.get("reply_template", "")


def label_vector(label: str | None, value_map: dict[str, Sequence[float]] | None, n_dims: int) -> list[float]:
    """``s`` for a label: from ``value_map`` when given, else ``stance_value`` (+1 favor-like, −1 against-like, 0)."""
    if value_map:
        if label not in value_map:
            raise ValueError(f"label {label!r} has no switch value (value map covers {sorted(value_map)})")
        vec = [float(v) for v in value_map[label]]
    else:
        vec = [stance_value(label)]
    if len(vec) != n_dims:
        raise ValueError(f"label {label!r}: switch value {vec} has {len(vec)} dimensions, the switch has {n_dims}")
    return vec


class _SwitchTraining(nn.Module):
    """Only the switch is a submodule: the optimizer, clipping and checkpoints see the switch alone."""

    def __init__(self, lm: LanguageModel, switch: LMSwitch):
        super().__init__()
        self.switch = switch
        object.__setattr__(self, "_lm", lm)  # the frozen base, deliberately not registered

    def forward(self, input_ids: torch.Tensor, s: torch.Tensor) -> torch.Tensor:
        with self._lm.hidden_transform(lambda h: self.switch(h, s)):
            return self._lm.module(input_ids)  # (B, T, V)


def _switch_loss(module: nn.Module, batch: dict[str, Any]) -> tuple[torch.Tensor, dict[str, float]]:
    logits = module(batch["input_ids"], batch["s"])  # (B, T, V)
    targets = batch["labels"][:, 1:]
    loss = F.cross_entropy(logits[:, :-1].flatten(0, 1).float(), targets.flatten(), ignore_index=IGNORE)
    return loss, {"tokens": float((targets != IGNORE).sum())}


def _collate(items: list[dict[str, Any]], pad_id: int) -> dict[str, torch.Tensor]:
    batch = collate_lm([{"input_ids": i["input_ids"], "labels": i["labels"]} for i in items], pad_id)
    batch["s"] = torch.tensor([i["s"] for i in items], dtype=torch.float32)  # (B, K)
    return batch


def switch_examples(
    lm: LanguageModel,
    messages: Sequence[Message],
    template: str = DEFAULT_TEMPLATE,
    label_field: str = "stance",
    value_map: dict[str, Sequence[float]] | None = None,
    n_dims: int = 1,
    max_len: int = 256,
    contexts: dict[str, str] | None = None,
    reply_template: str = REPLY_TEMPLATE,
) -> list[dict[str, Any]]:
    """One LM example per message: loss on the message text after its prompt (the reply template
    when ``contexts`` gives the text it answers, else the topic template), with its ``s``."""
    out = []
    for m in messages:
        prompt = message_prompt(m, template, (contexts or {}).get(m.id), reply_template)
        ex = encode_sft(lm.tokenizer, prompt, " " + m.text, max_len)
        out.append({**ex, "s": label_vector(getattr(m, label_field), value_map, n_dims)})
    return out


def train_switch(
    lm: LanguageModel,
    switch: LMSwitch,
    messages: Sequence[Message],
    cfg: TrainConfig,
    run: RunDir | Path,
    template: str = DEFAULT_TEMPLATE,
    label_field: str = "stance",
    value_map: dict[str, Sequence[float]] | None = None,
    max_len: int = 256,
    contexts: dict[str, str] | None = None,
    reply_template: str = REPLY_TEMPLATE,
) -> dict[str, float]:
    """Train ``switch`` on ``messages`` with ``lm`` frozen; resumes from ``run``'s checkpoints.

    Every message contributes the LM loss of its text (after its prompt, see ``switch_examples``)
    with ``s`` = its label's value (``value_map`` gives one vector per label for several
    dimensions). A run with only one side (all ``s`` equal) cannot learn a direction and is refused.
    """
    run = run if isinstance(run, RunDir) else RunDir(Path(run))
    run.path.mkdir(parents=True, exist_ok=True)
    examples = switch_examples(lm, messages, template, label_field, value_map, switch.n_dims, max_len,
                               contexts, reply_template)
    if len({tuple(e["s"]) for e in examples}) < 2:
        raise ValueError("every message has the same switch value: a switch needs at least two sides to learn from")
    lm.module.requires_grad_(False)
    lm.module.eval()
    module = _SwitchTraining(lm, switch)
    trainer = Trainer(module, _switch_loss, examples, functools.partial(_collate, pad_id=lm.tokenizer.pad_id),
                      cfg, run, {"switch": switch.config()}, device=lm.device)
    metrics = trainer.fit()
    switch.eval()
    return metrics


def fit_to_context(lm: LanguageModel, prompt: str, text: str, reserve: int = 0) -> tuple[str, str]:
    """``(prompt, text)`` shortened to fit the model's context with ``reserve`` tokens to spare.

    The prompt loses tokens from its start (its end, "… message :" or "… reply :", is what the text follows);
    the text keeps its start, with at least half of the room. Unchanged when it already fits.
    """
    limit = context_limit(lm)
    if limit is None:
        return prompt, text
    tok = lm.tokenizer
    for margin in (2, 6, 12, 24):
        p_ids, c_ids = split_continuation(tok, prompt, text)
        if len(p_ids) + len(c_ids) + reserve <= limit:
            return prompt, text
        room = limit - reserve - margin
        if room < 4:
            raise ValueError(f"the model's context ({limit} tokens) leaves no room for text")
        body = p_ids[1:] if tok.bos_id is not None and p_ids[:1] == [tok.bos_id] else p_ids
        c_keep = min(len(c_ids), max(room // 2, room - len(body)))
        p_keep = max(0, room - c_keep)
        prompt = tok.decode(body[len(body) - p_keep :]) if p_keep else ""
        text = tok.decode(c_ids[:c_keep])
    return prompt, text


def token_logprobs(
    lm: LanguageModel, switch: LMSwitch | None, s: float | Sequence[float] | None, prompts: Sequence[str],
    texts: Sequence[str],
) -> list[list[float]]:
    """Per-token log-probs of each text after its prompt, with the switch at ``s`` (or the base model).

    Pairs longer than the model's context are shortened first (``fit_to_context``).
    """
    pairs = [fit_to_context(lm, p, t) for p, t in zip(prompts, texts, strict=True)]
    prompts, texts = [p for p, _ in pairs], [t for _, t in pairs]
    if switch is None or s is None:
        return lm.loglikelihood(prompts, texts)
    with switched(lm, switch, s):
        return lm.loglikelihood(prompts, texts)


def load_value_map(text: str) -> dict[str, list[float]] | None:
    """A value map given on the command line as JSON (``{"pro": [1], "con": [-1]}``), or None."""
    if not text:
        return None
    data = json.loads(text)
    if not isinstance(data, dict):
        raise ValueError("the switch value map must be a JSON object label -> list of numbers")
    return {str(k): [float(x) for x in (v if isinstance(v, list) else [v])] for k, v in data.items()}

