"""LM-Switch: the formula, the hook on built-in and Hugging Face models, training with the base frozen."""

from __future__ import annotations

import pytest
import torch
from ip_helpers import toy_messages

from quartet.core.checkpoint import CheckpointError
from quartet.core.runs import RunDir
from quartet.core.trainer import TrainConfig
from quartet.infopattern.switch import (
    LMSwitch,
    hidden_dim,
    label_vector,
    message_prompt,
    switch_examples,
    switched,
    train_switch,
)
from quartet.lm.builtin import BuiltinLM
from quartet.lm.model import ModelConfig
from quartet.lm.tokenizer import Tokenizer


def toy_lm(messages, seed: int = 0) -> BuiltinLM:
    texts = [message_prompt(m) + " " + m.text for m in messages]
    tok = Tokenizer.train(texts, kind="word")
    cfg = ModelConfig(vocab_size=tok.vocab_size, dim=32, n_layers=2, n_heads=4, max_seq_len=64)
    return BuiltinLM.create(cfg, tok, seed=seed, batch_size=16)


def test_switch_formula_by_hand():
    sw = LMSwitch(dim=3, rank=1, n_dims=2, epsilon=0.5)
    with torch.no_grad():
        sw.p1.copy_(torch.tensor([[[1.0], [0.0], [0.0]], [[0.0], [1.0], [0.0]]]))  # (K=2, D=3, r=1)
        sw.p2.copy_(torch.tensor([[[0.0], [0.0], [2.0]], [[1.0], [0.0], [0.0]]]))
    h = torch.tensor([[[1.0, 2.0, 3.0]]])  # (1, 1, 3)
    # W_0 = e0 · (2 e2)ᵀ: h·W_0 = [0, 0, 2·h0] = [0, 0, 2];  W_1 = e1 · e0ᵀ: h·W_1 = [h1, 0, 0] = [2, 0, 0]
    out = sw(h, torch.tensor([[1.0, -1.0]]))
    # h + 0.5 · (1·[0,0,2] − 1·[2,0,0]) = [1 − 1, 2, 3 + 1]
    assert torch.allclose(out, torch.tensor([[[0.0, 2.0, 4.0]]]))
    assert torch.allclose(sw(h, torch.tensor([0.0, 0.0])), h)


def test_switched_changes_logits_only_inside_the_block_and_starts_as_identity():
    messages = toy_messages(4)
    lm = toy_lm(messages)
    sw = LMSwitch(hidden_dim(lm), rank=2)
    ids = torch.tensor([lm.tokenizer.encode("topic : cats . message : i love cats", add_bos=True)])
    base = lm.module(ids)
    with switched(lm, sw, 1.0):
        assert torch.equal(lm.module(ids), base)  # P2 = 0 at the start
    with torch.no_grad():
        sw.p2.normal_()
    with switched(lm, sw, 1.0):
        plus = lm.module(ids)
    with switched(lm, sw, -1.0):
        minus = lm.module(ids)
    assert not torch.allclose(plus, base) and not torch.allclose(plus, minus)
    assert torch.equal(lm.module(ids), base) and lm.module.hidden_transform is None


