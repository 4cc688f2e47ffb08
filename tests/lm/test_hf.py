"""The Hugging Face adapter and the export to ``LlamaForCausalLM``: tiny models built in tmp_path."""

import pytest
import torch

from quartet.lm.export import export_to_hf
from quartet.lm.hf import HFCausalLM
from quartet.lm.protocol import SamplingParams


@pytest.fixture
def exported(tiny_lm, tmp_path):
    return export_to_hf(tiny_lm, tmp_path / "hf")


def test_export_gives_the_same_logits_and_greedy_tokens(tiny_lm, exported):
    from transformers import LlamaForCausalLM

    hf = LlamaForCausalLM.from_pretrained(exported, local_files_only=True).eval()
    ids = torch.tensor([tiny_lm.tokenizer.encode("tom has 3 apples and buys", add_bos=True)])
    with torch.no_grad():
        ours = tiny_lm.module(ids)
        theirs = hf(ids).logits
    assert torch.allclose(ours, theirs, atol=1e-4)
    params = SamplingParams(max_new_tokens=10, temperature=0.0)
    adapter = HFCausalLM.load(exported)
    prompt = ["tom has 3 apples and buys"]
    assert tiny_lm.generate(prompt, params)[0][0].token_ids == adapter.generate(prompt, params)[0][0].token_ids
    # transformers' own generate agrees too (no eos stop: compare the first tokens it produces)
    out = hf.generate(ids, max_new_tokens=10, do_sample=False, eos_token_id=None, pad_token_id=0)
    ours_ids = tiny_lm.generate(prompt, SamplingParams(max_new_tokens=10, temperature=0.0))[0][0].token_ids
    assert tuple(out[0, ids.shape[1] :].tolist()[: len(ours_ids)]) == ours_ids


def test_hf_adapter_generates_and_scores_with_a_tiny_random_llama(tmp_path, word_tokenizer):
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    torch.manual_seed(0)
    cfg = LlamaConfig(
        vocab_size=word_tokenizer.vocab_size, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=128,
        bos_token_id=word_tokenizer.bos_id, eos_token_id=word_tokenizer.eos_id,
    )
    LlamaForCausalLM(cfg).save_pretrained(tmp_path / "m")
    PreTrainedTokenizerFast(
        tokenizer_object=word_tokenizer.backend, bos_token="<bos>", eos_token="<eos>", pad_token="<pad>",
        unk_token="<unk>",
    ).save_pretrained(tmp_path / "m")
    lm = HFCausalLM.load(tmp_path / "m")
    groups = lm.generate(["tom has", "question : what is"], SamplingParams(max_new_tokens=6, seed=1), n=3)
    assert [len(g) for g in groups] == [3, 3]
    assert all(1 <= len(c.token_ids) <= 6 or c.finish_reason == "eos" for g in groups for c in g)
    # Seeded: the same request gives the same samples.
    again = lm.generate(["tom has", "question : what is"], SamplingParams(max_new_tokens=6, seed=1), n=3)
    assert [[c.token_ids for c in g] for g in groups] == [[c.token_ids for c in g] for g in again]
    # Greedy with the cache equals recomputing the full sequence (GQA model, mixed lengths).
    greedy = lm.generate(["tom has", "question : what is"], SamplingParams(max_new_tokens=5, temperature=0))
    for prompt, (completion,) in zip(["tom has", "question : what is"], greedy, strict=True):
        ids = lm.tokenizer.encode(prompt, add_bos=True)
        for token in completion.token_ids:
            logits = lm.module(torch.tensor([ids]))[0, -1]
            assert int(logits.argmax()) == token
            ids.append(token)
    # Scoring, batched over prompts of different lengths (padding), equals log_softmax of one
    # unpadded forward pass per sequence.
    def reference(text: str) -> torch.Tensor:
        ids = lm.tokenizer.encode(text, add_bos=True)
        with torch.no_grad():
            return ids, torch.log_softmax(lm.module(torch.tensor([ids]))[0].float(), -1)

    prompts, continuations = ["tom has", "question : what is the box"], [" 3 apples", " two"]
    scored = lm.loglikelihood(prompts, continuations)
    for prompt, cont, got in zip(prompts, continuations, scored, strict=True):
        ids, logp = reference(prompt + cont)
        start = len(lm.tokenizer.encode(prompt, add_bos=True))
        want = [logp[i - 1, ids[i]].item() for i in range(start, len(ids))]
        assert len(got) == len(want) == len(lm.tokenizer.encode(cont)) and got == pytest.approx(want, abs=1e-4)
    step = word_tokenizer.token_to_id("<step>")
    cands = [word_tokenizer.token_to_id("▁sure"), word_tokenizer.token_to_id("▁unsure")]
    texts = ["a box <step> two boxes <step>", "tom <step>"]
    marks = lm.marked_logprobs(texts, step, cands)
    for text, got in zip(texts, marks, strict=True):
        ids, logp = reference(text)
        want = torch.stack([logp[i, cands] for i, t in enumerate(ids) if t == step])  # after each tag
        assert got.shape == want.shape and torch.allclose(got.float(), want, atol=1e-4)


def test_lora_training_moves_only_the_adapters(exported, tmp_path, corpus):
    from quartet.core.runs import open_run
    from quartet.core.trainer import TrainConfig
    from quartet.lm.training import train_lm

    lm = HFCausalLM.load(exported, lora_rank=4)
    params = dict(lm.module.named_parameters())
    trainable = {n for n, p in params.items() if p.requires_grad}
    assert trainable and all("lora_" in n for n in trainable)
    before = {n: p.detach().clone() for n, p in params.items()}
    cfg = TrainConfig(steps=8, batch_size=6, lr=1e-2, warmup_steps=1, log_every=1)
    train_lm(lm, [("", text) for text in corpus], cfg, open_run(tmp_path / "run", cfg))
    moved = {n for n, p in lm.module.named_parameters() if not torch.equal(p, before[n])}
    # LoRA's B matrices start at zero, so A only moves once B has; both must have moved by now.
    assert moved == trainable
    assert lm.generate(["tom has"], SamplingParams(max_new_tokens=3, temperature=0))[0][0].token_ids
