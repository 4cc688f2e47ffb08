"""P(sure), the free-form answer confidence and the multiple-choice answer against logits computed
directly from a tiny built-in model.

The model is random (built in code, seeded), so its numbers are arbitrary but fixed; every value the
evaluation records must equal what one unbatched, unpadded forward pass gives for that question.
The free-form answer is also checked on the session's world-trained base model, whose answers end at a ".".
"""

import math

import pytest
import torch

from quartet.lm.builtin import BuiltinLM
from quartet.lm.model import ModelConfig
from quartet.lm.tokenizer import Tokenizer
from quartet.refusal.certainty import certainty_prompt, certainty_suffix
from quartet.refusal.data import QAItem, load_items_jsonl
from quartet.refusal.evaluate import eval_records
from quartet.refusal.probe import STOP, answer_items
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


def _next_logprobs(lm, ids):
    """log-softmax of the next-token logits after token ids ``ids``, one sequence, no padding: (V,)."""
    with torch.no_grad():
        return torch.log_softmax(lm.module(torch.tensor([ids]))[0, -1].double(), -1)


def _last_logprobs(lm, text):
    return _next_logprobs(lm, lm.tokenizer.encode(text, add_bos=True))


def _greedy_by_hand(lm, prompt, max_new_tokens):
    """Greedy answer by full recomputation: argmax token by token until eos, a "." / newline, or the limit;
    returns (answer text, log p of each answer token)."""
    tok, prompt_ids = lm.tokenizer, lm.tokenizer.encode(prompt, add_bos=True)
    answer, logps = [], []
    for _ in range(max_new_tokens):
        logp = _next_logprobs(lm, prompt_ids + answer)
        best = int(logp.argmax())
        if best == tok.eos_id or any(s in tok.decode([*answer, best]) for s in STOP):
            break  # a word-level "." is a token of its own: it ends the answer and is not part of it
        answer.append(best)
        logps.append(float(logp[best]))
    return tok.decode(answer).strip(), logps


def _check_free_form(lm, items, max_new_tokens):
    """Every recorded answer and confidence equals the hand-made greedy answer and exp(mean log p) of its
    tokens; returns each answer's token count."""
    records = eval_records(lm, items, ["I don't know"], max_new_tokens=max_new_tokens)
    lengths = []
    for it, rec in zip(items, records, strict=True):
        answer, logps = _greedy_by_hand(lm, it.prompt, max_new_tokens)
        assert rec["prediction"] == answer and answer
        assert rec["answer_conf"] == pytest.approx(math.exp(sum(logps) / len(logps)), abs=1e-5)
        lengths.append(len(logps))
    return lengths


def test_free_form_confidence_is_the_geometric_mean_of_the_answer_tokens(lm):
    # The random model echoes the prompt's last token, so every answer runs to the token limit.
    items = [QAItem(f"q{i}", QA_PROMPT.format(question=q), q, ("Kelmar",)) for i, q in enumerate(QUESTIONS)]
    assert _check_free_form(lm, items, 4) == [4, 4, 4]  # batches of 2: one padded
    conf = eval_records(lm, items[:1], [], max_new_tokens=4)[0]["answer_conf"]
    _, logps = _greedy_by_hand(lm, items[0].prompt, 4)
    assert abs(math.exp(sum(logps)) - conf) > 1e-2  # a product (sum of log p) instead of the mean would fail


def test_free_form_confidence_leaves_out_the_stop_token(finished_run):
    # The world-trained base model answers a name and then "."; the "." is not part of the answer.
    _, path = finished_run
    lm = BuiltinLM.load(path / "base/model", batch_size=4)
    items = load_items_jsonl(path / "data/train.jsonl")[:6]
    assert _check_free_form(lm, items, 6) == [1] * 6  # single words, each stopped well before the limit


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
