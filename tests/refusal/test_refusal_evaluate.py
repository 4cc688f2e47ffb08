"""Per-method declining, the headline confidence, set summaries, resumable probing and evaluation."""

import math

import pytest

from quartet.refusal.data import QAItem
from quartet.refusal.evaluate import declined, evaluate_items, fits, headline_confidence, summarize
from quartet.refusal.metrics import average_precision
from quartet.refusal.probe import probe


def _rec(i, correct, conf, sure, refusal=False, answerable=True, prediction="x"):
    return {"id": f"q{i}", "prediction": prediction, "answer_conf": conf, "p_sure": sure, "correct": correct,
            "refusal": refusal, "answerable": answerable}


RECORDS = [_rec(0, True, 0.9, 0.8), _rec(1, False, 0.7, 0.2), _rec(2, True, 0.4, 0.6),
           _rec(3, False, 0.5, 0.5, refusal=True, prediction="I'm not sure.")]


def test_declined_depends_on_the_method():
    assert [declined(r, "vanilla") for r in RECORDS] == [False, False, False, True]
    assert [declined(r, "rtuning") for r in RECORDS] == [False, True, False, True]  # 0.5 is not > 0.5
    assert [declined(r, "rtuning_r") for r in RECORDS] == [False, True, False, True]
    assert declined(_rec(9, False, 0.5, 0.9, refusal=True), "rtuning_r")
    assert not declined(_rec(9, False, 0.5, 0.9, refusal=True), "rtuning_u")


def test_summary_hand_computed():
    s = summarize(RECORDS, "rtuning")
    # headline = mean(conf, sure): 0.85, 0.45, 0.5, 0.5 -> ranked q0 (1), q2/q3 tie at 0.5, q1
    assert s["ap"] == pytest.approx(average_precision([1, 0, 1, 0], [0.85, 0.45, 0.5, 0.5]))
    assert s["ap_answer"] == pytest.approx(average_precision([1, 0, 1, 0], [0.9, 0.7, 0.4, 0.5]))
    assert s["ap_sure"] == pytest.approx((1 + 1) / 2)  # ranked 0.8 (1), 0.6 (1), ...
    # AP mean = AP of mean(conf, sure) for every method: the same ranking as R-Tuning's headline
    assert s["ap_mean"] == s["ap"]
    # answered willingly: P(sure) > 0.5 -> q0 (right), q2 (right); q3's 0.5 is not > 0.5
    assert (s["accuracy"], s["answer_rate"], s["accuracy_answered"]) == (0.5, 0.5, 1.0)
    # no refusal phrase: q0, q1, q2 -> 3/4 answered, 2 of them right
    assert s["answer_rate_phrase"] == 0.75 and s["accuracy_answered_phrase"] == pytest.approx(2 / 3)
    v = summarize(RECORDS, "vanilla")
    assert v["ap"] == v["ap_answer"]  # Vanilla's headline is the answer confidence ...
    assert v["ap_mean"] == s["ap_mean"]  # ... but AP mean still uses its (untrained) P(sure)
    # Vanilla's answer rate follows the P(sure) rule like every other method's
    assert (v["answer_rate"], v["accuracy_answered"]) == (0.5, 1.0)
    assert v["answer_rate_phrase"] == 0.75 and v["accuracy_answered_phrase"] == pytest.approx(2 / 3)
    assert headline_confidence(RECORDS[0], "vanilla") == 0.9
    assert headline_confidence(RECORDS[0], "rtuning") == pytest.approx(0.85)


def test_unanswerable_set_reports_refusal_rate_only():
    recs = [_rec(i, False, 0.5, s, answerable=False) for i, s in enumerate([0.1, 0.9, 0.3, 0.2])]
    recs[2]["refusal"] = True  # says a refusal phrase (with P(sure) 0.3)
    s = summarize(recs, "rtuning")
    assert s == {"n": 4, "answer_rate": 0.25, "refusal_rate": 0.75, "answer_rate_phrase": 0.75,
                 "refusal_rate_phrase": 0.25}
    assert summarize(recs, "vanilla") == s  # one rule for every method
    assert summarize([], "rtuning") == {"n": 0}


def test_nothing_answered_gives_nan_not_a_crash():
    s = summarize([_rec(0, True, 0.9, 0.1), _rec(1, False, 0.2, 0.2)], "rtuning")
    assert s["answer_rate"] == 0.0 and math.isnan(s["accuracy_answered"])
    s = summarize([_rec(0, False, 0.9, 0.9, prediction="")], "rtuning")  # empty answer: wrong, AP undefined
    assert s["accuracy"] == 0.0 and math.isnan(s["ap"])


class CountingLM:
    """Delegates to a real model; records the prompts it generates for, and can die mid-run."""

    def __init__(self, lm, die_after=None):
        self.lm, self.prompts, self.die_after = lm, [], die_after

    def __getattr__(self, name):
        return getattr(self.lm, name)

    def generate(self, prompts, params, n=1):
        if self.die_after is not None and len(self.prompts) >= self.die_after:
            raise KeyboardInterrupt("killed")
        self.prompts += list(prompts)
        return self.lm.generate(prompts, params, n)


ITEMS = [QAItem(f"q{i}", f"question : what is {i} plus 9 ? answer :", "q", ("14",)) for i in range(10)]


def test_killed_probe_resumes_without_redoing_finished_questions(tiny_lm, tmp_path):
    path = tmp_path / "probe.jsonl"
    dying = CountingLM(tiny_lm, die_after=4)
    with pytest.raises(KeyboardInterrupt):
        probe(dying, ITEMS, path, batch_size=4, max_new_tokens=3)
    assert len(dying.prompts) == 4 and len(path.read_text().splitlines()) == 4
    resumed = CountingLM(tiny_lm)
    records = probe(resumed, ITEMS, path, batch_size=4, max_new_tokens=3)
    assert resumed.prompts == [it.prompt for it in ITEMS[4:]]  # only the unfinished questions
    fresh = probe(tiny_lm, ITEMS, tmp_path / "fresh.jsonl", batch_size=4, max_new_tokens=3)
    assert records == fresh  # the same results as a run that was never killed


def test_evaluate_records_and_resume(tiny_lm, tmp_path):
    # the conftest vocabulary has "i am sure" / "i am unsure" in lower case: a word-level tokenizer
    # trained on it lacks "▁I" / "▁am" but splits at word boundaries all the same.
    items, skipped = fits(tiny_lm, ITEMS, 3)
    assert skipped == 0
    path = tmp_path / "eval.jsonl"
    recs = evaluate_items(tiny_lm, items[:5], path, ["i am unsure"], batch_size=2, max_new_tokens=3)
    assert set(recs) == {f"q{i}" for i in range(5)}
    r = recs["q0"]
    assert 0.0 <= r["p_sure"] <= 1.0 and 0.0 <= r["answer_conf"] <= 1.0 and r["answerable"] is True
    counting = CountingLM(tiny_lm)
    again = evaluate_items(counting, items, path, ["i am unsure"], batch_size=2, max_new_tokens=3)
    assert len(again) == 10 and len(counting.prompts) == 5


def test_fits_drops_prompts_longer_than_the_context(tiny_lm):
    long = QAItem("long", "question : " + "what is 5 plus 9 ? " * 30 + "answer :", "q", ("14",))
    keep, skipped = fits(tiny_lm, [ITEMS[0], long], 8)
    assert [it.id for it in keep] == ["q0"] and skipped == 1