def test_training_moves_only_the_switch_and_separates_the_sides(tmp_path):
    messages = toy_messages(12)
    lm = toy_lm(messages)
    from quartet.lm.training import train_lm

    (tmp_path / "lm").mkdir()
    train_lm(lm, [(message_prompt(m), " " + m.text) for m in messages],
             TrainConfig(steps=30, batch_size=8, lr=1e-2, warmup_steps=2, log_every=100), tmp_path / "lm")
    base = {k: v.clone() for k, v in lm.module.state_dict().items()}
    sw = LMSwitch(hidden_dim(lm), rank=4, seed=1)
    before = {k: v.clone() for k, v in sw.state_dict().items()}
    pro, con = "i love cats they are great", "i hate cats they are bad"

    def loglik(s, text):
        with switched(lm, sw, s):
            return sum(lm.loglikelihood(["topic : cats . message :"], [" " + text])[0])

    gap_before = (loglik(1, pro) - loglik(-1, pro)) - (loglik(1, con) - loglik(-1, con))
    cfg = TrainConfig(steps=40, batch_size=8, lr=3e-2, warmup_steps=2, weight_decay=0.0, log_every=5)
    train_switch(lm, sw, messages, cfg, tmp_path / "switch")
    assert all(torch.equal(base[k], v) for k, v in lm.module.state_dict().items())  # base frozen
    assert all(not torch.equal(before[k], v) for k, v in sw.state_dict().items())  # every switch tensor moved
    gap_after = (loglik(1, pro) - loglik(-1, pro)) - (loglik(1, con) - loglik(-1, con))
    assert gap_before == pytest.approx(0.0, abs=1e-6) and gap_after > 1.0  # +s favours pro text, −s con text
    losses = [r["loss"] for r in RunDir(tmp_path / "switch").read_metrics()]
    assert losses[-1] < losses[0]
    # checkpoints hold the switch alone, never the base model's weights
    from safetensors import safe_open

    with safe_open(str(tmp_path / "switch" / "checkpoints" / "step_40" / "model.safetensors"), "pt") as f:
        assert sorted(f.keys()) == ["switch.p1", "switch.p2"]
    sw.save(tmp_path / "saved", {"template": "x {target}"})
    again = LMSwitch.load(tmp_path / "saved")
    assert all(torch.equal(sw.state_dict()[k], v) for k, v in again.state_dict().items())
    LMSwitch(hidden_dim(lm), rank=3).save(tmp_path / "other")
    (tmp_path / "saved" / "switch.safetensors").write_bytes((tmp_path / "other" / "switch.safetensors").read_bytes())
    with pytest.raises(CheckpointError, match="size mismatch for p1"):
        LMSwitch.load(tmp_path / "saved")  # strict: a rank-3 file does not load into a rank-4 switch


def test_one_sided_data_and_bad_value_maps_are_refused(tmp_path):
    messages = [m for m in toy_messages(4) if m.stance == "pro"]
    lm = toy_lm(messages)
    with pytest.raises(ValueError, match="at least two sides"):
        train_switch(lm, LMSwitch(hidden_dim(lm)), messages, TrainConfig(steps=1), tmp_path)
    assert label_vector("deny", None, 1) == [-1.0]
    assert label_vector("query", {"query": [0.0, 1.0]}, 2) == [0.0, 1.0]
    with pytest.raises(ValueError, match="no switch value"):
        label_vector("comment", {"query": [1.0]}, 1)
    with pytest.raises(ValueError, match="dimensions"):
        switch_examples(lm, messages, value_map={"pro": [1.0, 0.0]}, n_dims=1)


def test_switch_on_a_hugging_face_model(tmp_path):
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    from quartet.lm.hf import HFCausalLM

    messages = toy_messages(6)
    tok = toy_lm(messages).tokenizer
    torch.manual_seed(0)
    cfg = LlamaConfig(vocab_size=tok.vocab_size, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                      num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=64,
                      bos_token_id=tok.bos_id, eos_token_id=tok.eos_id)
    LlamaForCausalLM(cfg).save_pretrained(tmp_path / "m")
    PreTrainedTokenizerFast(tokenizer_object=tok.backend, bos_token="<bos>", eos_token="<eos>", pad_token="<pad>",
                            unk_token="<unk>").save_pretrained(tmp_path / "m")
    lm = HFCausalLM.load(tmp_path / "m")
    assert hidden_dim(lm) == 32
    sw = LMSwitch(32, rank=2)
    base = [p.clone() for p in lm.module.parameters()]
    train_switch(lm, sw, messages, TrainConfig(steps=3, batch_size=4, lr=1e-2, warmup_steps=1), tmp_path / "run")
    assert all(torch.equal(a, b) for a, b in zip(base, lm.module.parameters(), strict=True))
    assert sw.p2.abs().sum() > 0
    prompt, text = ["topic : cats . message :"], [" i love cats"]
    with switched(lm, sw, 1.0):
        plus = lm.loglikelihood(prompt, text)[0]
    assert plus != lm.loglikelihood(prompt, text)[0]


def test_pairs_longer_than_the_context_are_shortened_not_crashed():
    from quartet.infopattern.switch import fit_to_context, token_logprobs
    from quartet.lm.scoring import split_continuation

    lm = toy_lm(toy_messages(4))  # max_seq_len 64
    prompt = "topic : " + "cats are great " * 30 + ". message :"
    text = " i love cats" * 40
    short_prompt, short_text = fit_to_context(lm, prompt, text)
    p, c = split_continuation(lm.tokenizer, short_prompt, short_text)
    assert len(p) + len(c) <= 64 and short_prompt.strip().endswith("message :")
    assert text.strip().startswith(short_text.strip()) and len(c) >= 20
    assert fit_to_context(lm, "topic : cats . message :", " hi") == ("topic : cats . message :", " hi")
    assert len(token_logprobs(lm, None, None, [prompt], [text])[0]) == len(c)
    gen_prompt, _ = fit_to_context(lm, prompt, "", reserve=20)
    assert len(lm.tokenizer.encode(gen_prompt, add_bos=True)) + 20 <= 64


