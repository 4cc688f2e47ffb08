"""The real-scale path: the pipeline with a Hugging Face model folder as the base LM (a tiny random Llama)."""

from __future__ import annotations

import json
from pathlib import Path

import torch

from quartet.core.config import load_config
from quartet.infopattern.config import InfoPatternConfig
from quartet.infopattern.pipeline import run_redteam, run_stance_eval, run_stance_train
from quartet.infopattern.switch import LMSwitch, message_prompt
from quartet.infopattern.synthetic import builtin_messages
from quartet.lm.tokenizer import Tokenizer

CONFIG = Path(__file__).resolve().parents[2] / "configs" / "infopattern" / "test.yaml"


def test_pipeline_with_a_hugging_face_base_model(tmp_path):
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    texts = [message_prompt(m) + " " + m.text for m in builtin_messages(200)]
    tok = Tokenizer.train(texts, kind="bpe", vocab_size=300)
    torch.manual_seed(0)
    cfg = LlamaConfig(vocab_size=tok.vocab_size, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=128,
                      bos_token_id=tok.bos_id, eos_token_id=tok.eos_id)
    LlamaForCausalLM(cfg).save_pretrained(tmp_path / "hf")
    PreTrainedTokenizerFast(tokenizer_object=tok.backend, bos_token="<bos>", eos_token="<eos>", pad_token="<pad>",
                            unk_token="<unk>").save_pretrained(tmp_path / "hf")
    weights_before = (tmp_path / "hf" / "model.safetensors").read_bytes()

    ip = load_config(InfoPatternConfig, CONFIG, [f"lm.model={tmp_path / 'hf'}", "name=hf",
                                                 "stance.detectors=[switch]", "switch.train.steps=6"])
    run_stance_train(ip, tmp_path / "runs")
    run = tmp_path / "runs" / "infopattern" / "hf"
    assert not (run / "builtin" / "lm").exists()  # the given model is used as is, never retrained
    switch = LMSwitch.load(run / "builtin" / "switch")
    assert switch.dim == 32 and switch.p2.abs().sum() > 0
    assert json.loads((run / "builtin" / "switch" / "switch.json").read_text())["base_model"] == str(tmp_path / "hf")
    run_stance_eval(ip, tmp_path / "runs")
    stance = json.loads((run / "artifacts" / "stance.json").read_text())
    assert stance["builtin"]["switch"]["n"] == 60
    run_redteam(ip, tmp_path / "runs")
    red = json.loads((run / "artifacts" / "redteam.json").read_text())
    assert all(r["n_responses"] == 12 for r in red["rows"])
    assert (tmp_path / "hf" / "model.safetensors").read_bytes() == weights_before  # the base stays frozen
