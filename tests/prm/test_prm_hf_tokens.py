"""Step tag and reward tokens on a real-style tokenizer: a tiny random ``LlamaForCausalLM`` with a
byte-level BPE tokenizer (built here, nothing downloaded) that has no ``<step>`` token, as
Qwen's and Llama's tokenizers have none."""

import json
from pathlib import Path

import pytest
import torch

from quartet.cli import main
from quartet.core.runs import RunDir
from quartet.core.trainer import TrainConfig
from quartet.prm.prm_model import SPEC_FILE, RewardSpec, RewardTokens, step_tag_id
from quartet.prm.rollout import policy_prompt

ROOT = Path(__file__).resolve().parents[2]
TEST_CFG = str(ROOT / "configs/prm/test.yaml")


@pytest.fixture(scope="module")
def bpe_llama(tmp_path_factory, problems):
    """A folder with a random 2-layer Llama and a byte-level BPE tokenizer trained on the world's texts."""
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    from quartet.core.config import load_config
    from quartet.lm.tokenizer import Tokenizer
    from quartet.prm.config import PipelineConfig
    from quartet.prm.pipeline import make_problems

    world = make_problems(load_config(PipelineConfig, TEST_CFG))[0] + list(problems)
    corpus = [policy_prompt(p.question) + "\n".join(p.steps) for p in world] + ["+ -"]
    tok = Tokenizer.train(corpus, kind="bpe", vocab_size=400)
    hf_tok = PreTrainedTokenizerFast(tokenizer_object=tok.backend, bos_token="<bos>", eos_token="<eos>",
                                     pad_token="<pad>", unk_token="<unk>")
    cfg = LlamaConfig(vocab_size=len(hf_tok), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                      num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=512,
                      bos_token_id=hf_tok.bos_token_id, eos_token_id=hf_tok.eos_token_id,
                      pad_token_id=hf_tok.pad_token_id, tie_word_embeddings=False)
    torch.manual_seed(0)
    out = tmp_path_factory.mktemp("bpe_llama")
    LlamaForCausalLM(cfg).save_pretrained(out)
    hf_tok.save_pretrained(out)
    return out


def _load(path):
    from quartet.lm.hf import HFCausalLM

    return HFCausalLM.load(path)


def _records(problems, n=6):
    return [{"prompt": policy_prompt(p.question), "steps": list(p.steps),
             "labels": [1.0 if i % 2 else 0.0] * len(p.steps)} for i, p in enumerate(problems[:n])]


def test_the_bpe_tokenizer_has_no_step_tag_and_says_so(bpe_llama):
    tok = _load(bpe_llama).tokenizer
    assert step_tag_id(tok, "<step>") is None and len(tok.encode(" <step>")) > 2  # split into pieces
    with pytest.raises(ValueError, match=r"step tag '<step>' \(prm.step_tag / --step-tag\) is not one token"):
        RewardTokens.resolve(tok)
    # a reward token must be one token: an error names the setting
    with pytest.raises(ValueError, match=r"good token 'zebra!' \(prm.good_token / --good-token\) is not one token"):
        RewardTokens.resolve(tok, RewardSpec(tag="+", good="zebra!", bad="-"))
    with pytest.raises(ValueError, match="distinct"):
        RewardTokens.resolve(tok, RewardSpec(tag="=", good="+", bad="+"))


@pytest.mark.parametrize("tag", ["<step>", "ки"])  # ours, and Math-Shepherd's
def test_training_adds_the_tag_resizes_and_scores_after_reload(bpe_llama, problems, tmp_path, tag):
    from quartet.prm.pipeline import load_scorer
    from quartet.prm.scoring import step_scores_per_prefix
    from quartet.prm.train import train_prm

    lm = _load(bpe_llama)
    before = len(lm.tokenizer.hf)
    spec = RewardSpec(tag=tag)
    records = _records(problems)
    (tmp_path / "run").mkdir()
    train_prm(lm, records, TrainConfig(steps=25, batch_size=6, lr=3e-3, warmup_steps=2, log_every=1),
              RunDir(tmp_path / "run"), spec)
    model = lm.module.model
    assert len(lm.tokenizer.hf) == before + 1
    assert model.get_input_embeddings().weight.shape[0] == model.get_output_embeddings().weight.shape[0] == before + 1
    losses = [r["loss"] for r in RunDir(tmp_path / "run").read_metrics() if "loss" in r]
    assert losses[-1] < losses[0] * 0.5  # the new tag's position learns the labels
    lm.save(tmp_path / "prm")
    spec.save(tmp_path / "prm")

    reloaded = _load(tmp_path / "prm")
    tokens = RewardTokens.resolve(reloaded.tokenizer, spec)
    assert tokens.tag == before  # the added token, one id, after reloading
    scorer = load_scorer(tmp_path / "prm")  # reads prm.json: the tag it was trained with
    scores = scorer([r["prompt"] for r in records], [r["steps"] for r in records])
    assert [len(s) for s in scores] == [len(r["steps"]) for r in records]
    assert all((min(s) > 0.5) == bool(i % 2) for i, s in enumerate(scores))
    one = step_scores_per_prefix(reloaded, records[0]["prompt"], records[0]["steps"], tokens)
    assert scores[0] == pytest.approx(one, abs=1e-5)  # one pass per solution == one pass per prefix