def two_topic_messages(n: int = 8) -> list:
    """Cats (dimension 0) and dogs (dimension 1), each with a pro and a con side."""
    from quartet.infopattern.messages import Message

    texts = {"cats-pro": "i love cats they are great", "cats-con": "i hate cats they are bad",
             "dogs-pro": "dogs are loyal and kind", "dogs-con": "dogs are loud and mean"}
    return [Message(id=f"{label}{i}", text=text, stance=label, target=label.split("-")[0])
            for i in range(n) for label, text in texts.items()]


def test_two_stance_dimensions_each_move_their_own_side(tmp_path):
    from quartet.lm.training import train_lm

    messages = two_topic_messages()
    lm = toy_lm(messages)
    (tmp_path / "lm").mkdir()
    train_lm(lm, [(message_prompt(m), " " + m.text) for m in messages],
             TrainConfig(steps=30, batch_size=8, lr=1e-2, warmup_steps=2, log_every=100), tmp_path / "lm")
    value_map = {"cats-pro": [1.0, 0.0], "cats-con": [-1.0, 0.0], "dogs-pro": [0.0, 1.0], "dogs-con": [0.0, -1.0]}
    sw = LMSwitch(hidden_dim(lm), rank=4, n_dims=2, seed=1)
    train_switch(lm, sw, messages, TrainConfig(steps=60, batch_size=8, lr=3e-2, warmup_steps=2, weight_decay=0.0,
                                               log_every=100), tmp_path / "switch", value_map=value_map)

    def gap(s_plus, s_minus, topic, pro, con):
        """How much s_plus (vs s_minus) favours the pro text over the con text."""
        def ll(s, text):
            with switched(lm, sw, s):
                return sum(lm.loglikelihood([f"topic : {topic} . message :"], [" " + text])[0])
        return (ll(s_plus, pro) - ll(s_minus, pro)) - (ll(s_plus, con) - ll(s_minus, con))

    cats = ("cats", "i love cats they are great", "i hate cats they are bad")
    dogs = ("dogs", "dogs are loyal and kind", "dogs are loud and mean")
    # dimension 0 moves the cats sides, dimension 1 the dogs sides, each toward its own pro side
    assert gap([1, 0], [-1, 0], *cats) > 1.0
    assert gap([0, 1], [0, -1], *dogs) > 1.0
    assert gap([1, 0], [-1, 0], *cats) > abs(gap([1, 0], [-1, 0], *dogs))
    assert gap([0, 1], [0, -1], *dogs) > abs(gap([0, 1], [0, -1], *cats))
    sw.save(tmp_path / "saved")
    assert LMSwitch.load(tmp_path / "saved").n_dims == 2


def test_switch_config_and_cli_take_dimensions_and_a_value_map():
    from quartet.core.config import apply_overrides
    from quartet.infopattern.config import InfoPatternConfig

    cfg = apply_overrides(InfoPatternConfig(), ["switch.n_dims=2", "switch.value_map={pro: [1, 0], con: [-1, 0]}",
                                                "switch.dim=1"])
    assert cfg.switch.n_dims == 2 and cfg.switch.dim == 1
    assert cfg.switch.value_map == {"pro": (1.0, 0.0), "con": (-1.0, 0.0)}


def test_replies_are_trained_after_their_parent_text():
    from quartet.infopattern.messages import Message
    from quartet.infopattern.prompts import training_contexts

    root = Message(id="r", text="cats are great", stance="pro", target="cats")
    reply = Message(id="c", text="no they are bad", stance="con", target="cats", parent_id="r")
    lm = toy_lm([root, reply, Message(id="x", text=". reply :")])  # the tokenizer knows the word "reply"
    contexts = training_contexts([root, reply], peer_fraction=0.0)
    assert contexts == {"c": "cats are great"}
    ex = switch_examples(lm, [root, reply], contexts=contexts)
    prompt_ids = [t for t, lab in zip(ex[1]["input_ids"], ex[1]["labels"], strict=True) if lab == -100]
    assert lm.tokenizer.decode(prompt_ids[1:]).split() == "topic : cats . message : cats are great . reply :".split()
    assert len([lab for lab in ex[0]["labels"] if lab != -100]) < len(ex[0]["labels"])  # loss on the text only
