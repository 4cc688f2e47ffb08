"""The built-in decoder-only transformer.

Architecturally a Llama (RMSNorm, rotary position embeddings in the ``rotate_half``
convention, SwiGLU, no biases, tied input/output embeddings), so that a model trained
here exports to ``LlamaForCausalLM`` weight for weight (see ``quartet.lm.export``).

The forward pass takes an optional ``KVCache``: generation prefills a prompt once and
then feeds one token at a time; ``KVCache.repeat_rows`` lets N continuations branch
from one prefill (prefix sharing).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass

import torch
import torch.nn.functional as F
from torch import nn


@dataclass(frozen=True)
class ModelConfig:
    """Sizes of the transformer; ``asdict`` of it is the ``model.json`` sidecar."""

    vocab_size: int  # number of token ids
    dim: int = 128  # residual width
    n_layers: int = 4  # transformer blocks
    n_heads: int = 4  # attention heads (dim must divide evenly)
    hidden_dim: int = 0  # SwiGLU inner width; 0: 8/3·dim rounded up to a multiple of 32
    max_seq_len: int = 512  # longest sequence (prompt + generation)
    rope_theta: float = 10000.0  # rotary base
    norm_eps: float = 1e-5  # RMSNorm epsilon

    @property
    def ffn_dim(self) -> int:
        if self.hidden_dim:
            return self.hidden_dim
        return 32 * -(-(8 * self.dim // 3) // 32)

    @property
    def head_dim(self) -> int:
        return self.dim // self.n_heads

    def to_json(self) -> dict:
        return {"architecture": "quartet-llama", **asdict(self)}

    @classmethod
    def from_json(cls, data: dict) -> ModelConfig:
        data = {k: v for k, v in data.items() if k != "architecture"}
        return cls(**data)


def tiny(vocab_size: int) -> ModelConfig:
    """About 0.3 M parameters plus embeddings: the test and embedded-demo scale."""
    return ModelConfig(vocab_size=vocab_size, dim=64, n_layers=2, n_heads=4, max_seq_len=256)


def small(vocab_size: int) -> ModelConfig:
    """About 3 M parameters plus embeddings: steadier results, still CPU-trainable."""
    return ModelConfig(vocab_size=vocab_size, dim=192, n_layers=6, n_heads=6, max_seq_len=512)


class RMSNorm(nn.Module):
    def __init__(self, dim: int, eps: float):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # Normalise in float32 as Llama does, so bf16 runs match fp32 closely.
        dtype = x.dtype
        x = x.float()
        x = x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps)
        return self.weight * x.to(dtype)


def rotary_cos_sin(position_ids: torch.Tensor, head_dim: int, theta: float) -> tuple[torch.Tensor, torch.Tensor]:
    """cos/sin tables for ``position_ids (B, T)``: each (B, 1, T, head_dim)."""
    inv_freq = 1.0 / (theta ** (torch.arange(0, head_dim, 2, device=position_ids.device).float() / head_dim))
    freqs = position_ids.float()[..., None] * inv_freq  # (B, T, head_dim/2)
    emb = torch.cat([freqs, freqs], dim=-1)  # (B, T, head_dim)
    return emb.cos()[:, None], emb.sin()[:, None]


def rotate_half(x: torch.Tensor) -> torch.Tensor:
    half = x.shape[-1] // 2
    return torch.cat([-x[..., half:], x[..., :half]], dim=-1)


class KVCache:
    """Preallocated keys/values for every layer: (B, H, capacity, head_dim) each."""

    def __init__(self, n_layers: int, batch: int, n_heads: int, capacity: int, head_dim: int, like: torch.Tensor):
        shape = (batch, n_heads, capacity, head_dim)
        self.keys = [like.new_zeros(shape) for _ in range(n_layers)]
        self.values = [like.new_zeros(shape) for _ in range(n_layers)]
        self.length = 0  # positions filled so far

    def update(self, layer: int, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Store k/v (B, H, T_new, hd) after the filled part; return all filled keys/values."""
        start, end = self.length, self.length + k.shape[2]
        self.keys[layer][:, :, start:end] = k
        self.values[layer][:, :, start:end] = v
        return self.keys[layer][:, :, :end], self.values[layer][:, :, :end]

    def advance(self, n: int) -> None:
        self.length += n

    def repeat_rows(self, n: int) -> None:
        """Each row becomes ``n`` consecutive rows: N continuations share one prefill."""
        self.keys = [k.repeat_interleave(n, dim=0) for k in self.keys]
        self.values = [v.repeat_interleave(n, dim=0) for v in self.values]