def test_processbench_flags_name_a_prm_trained_elsewhere(bpe_llama, problems, tmp_path, capsys):
    """A PRM folder without prm.json (trained by another tool) with a Math-Shepherd-style tag:
    ``--step-tag`` tells the harness; without it the default <step> is not one token, a clear error."""
    from quartet.prm.train import train_prm

    lm = _load(bpe_llama)
    (tmp_path / "run").mkdir()
    train_prm(lm, _records(problems, 2), TrainConfig(steps=1, batch_size=2, lr=1e-3, warmup_steps=0),
              RunDir(tmp_path / "run"), RewardSpec(tag="ки"))
    lm.save(tmp_path / "prm")
    assert not (tmp_path / "prm" / SPEC_FILE).exists()
    p = problems[0]
    (tmp_path / "pb").mkdir()
    (tmp_path / "pb/gsm8k.json").write_text(json.dumps(
        [{"id": "a", "problem": p.question, "steps": list(p.steps), "label": -1}]))
    args = ["prm", "processbench", "--prm", str(tmp_path / "prm"), "--data", str(tmp_path / "pb"),
            "--subsets", "gsm8k", "--out", str(tmp_path / "pb.json")]
    assert main(args) == 2
    assert "step tag '<step>' (prm.step_tag / --step-tag) is not one token" in capsys.readouterr().err
    assert main([*args, "--step-tag", "ки", "--good-token", "+", "--bad-token", "-",
                 "--prompt-template", "{question}\n"]) == 0
    result = json.loads((tmp_path / "pb.json").read_text())
    assert result["subsets"]["gsm8k"]["n"] == 1
    assert (result["step_tag"], result["good_token"], result["prompt_template"]) == ("ки", "+", "{question}\n")


def test_a_builtin_model_without_the_tag_is_a_clear_error(tiny_lm):
    from quartet.prm.train import add_step_tag

    assert add_step_tag(tiny_lm, "<step>") is False  # build_tokenizer put it there
    with pytest.raises(ValueError, match="only a Hugging Face model can have a token added"):
        add_step_tag(tiny_lm, "<tag-it-never-saw>")


def test_pipeline_with_a_pretrained_bpe_policy_and_no_sft(bpe_llama, tmp_path, capsys):
    """``--model`` a byte-level BPE Llama with ``policy.sft.steps=0``: the policy is asked for the
    answer format, every PRM gets the tag (the policy does not), and every stage runs."""
    run = tmp_path / "run"
    assert main(["prm", "pipeline", "--config", TEST_CFG, "--model", str(bpe_llama), f"run_dir={run}",
                 "policy.sft.steps=0", "prm.methods=[er]", "raft.prms=[orm]",
                 # random weights write bytes, not steps: short samples keep this test quick
                 "rollout.max_new_tokens=12", "rollout.candidates=2", "prm.ns=[1,2]"]) == 0
    assert "pipeline: done" in capsys.readouterr().out
    sample = json.loads((run / "candidates_test.jsonl").read_text().splitlines()[0])
    assert 'end with "The answer is N".\nAnswer :\n' in sample["prompt"]
    assert json.loads((run / "artifacts/sft.json").read_text()) == []  # no SFT, no validation
    assert step_tag_id(_load(run / "policy").tokenizer, "<step>") is None
    for name in ("er2", "orm"):
        assert json.loads((run / "prm" / name / "model" / SPEC_FILE).read_text())["step_tag"] == "<step>"
        assert step_tag_id(_load(run / "prm" / name / "model").tokenizer, "<step>") is not None
    assert json.loads((run / "artifacts/raft.json").read_text())["prms"]["orm"]["aggregate"] == "last"
