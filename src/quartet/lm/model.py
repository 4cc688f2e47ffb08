"""The built-in decoder-only transformer.

Architecturally a Llama (RMSNorm, rotary position embeddings in the ``rotate_half``
convention, SwiGLU, no biases, tied input/output embeddings), so that a model trained
here exports to ``LlamaForCausalLM`` weight for weight (see ``quartet.lm.export``).

The forward pass takes an optional ``KVCache``: generation prefills a prompt once and
then feeds one token at a time; ``KVCache.repeat_rows`` lets N continuations branch
from one prefill (prefix sharing).

Fused projections. The parameters are Llama's own (``q_proj``/``k_proj``/``v_proj``,
``gate_proj``/``up_proj``), so checkpoints, the optimizer and the export see exactly
Llama's tensors. The forward pass concatenates them and runs one matmul for q, k, v and
one for gate, up: at the embedded scale a decoding step is dominated by per-op
overhead, not arithmetic. Training concatenates inside autograd on every call (a few
kilobytes of copying, and gradients flow back to each parameter); generation
concatenates once per ``KVCache``, which lives for one ``generate`` call, during which
no weight can change. No cache outlives its generation, so there is nothing to
invalidate.
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
    """The test and embedded-demo scale: 106,816 parameters plus 64 per vocabulary entry.

    >>> Transformer(tiny(100)).num_parameters()
    113216
    """
    return ModelConfig(vocab_size=vocab_size, dim=64, n_layers=2, n_heads=4, max_seq_len=256)


def small(vocab_size: int) -> ModelConfig:
    """Steadier results, still CPU-trainable: 2.66 M parameters plus 192 per vocabulary entry.

    >>> Transformer(small(100)).num_parameters()
    2675904
    """
    return ModelConfig(vocab_size=vocab_size, dim=192, n_layers=6, n_heads=6, max_seq_len=512)


class RMSNorm(nn.Module):
    def __init__(self, dim: int, eps: float):
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # Normalise in float32 as Llama does, so bf16 runs match fp32 closely. In float32,
        # torch's fused kernel gives bit-identical results to Llama's formula in one op.
        if x.dtype == torch.float32:
            return F.rms_norm(x, self.weight.shape, self.weight, self.eps)
        normed = F.rms_norm(x.float(), self.weight.shape, None, self.eps)
        return self.weight * normed.to(x.dtype)


def rotary_tables(max_seq_len: int, head_dim: int, theta: float) -> torch.Tensor:
    """(max_seq_len, 2, head_dim): cos, and sin with its first half negated.

    With that sign folded in, Llama's ``rotate_half(x) * sin`` is exactly ``roll(x) *
    signed_sin`` (a negation is exact), and rolling by half a head is one op.
    """
    inv_freq = 1.0 / (theta ** (torch.arange(0, head_dim, 2).float() / head_dim))
    freqs = torch.arange(max_seq_len).float()[:, None] * inv_freq  # (T, head_dim/2)
    emb = torch.cat([freqs, freqs], dim=-1)  # (T, head_dim)
    sin = emb.sin()
    sin[:, : head_dim // 2] *= -1
    return torch.stack([emb.cos(), sin], dim=1)


def apply_rotary(x: torch.Tensor, cos: torch.Tensor, signed_sin: torch.Tensor) -> torch.Tensor:
    """Rotate ``x (..., head_dim)``: ``x * cos + rotate_half(x) * sin`` in Llama's convention.

    >>> x = torch.tensor([1.0, 2.0, 3.0, 4.0])
    >>> apply_rotary(x, torch.zeros(4), torch.tensor([-1.0, -1.0, 1.0, 1.0]))  # rotate_half
    tensor([-3., -4.,  1.,  2.])
    """
    return torch.addcmul(x * cos, x.roll(x.shape[-1] // 2, -1), signed_sin)


class KVCache:
    """What decoding needs between steps, preallocated for ``capacity`` positions.

    Keys and values of every layer, (B, H, capacity, head_dim) each; each row's next
    position; which cached keys are real (set when the prefill had padding); and the
    fused projection weights, concatenated once for this generation.
    """

    def __init__(self, model: Transformer, batch: int, capacity: int):
        cfg = model.cfg
        like = model.embed_tokens.weight
        shape = (batch, cfg.n_heads, capacity, cfg.head_dim)
        self.keys = [like.new_zeros(shape) for _ in range(cfg.n_layers)]
        self.values = [like.new_zeros(shape) for _ in range(cfg.n_layers)]
        self.length = 0  # positions filled so far
        self.capacity = capacity
        self.next_position: torch.Tensor | None = None  # (B, 1) position id of each row's next token
        self.key_valid: torch.Tensor | None = None  # (B, capacity) bool; None: no row is padded
        with torch.no_grad():
            self.weights = [layer.fused_weights() for layer in model.layers]

    def update(self, layer: int, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Store k/v (B, H, T_new, hd) after the filled part; return all filled keys/values."""
        start, end = self.length, self.length + k.shape[2]
        self.keys[layer][:, :, start:end] = k
        self.values[layer][:, :, start:end] = v
        return self.keys[layer][:, :, :end], self.values[layer][:, :, :end]

    def remember_padding(self, attention_mask: torch.Tensor) -> None:
        """Record the prefill's padding (B, T); later tokens are real."""
        if bool(attention_mask.all()):
            return
        self.key_valid = torch.ones(attention_mask.shape[0], self.capacity, dtype=torch.bool,
                                    device=attention_mask.device)
        self.key_valid[:, : attention_mask.shape[1]] = attention_mask.bool()

    def repeat_rows(self, n: int) -> None:
        """Each row becomes ``n`` consecutive rows: N continuations share one prefill."""
        self.keys = [k.repeat_interleave(n, dim=0) for k in self.keys]
        self.values = [v.repeat_interleave(n, dim=0) for v in self.values]
        if self.next_position is not None:
            self.next_position = self.next_position.repeat_interleave(n, dim=0)
        if self.key_valid is not None:
            self.key_valid = self.key_valid.repeat_interleave(n, dim=0)


