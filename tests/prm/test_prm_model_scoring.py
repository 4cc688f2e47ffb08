import math

import pytest
import torch

from quartet.core.runs import RunDir
from quartet.core.trainer import TrainConfig
from quartet.prm.prm_model import RewardTokens, collate_prm, encode_prm, prm_text, reward_loss
from quartet.prm.rollout import policy_prompt
from quartet.prm.scoring import step_scores, step_scores_per_prefix
from quartet.prm.train import train_prm


def test_encoding_puts_one_tag_per_step(tiny_lm, problems):
    tok = tiny_lm.tokenizer
    tokens = RewardTokens.resolve(tok)
    p = problems[0]
    ex = encode_prm(tok, tokens, policy_prompt(p.question), p.steps, [0.5] * (len(p.steps) - 1) + [None], 160)
    assert [ex["input_ids"][i] for i in ex["positions"]] == [tokens.tag] * len(p.steps)
    assert ex["targets"][:-1] == [0.5] * (len(p.steps) - 1) and math.isnan(ex["targets"][-1])
    # the text round-trips through the tokenizer: no unknown tokens in a PRM input
    text = prm_text(policy_prompt(p.question), p.steps)
    assert tok.decode(tok.encode(text)) == text
    # a step that contains the tag text does not create an extra scoring position
    ex2 = encode_prm(tok, tokens, "Q\n", ["1 <step> 2", "The answer is 3"], [1, 0], 160)
    assert len(ex2["positions"]) == 2
    with pytest.raises(ValueError, match="no steps"):
        encode_prm(tok, tokens, "Q\n", [], [], 160)
    batch = collate_prm([ex, ex2], tok.pad_id)
    assert batch["targets"].tolist() == [0.5] * (len(p.steps) - 1) + [1.0, 0.0]  # unlabelled step dropped


def test_reward_loss_by_hand():
    tokens = RewardTokens(tag=0, good=1, bad=2)

    class Fixed(torch.nn.Module):
        def forward(self, input_ids, attention_mask=None):
            logits = torch.zeros(1, 3, 4)
            logits[0, 1, 1] = math.log(3.0)  # P(+) = 3/4 at position 1
            return logits

    batch = {"input_ids": torch.zeros(1, 3, dtype=torch.long), "attention_mask": torch.ones(1, 3),
             "rows": torch.tensor([0]), "cols": torch.tensor([1]), "targets": torch.tensor([0.25])}
    loss, _ = reward_loss(tokens)(Fixed(), batch)
    want = -(0.25 * math.log(0.75) + 0.75 * math.log(0.25))
    assert loss.item() == pytest.approx(want, rel=1e-6)


def test_single_pass_scores_equal_per_prefix_scores(tiny_lm, problems):
    prompts = [policy_prompt(p.question) for p in problems[:5]]
    steps = [list(p.steps) for p in problems[:5]]
    one_pass = step_scores(tiny_lm, prompts + ["Q\n"], steps + [[]])
    assert one_pass[-1] == []
    for i in range(5):
        per_prefix = step_scores_per_prefix(tiny_lm, prompts[i], steps[i])
        assert one_pass[i] == pytest.approx(per_prefix, abs=1e-5)
        assert all(0 < s < 1 for s in one_pass[i])


def test_training_fits_labels_and_changes_every_parameter(tiny_lm, problems, tmp_path):
    records = [{"prompt": policy_prompt(p.question), "steps": list(p.steps),
                "labels": [1.0 if i % 2 else 0.0] * len(p.steps)} for i, p in enumerate(problems[:8])]
    before = {n: t.detach().clone() for n, t in tiny_lm.module.named_parameters()}
    run = RunDir(tmp_path)
    cfg = TrainConfig(steps=30, batch_size=8, lr=3e-3, warmup_steps=2, log_every=1)
    train_prm(tiny_lm, records, cfg, run)
    losses = [r["loss"] for r in run.read_metrics() if "loss" in r]
    assert losses[-1] < losses[0] * 0.5
    changed = [n for n, t in tiny_lm.module.named_parameters() if not torch.equal(t, before[n])]
    assert len(changed) == len(before)
    scores = step_scores(tiny_lm, [r["prompt"] for r in records], [r["steps"] for r in records])
    assert all((min(s) > 0.5) == bool(i % 2) for i, s in enumerate(scores))


def test_value_head_variant_trains_saves_and_scores(tiny_lm, problems, tmp_path):
    from quartet.prm.scoring import value_step_scores
    from quartet.prm.train import load_value_head

    records = [{"prompt": policy_prompt(p.question), "steps": list(p.steps),
                "labels": [0.9 if i % 2 else 0.1] * len(p.steps)} for i, p in enumerate(problems[:8])]
    (tmp_path / "vh").mkdir()
    run = RunDir(tmp_path / "vh")
    cfg = TrainConfig(steps=30, batch_size=8, lr=3e-3, warmup_steps=2, log_every=1)
    train_prm(tiny_lm, records, cfg, run, value_head=True)
    losses = [r["loss"] for r in run.read_metrics() if "loss" in r]
    # BCE against soft targets 0.1 / 0.9 cannot go below their entropy (0.325); it must approach it
    assert losses[-1] < losses[0] and losses[-1] < 0.5
    prm = load_value_head(tiny_lm, run.path)
    assert not torch.equal(prm.head.weight, torch.zeros_like(prm.head.weight))
    scores = value_step_scores(prm, tiny_lm.tokenizer, [r["prompt"] for r in records], [r["steps"] for r in records])
    assert [len(s) for s in scores] == [len(r["steps"]) for r in records]
    assert all((min(s) > 0.5) == bool(i % 2) for i, s in enumerate(scores))
    assert value_step_scores(prm, tiny_lm.tokenizer, ["Q\n"], [[]]) == [[]]
    (tmp_path / "bad.safetensors").write_bytes(b"not a tensor file")
    with pytest.raises(Exception):  # noqa: B017 - safetensors raises its own error type
        load_value_head(tiny_lm, tmp_path / "bad.safetensors")


def test_value_head_on_a_hugging_face_model(tiny_lm, problems, tmp_path):
    from quartet.lm.export import export_to_hf
    from quartet.lm.hf import HFCausalLM
    from quartet.prm.scoring import value_step_scores
    from quartet.prm.train import load_value_head

    hf = HFCausalLM.load(export_to_hf(tiny_lm, tmp_path / "hf"))
    records = [{"prompt": policy_prompt(p.question), "steps": list(p.steps), "labels": [0.5] * len(p.steps)}
               for p in problems[:4]]
    (tmp_path / "run").mkdir()
    train_prm(hf, records, TrainConfig(steps=3, batch_size=4, lr=1e-3, warmup_steps=1, log_every=1),
              RunDir(tmp_path / "run"), value_head=True)
    prm = load_value_head(hf, tmp_path / "run")
    assert prm.head.weight.shape == (1, 32)
    scores = value_step_scores(prm, hf.tokenizer, [r["prompt"] for r in records], [r["steps"] for r in records])
    assert [len(s) for s in scores] == [len(r["steps"]) for r in records]
