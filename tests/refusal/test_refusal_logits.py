"""P(sure) and the multiple-choice answer against logits computed directly from a tiny built-in model.

The model is random (built in code, seeded), so its numbers are arbitrary but fixed; every value the
evaluation records must equal what one unbatched, unpadded forward pass gives for that question.
"""

import pytest
import torch

from quartet.lm.builtin import BuiltinLM
from quartet.lm.model import ModelConfig
from quartet.lm.tokenizer import Tokenizer
from quartet.refusal.certainty import certainty_prompt, certainty_suffix
from quartet.refusal.data import QAItem
from quartet.refusal.evaluate import eval_records
from quartet.refusal.probe import answer_items
from quartet.worlds.facts import QA_PROMPT, mc_prompt

QUESTIONS = ["Where was Ava Lind born?", "Which company did Omar Vance found in the old town of Kelmar?",
             "Who?"]
CHOICES = [("Kelmar", "Pasuton", "Vimekton", "Zorvale"), ("Kelmar", "Zorvale", "Pasuton"),
           ("Vimekton", "Pasuton", "Kelmar", "Zorvale")]


@pytest.fixture(scope="module")
def lm():
    texts = [QA_PROMPT.format(question=q) for q in QUESTIONS]
    texts += [mc_prompt(q, c) for q, c in zip(QUESTIONS, CHOICES, strict=True)]
    tok = Tokenizer.train([*texts, certainty_suffix(True) + certainty_suffix(False)], kind="word")
    cfg = ModelConfig(vocab_size=tok.vocab_size, dim=32, n_layers=2, n_heads=4, max_seq_len=128)
    return BuiltinLM.create(cfg, tok, seed=0, batch_size=2)  # batches of 2: padding and several batches


def _last_logprobs(lm, text):
    """log-softmax of the next-token logits after ``text``, one sequence, no padding: (V,)."""
    ids = torch.tensor([lm.tokenizer.encode(text, add_bos=True)])
    with torch.no_grad():
        return torch.log_softmax(lm.module(ids)[0, -1].double(), -1)


def test_p_sure_equals_the_direct_next_token_ratio(lm):
    tok = lm.tokenizer
    sure, unsure = tok.token_to_id("▁sure"), tok.token_to_id("▁unsure")  # the word-level pieces, looked up
    items = [QAItem(f"q{i}", QA_PROMPT.format(question=q), q, ("Kelmar",)) for i, q in enumerate(QUESTIONS)]
    records = eval_records(lm, items, ["I don't know"], max_new_tokens=3)
    values = []
    for it, rec in zip(items, records, strict=True):
        logp = _last_logprobs(lm, certainty_prompt(it.prompt, rec["prediction"]))
        expected = torch.exp(logp[sure]) / (torch.exp(logp[sure]) + torch.exp(logp[unsure]))
        assert rec["p_sure"] == pytest.approx(float(expected), abs=1e-5)
        values.append(rec["p_sure"])
    assert len({round(v, 4) for v in values}) == len(values)  # three different questions, three values


def test_multiple_choice_letter_and_confidence_equal_the_direct_softmax(lm):
    tok = lm.tokenizer
    items = [QAItem(f"m{i}", mc_prompt(q, c), q, (c[0],), True, c, "A") for i, (q, c) in enumerate(zip(
        QUESTIONS, CHOICES, strict=True))]
    answers = answer_items(lm, items)
    for it, (letter, conf) in zip(items, answers, strict=True):
        letters = "ABCD"[: len(it.choices)]
        logp = _last_logprobs(lm, it.prompt)[[tok.token_to_id(f"▁{x}") for x in letters]]
        probs = torch.softmax(logp, -1)  # softmax among the option letters only
        best = int(probs.argmax())
        assert letter == letters[best]
        assert conf == pytest.approx(float(probs[best]), abs=1e-6)
        assert conf >= 1 / len(letters)
