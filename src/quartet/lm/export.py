"""Export the built-in model as a ``LlamaForCausalLM`` folder that transformers (and vLLM) load.

The built-in transformer uses Llama's parameter names and rotary convention, so the
export is a renaming under ``model.`` plus a config; no tensor is permuted.
"""

from __future__ import annotations

from pathlib import Path

from quartet.lm.builtin import BuiltinLM


def to_llama_config(lm: BuiltinLM):
    from transformers import LlamaConfig

    cfg = lm.module.cfg
    tok = lm.tokenizer
    return LlamaConfig(
        vocab_size=cfg.vocab_size,
        hidden_size=cfg.dim,
        intermediate_size=cfg.ffn_dim,
        num_hidden_layers=cfg.n_layers,
        num_attention_heads=cfg.n_heads,
        num_key_value_heads=cfg.n_heads,
        max_position_embeddings=cfg.max_seq_len,
        rms_norm_eps=cfg.norm_eps,
        rope_theta=cfg.rope_theta,
        hidden_act="silu",
        attention_bias=False,
        mlp_bias=False,
        tie_word_embeddings=True,
        bos_token_id=tok.bos_id,
        eos_token_id=tok.eos_id,
        pad_token_id=tok.pad_id,
    )


def export_to_hf(lm: BuiltinLM, out_dir: str | Path) -> Path:
    """Write ``out_dir`` with safetensors weights, ``config.json`` and a fast tokenizer."""
    from transformers import LlamaForCausalLM, PreTrainedTokenizerFast

    out_dir = Path(out_dir)
    model = LlamaForCausalLM(to_llama_config(lm))
    state = {f"model.{name}": tensor for name, tensor in lm.module.state_dict().items()}
    state["lm_head.weight"] = state["model.embed_tokens.weight"]
    missing, unexpected = model.load_state_dict(state, strict=False)
    # Rotary inverse frequencies are buffers computed from the config, not weights.
    missing = [k for k in missing if "rotary_emb" not in k]
    if missing or unexpected:
        raise RuntimeError(f"export mapping is incomplete: missing {missing}, unexpected {unexpected}")
    model.save_pretrained(out_dir)
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=lm.tokenizer.backend,
        bos_token="<bos>",
        eos_token="<eos>",
        pad_token="<pad>",
        unk_token="<unk>",
    )
    tokenizer.save_pretrained(out_dir)
    return out_dir
