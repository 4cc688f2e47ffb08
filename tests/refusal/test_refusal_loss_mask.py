"""What tuning puts the loss on: an R-Tuning record encoded exactly as the pipeline's tune stage does.

``pipeline.tune_one`` reads ``build/<method>.jsonl`` and hands ``(prompt, response)`` pairs to
``quartet.lm.training.train_lm``, which encodes each with ``quartet.lm.data.encode_sft``. The test
captures the encoded examples the trainer receives (the real ``Trainer`` is replaced by a recorder)
and checks them token by token: the prompt carries no label, the answer, the certainty sentence
with its "sure" / "unsure" and the end-of-sequence token do.
"""

from pathlib import Path

import pytest

import quartet.lm.training as training
from quartet.core.config import load_config
from quartet.core.records import write_jsonl
from quartet.core.runs import open_run
from quartet.lm.builtin import BuiltinLM
from quartet.lm.data import IGNORE, lm_loss
from quartet.refusal.build import build_rtuning
from quartet.refusal.certainty import CERTAINTY_QUESTION, certainty_token_ids
from quartet.refusal.config import RefusalConfig
from quartet.refusal.data import load_items_jsonl
from quartet.refusal.pipeline import run_pipeline, tune_one

TEST_CFG = Path(__file__).resolve().parents[2] / "configs/refusal/test.yaml"


class RecordingTrainer:
    """Stands in for ``quartet.core.trainer.Trainer``: keeps what it is given, trains nothing."""

    seen: dict = {}

    def __init__(self, module, loss_fn, examples, collate, *args, **kwargs):
        RecordingTrainer.seen = {"module": module, "loss_fn": loss_fn, "examples": examples, "collate": collate}

    def fit(self):
        return {}


@pytest.mark.parametrize("kind", ["word", "bpe"])
def test_rtuning_record_labels_answer_certainty_and_eos_only(kind, tmp_path, monkeypatch):
    # A one-step base model is enough: only its tokenizer (trained as the pretrain stage trains it) matters.
    cfg = load_config(RefusalConfig, TEST_CFG, [
        f"run_dir={tmp_path / 'run'}", f"base.tokenizer={kind}", "base.train.steps=1", "base.train.warmup_steps=0",
        "base.train.checkpoint_every=0", "tune.methods=[rtuning]", "tune.seeds=[0]"])
    path = run_pipeline(cfg, until="pretrain")
    d1, d0 = load_items_jsonl(path / "data/train.jsonl")[:2]
    records = build_rtuning([d1, d0], {d1.id: True, d0.id: False})
    write_jsonl(path / "build/rtuning.jsonl", records)  # what the build stage writes, with a known D1/D0

    monkeypatch.setattr(training, "Trainer", RecordingTrainer)
    tune_one(cfg, open_run(path, cfg), "rtuning", 0)
    examples = RecordingTrainer.seen["examples"]
    assert len(examples) == 2

    tok = BuiltinLM.load(path / "base/model").tokenizer
    sure_id, unsure_id = certainty_token_ids(tok)
    for ex, rec, item, sure in zip(examples, records, (d1, d0), (True, False), strict=True):
        ids, labels = ex["input_ids"], ex["labels"]
        assert rec["response"] == f" {item.answer}. {CERTAINTY_QUESTION} I am {'sure' if sure else 'unsure'}."
        n_prompt = len(tok.encode(rec["prompt"], add_bos=True))
        # the whole text, encoded once (word boundaries as the model reads them), then eos
        assert ids == tok.encode(rec["prompt"] + rec["response"], add_bos=True) + [tok.eos_id]
        assert labels[:n_prompt] == [IGNORE] * n_prompt  # no loss on the prompt (bos included)
        assert labels[n_prompt:] == ids[n_prompt:] and IGNORE not in labels[n_prompt:]
        assert labels[-1] == tok.eos_id
        # the labelled tokens spell the response: the gold answer (kept for D0 too) and the certainty sentence
        assert tok.decode(labels[n_prompt:-1]).strip() == rec["response"].strip()
        answer_ids = tok.encode(f"{rec['prompt']} {item.answer}", add_bos=True)[n_prompt:]
        assert labels[n_prompt : n_prompt + len(answer_ids)] == answer_ids
        # the token labelled after "... I am" is the very id P(sure) reads at evaluation
        head = len(tok.encode(f"{rec['prompt']} {item.answer}. {CERTAINTY_QUESTION} I am", add_bos=True))
        assert labels[head] == (sure_id if sure else unsure_id)

    # After collation the loss counts exactly the response tokens and eos of both examples.
    batch = RecordingTrainer.seen["collate"](examples)
    n_labelled = sum(len(ex["labels"]) - ex["labels"].count(IGNORE) for ex in examples)
    assert int((batch["labels"] != IGNORE).sum()) == n_labelled
    _, info = lm_loss(RecordingTrainer.seen["module"], batch)
    # lm_loss shifts by one: position 0 (bos, never labelled) is not a target, so nothing is lost
    assert info["tokens"] == n_labelled
