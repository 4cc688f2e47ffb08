"""The transformer is causal, the tokenizer round-trips, and language-model training learns."""

from __future__ import annotations

import torch

from quartet.core.runs import open_run
from quartet.core.trainer import TrainConfig
from quartet.lm.model import ModelConfig, Transformer
from quartet.lm.tokenizer import Tokenizer
from quartet.lm.training import train_lm


def test_changing_a_later_token_never_changes_earlier_logits():
    torch.manual_seed(0)
    model = Transformer(ModelConfig(vocab_size=50, dim=32, n_layers=2, n_heads=4, max_seq_len=32)).eval()
    ids = torch.randint(0, 50, (2, 12))
    changed = ids.clone()
    changed[:, 7:] = (changed[:, 7:] + 1) % 50
    with torch.no_grad():
        a, b = model(ids), model(changed)
    assert torch.equal(a[:, :7], b[:, :7])
    assert not torch.allclose(a[:, 7:], b[:, 7:])


def test_padding_mask_hides_pad_tokens():
    torch.manual_seed(0)
    model = Transformer(ModelConfig(vocab_size=50, dim=32, n_layers=2, n_heads=4, max_seq_len=32)).eval()
    ids = torch.randint(1, 50, (1, 6))
    padded = torch.cat([torch.zeros(1, 3, dtype=torch.long), ids], dim=1)  # left padding
    mask = torch.cat([torch.zeros(1, 3, dtype=torch.bool), torch.ones(1, 6, dtype=torch.bool)], dim=1)
    with torch.no_grad():
        plain = model(ids)
        masked = model(padded, attention_mask=mask)
    torch.testing.assert_close(masked[:, 3:], plain, atol=1e-5, rtol=1e-5)


def test_tokenizer_round_trip(tmp_path, corpus):
    for kind in ("word", "bpe"):
        tok = Tokenizer.train(corpus * 3, kind=kind, vocab_size=300, extra_tokens=("<step>",))
        for text in corpus:
            assert tok.decode(tok.encode(text)) == text
        step = tok.token_to_id("<step>")
        assert step is not None and tok.encode("<step>") == [step]
        tok.save(tmp_path / kind)
        again = Tokenizer.load(tmp_path / kind)
        assert again.encode(corpus[0]) == tok.encode(corpus[0]) and again.vocab_size == tok.vocab_size


def test_lm_training_lowers_loss_and_changes_every_parameter(tiny_lm, tmp_path, corpus):
    before = {n: p.detach().clone() for n, p in tiny_lm.module.named_parameters()}
    cfg = TrainConfig(steps=30, batch_size=6, lr=3e-3, warmup_steps=3, log_every=1)
    train_lm(tiny_lm, [("", text) for text in corpus], cfg, open_run(tmp_path / "run", cfg))
    losses = [r["loss"] for r in open_run(tmp_path / "run", cfg).read_metrics() if "loss" in r]
    assert losses[-1] < 0.75 * losses[0]  # from ~ln(vocab) to well below it
    unchanged = [n for n, p in tiny_lm.module.named_parameters() if torch.equal(p, before[n])]
    assert unchanged == []