class Attention(nn.Module):
    def __init__(self, dim: int, n_heads: int):
        super().__init__()
        self.n_heads = n_heads
        self.q_proj = nn.Linear(dim, dim, bias=False)
        self.k_proj = nn.Linear(dim, dim, bias=False)
        self.v_proj = nn.Linear(dim, dim, bias=False)
        self.o_proj = nn.Linear(dim, dim, bias=False)

    def forward(self, x, cos, sin, mask, cache: KVCache | None, layer: int) -> torch.Tensor:
        B, T, C = x.shape  # (B, T, C)
        q, k, v = (
            proj(x).view(B, T, self.n_heads, C // self.n_heads).transpose(1, 2)
            for proj in (self.q_proj, self.k_proj, self.v_proj)
        )  # each (B, H, T, hd)
        q = q * cos + rotate_half(q) * sin
        k = k * cos + rotate_half(k) * sin
        if cache is not None:
            k, v = cache.update(layer, k, v)  # (B, H, T_past + T, hd)
        if mask is None:
            # No mask: causal from position 0, or one new query that may see every cached key.
            out = F.scaled_dot_product_attention(q, k, v, is_causal=T > 1)
        else:
            out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        return self.o_proj(out.transpose(1, 2).reshape(B, T, C))


class FeedForward(nn.Module):
    def __init__(self, dim: int, hidden: int):
        super().__init__()
        self.gate_proj = nn.Linear(dim, hidden, bias=False)
        self.up_proj = nn.Linear(dim, hidden, bias=False)
        self.down_proj = nn.Linear(hidden, dim, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.down_proj(F.silu(self.gate_proj(x)) * self.up_proj(x))


class Block(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.input_layernorm = RMSNorm(cfg.dim, cfg.norm_eps)
        self.self_attn = Attention(cfg.dim, cfg.n_heads)
        self.post_attention_layernorm = RMSNorm(cfg.dim, cfg.norm_eps)
        self.mlp = FeedForward(cfg.dim, cfg.ffn_dim)

    def forward(self, x, cos, sin, mask, cache, layer):
        x = x + self.self_attn(self.input_layernorm(x), cos, sin, mask, cache, layer)
        return x + self.mlp(self.post_attention_layernorm(x))


def attention_mask_4d(key_valid: torch.Tensor, query_len: int) -> torch.Tensor:
    """Boolean (B, 1, Tq, Tk) mask: causal over the last ``query_len`` keys, padding keys hidden.

    A padded query position would see no key at all (NaN from softmax), so every query
    may always see its own position; pad positions' outputs are never used.
    """
    B, Tk = key_valid.shape
    q_pos = torch.arange(Tk - query_len, Tk, device=key_valid.device)[:, None]  # (Tq, 1)
    k_pos = torch.arange(Tk, device=key_valid.device)[None, :]  # (1, Tk)
    causal = k_pos <= q_pos  # (Tq, Tk)
    mask = causal[None] & key_valid[:, None, :].bool()  # (B, Tq, Tk)
    mask = mask | (k_pos == q_pos)[None]
    return mask[:, None]


class Transformer(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        if cfg.dim % cfg.n_heads:
            raise ValueError(f"dim {cfg.dim} is not divisible by n_heads {cfg.n_heads}")
        self.cfg = cfg
        self.embed_tokens = nn.Embedding(cfg.vocab_size, cfg.dim)
        self.layers = nn.ModuleList(Block(cfg) for _ in range(cfg.n_layers))
        self.norm = RMSNorm(cfg.dim, cfg.norm_eps)
        # Set by ``BuiltinLM.hidden_transform`` (LM-Switch); not a parameter of the base model.
        self.hidden_transform: Callable[[torch.Tensor], torch.Tensor] | None = None
        self.apply(self._init_weights)
        # cos/sin for every position, computed once: a decoding step only indexes them.
        # Not persistent: they follow from the config, so checkpoints never hold them.
        cos, sin = rotary_cos_sin(torch.arange(cfg.max_seq_len)[None], cfg.head_dim, cfg.rope_theta)
        self.register_buffer("rope_cos", cos[0, 0], persistent=False)  # (max_seq_len, head_dim)
        self.register_buffer("rope_sin", sin[0, 0], persistent=False)

    def _rotary(self, position_ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """cos/sin at ``position_ids (B, T)``: each (B, 1, T, head_dim)."""
        return self.rope_cos[position_ids][:, None], self.rope_sin[position_ids][:, None]

    @staticmethod
    def _init_weights(module: nn.Module) -> None:
        if isinstance(module, nn.Linear | nn.Embedding):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.parameters())

    def hidden(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        cache: KVCache | None = None,
    ) -> torch.Tensor:
        """Final hidden states (B, T, C), after the last norm and any hidden transform.

        ``attention_mask`` (B, T_past + T) marks real tokens with 1 (left or right padding);
        with neither a mask nor a cache the fast causal kernel is used.
        """
        B, T = input_ids.shape
        past = cache.length if cache is not None else 0
        if position_ids is None:
            if attention_mask is None:
                position_ids = torch.arange(past, past + T, device=input_ids.device).expand(B, T)
            else:
                position_ids = (attention_mask.long().cumsum(-1) - 1).clamp(min=0)[:, -T:]
        mask = None
        if T == 1:
            # A decoding step: the one query may see every real key; only padding needs a mask.
            if attention_mask is not None and not bool(attention_mask.all()):
                mask = attention_mask.bool()[:, None, None, :]  # (B, 1, 1, Tk)
        elif attention_mask is not None:
            mask = attention_mask_4d(attention_mask, T)
        elif past > 0:  # is_causal aligns top-left, wrong once keys outnumber queries
            mask = attention_mask_4d(torch.ones(B, past + T, dtype=torch.bool, device=input_ids.device), T)
        cos, sin = self._rotary(position_ids)
        x = self.embed_tokens(input_ids)  # (B, T, C)
        for i, layer in enumerate(self.layers):
            x = layer(x, cos, sin, mask, cache, i)
        if cache is not None:
            cache.advance(T)
        x = self.norm(x)
        if self.hidden_transform is not None:
            x = self.hidden_transform(x)
        return x

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        cache: KVCache | None = None,
    ) -> torch.Tensor:
        """Logits (B, T, vocab) through the tied output embedding."""
        return F.linear(self.hidden(input_ids, attention_mask, position_ids, cache), self.embed_tokens.weight)

    def new_cache(self, batch: int, capacity: int) -> KVCache:
        cfg = self.cfg
        like = self.embed_tokens.weight
        return KVCache(cfg.n_layers, batch, cfg.n_heads, capacity, cfg.head_dim, like)