class Attention(nn.Module):
    def __init__(self, dim: int, n_heads: int):
        super().__init__()
        self.n_heads = n_heads
        self.q_proj = nn.Linear(dim, dim, bias=False)
        self.k_proj = nn.Linear(dim, dim, bias=False)
        self.v_proj = nn.Linear(dim, dim, bias=False)
        self.o_proj = nn.Linear(dim, dim, bias=False)

    def fused_weight(self) -> torch.Tensor:
        return torch.cat([self.q_proj.weight, self.k_proj.weight, self.v_proj.weight])  # (3C, C)

    def forward(self, x, rope, mask, cache: KVCache | None, layer: int, qkv_weight) -> torch.Tensor:
        B, T, C = x.shape  # (B, T, C)
        H = self.n_heads
        # split/unbind rather than indexing: their backward is one cat/stack, not a zero-filled
        # copy of the whole projection per slice.
        qk, v = F.linear(x, qkv_weight).view(B, T, 3, H, C // H).split([2, 1], dim=2)  # (B, T, 2|1, H, hd)
        q, k = apply_rotary(qk, *rope).unbind(2)  # q and k rotated together
        q, k, v = q.transpose(1, 2), k.transpose(1, 2), v.squeeze(2).transpose(1, 2)  # (B, H, T, hd)
        if cache is not None:
            k, v = cache.update(layer, k, v)  # (B, H, T_past + T, hd)
        if mask is None:
            # No mask: causal from position 0, or one new query that may see every cached key.
            out = F.scaled_dot_product_attention(q, k, v, is_causal=T > 1)
        else:
            out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        return F.linear(out.transpose(1, 2).reshape(B, T, C), self.o_proj.weight)


class FeedForward(nn.Module):
    def __init__(self, dim: int, hidden: int):
        super().__init__()
        self.gate_proj = nn.Linear(dim, hidden, bias=False)
        self.up_proj = nn.Linear(dim, hidden, bias=False)
        self.down_proj = nn.Linear(hidden, dim, bias=False)

    def fused_weight(self) -> torch.Tensor:
        return torch.cat([self.gate_proj.weight, self.up_proj.weight])  # (2F, C)

    def forward(self, x: torch.Tensor, gate_up_weight: torch.Tensor) -> torch.Tensor:
        gate, up = F.linear(x, gate_up_weight).chunk(2, dim=-1)  # (B, T, F) each
        return F.linear(F.silu(gate) * up, self.down_proj.weight)


class Block(nn.Module):
    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.input_layernorm = RMSNorm(cfg.dim, cfg.norm_eps)
        self.self_attn = Attention(cfg.dim, cfg.n_heads)
        self.post_attention_layernorm = RMSNorm(cfg.dim, cfg.norm_eps)
        self.mlp = FeedForward(cfg.dim, cfg.ffn_dim)

    def fused_weights(self) -> tuple[torch.Tensor, torch.Tensor]:
        return self.self_attn.fused_weight(), self.mlp.fused_weight()

    def forward(self, x, rope, mask, cache: KVCache | None, layer: int):
        qkv_weight, gate_up_weight = cache.weights[layer] if cache is not None else self.fused_weights()
        x = x + self.self_attn(self.input_layernorm(x), rope, mask, cache, layer, qkv_weight)
        return x + self.mlp(self.post_attention_layernorm(x), gate_up_weight)


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
        self.register_buffer("rope", rotary_tables(cfg.max_seq_len, cfg.head_dim, cfg.rope_theta), persistent=False)

    @staticmethod
    def _init_weights(module: nn.Module) -> None:
        if isinstance(module, nn.Linear | nn.Embedding):
            nn.init.normal_(module.weight, mean=0.0, std=0.02)

    def num_parameters(self) -> int:
        """Trainable tensors' elements, the tied embedding counted once."""
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
        with neither a mask nor a cache the fast causal kernel is used. With a cache, the
        mask is needed for the prefill only: the cache remembers its padding and each row's
        next position, and later tokens are real.
        """
        B, T = input_ids.shape
        past = cache.length if cache is not None else 0
        if cache is not None and past > 0 and attention_mask is None:
            if cache.key_valid is not None:
                attention_mask = cache.key_valid[:, : past + T]
            if position_ids is None and cache.next_position is not None:
                position_ids = cache.next_position
                if T > 1:
                    position_ids = position_ids + torch.arange(T, device=input_ids.device)
        if position_ids is None:
            if attention_mask is None:
                position_ids = torch.arange(past, past + T, device=input_ids.device).expand(B, T)
            else:
                position_ids = (attention_mask.long().cumsum(-1) - 1).clamp(min=0)[:, -T:]
        if cache is not None and past == 0 and attention_mask is not None:
            cache.remember_padding(attention_mask)
        mask = None
        if T == 1:
            # A decoding step: the one query may see every real key; only padding needs a mask.
            if attention_mask is not None and (cache is not None and cache.key_valid is not None
                                               or not bool(attention_mask.all())):
                mask = attention_mask.bool()[:, None, None, :]  # (B, 1, 1, Tk)
        elif attention_mask is not None:
            mask = attention_mask_4d(attention_mask, T)
        elif past > 0:  # is_causal aligns top-left, wrong once keys outnumber queries
            mask = attention_mask_4d(torch.ones(B, past + T, dtype=torch.bool, device=input_ids.device), T)
        rope = self.rope[position_ids][:, :, None, None].unbind(-2)  # cos, signed sin: (B, T, 1, 1, hd) each
        x = F.embedding(input_ids, self.embed_tokens.weight)  # (B, T, C)
        for i, layer in enumerate(self.layers):
            x = layer(x, rope, mask, cache, i)
        if cache is not None:
            cache.length += T
            cache.next_position = position_ids[:, -1:] + 1
        x = self.norm(x)
        if self.hidden_transform is not None:
            x = self.hidden_transform(x)
        return x

    def head(self, hidden: torch.Tensor) -> torch.Tensor:
        """Logits (..., vocab) of hidden states through the tied output embedding."""
        return F.linear(hidden, self.embed_tokens.weight)

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor | None = None,
        position_ids: torch.Tensor | None = None,
        cache: KVCache | None = None,
    ) -> torch.Tensor:
        """Logits (B, T, vocab) through the tied output embedding."""
        return self.head(self.hidden(input_ids, attention_mask, position_ids, cache))

    def new_cache(self, batch: int, capacity: int) -> KVCache:
        return KVCache(self, batch, capacity)
