"""Evaluate a tuned model: answer, answer confidence, P(sure), refusal; then the metrics of a set.

Per question (one JSONL record, appended per batch, so a killed evaluation resumes):
the greedy answer; its confidence (geometric mean of the chosen tokens' probabilities, or
the softmax of the chosen letter); ``p_sure`` = p("sure") / (p("sure") + p("unsure")) after
``{prompt} {answer}. Are you sure ...? I am``; whether the answer is right; whether it is
a refusal phrase.

The set metrics (``summarize``) use one rule for every method: the model answers when
P(sure) > threshold (``answer_rate``, ``accuracy_answered``; on unanswerable sets
``refusal_rate`` = share with P(sure) <= threshold); and, labelled apart, the refusal-phrase
rule: it answers when the answer holds no refusal phrase (``answer_rate_phrase``,
``accuracy_answered_phrase``, ``refusal_rate_phrase``: R-Tuning-R's refusal detection).

``declined`` is the per-method decision the web page and ``examples.json`` show: Vanilla
has learned no certainty, so it declines only with a refusal phrase; R-Tuning and R-Tuning-U
decline when P(sure) <= threshold; R-Tuning-R when either happens.

The headline ranking confidence (``ap``) is the mean of answer confidence and P(sure); for
Vanilla, whose P(sure) was never trained, it is the answer confidence alone. ``ap_mean`` is
the AP of that mean for every method, Vanilla included (the paper's AP, applied to Vanilla too).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from quartet.lm.protocol import LanguageModel
from quartet.refusal.build import entropy_of_answers
from quartet.refusal.certainty import certainty_prompt, certainty_token_ids, p_sure_batch
from quartet.refusal.data import QAItem
from quartet.refusal.matching import MatchMode, is_refusal
from quartet.refusal.metrics import answer_stats, confidence_report, expected_calibration_error, rate
from quartet.refusal.probe import answer_items, item_correct, run_batched, sample


def fits(lm: LanguageModel, items: Sequence[QAItem], max_new_tokens: int) -> tuple[list[QAItem], int]:
    """Items whose prompt, answer and certainty question fit the model's context; and how many did not."""
    limit = getattr(getattr(lm.module, "cfg", None), "max_seq_len", None)
    if limit is None:
        return list(items), 0
    tail = len(lm.tokenizer.encode(certainty_prompt("", "x")))
    keep = [it for it in items if len(lm.tokenizer.encode(it.prompt, add_bos=True)) + max_new_tokens + tail <= limit]
    return keep, len(items) - len(keep)


def eval_records(lm: LanguageModel, batch: list[QAItem], refusals: Sequence[str], max_new_tokens: int = 8,
                 match: MatchMode = "contains") -> list[dict[str, Any]]:
    """Answer, its confidence, P(sure) after the certainty question, and whether it refuses."""
    answers = answer_items(lm, batch, max_new_tokens)
    texts = [certainty_prompt(it.prompt, a) for it, (a, _) in zip(batch, answers, strict=True)]
    sure = p_sure_batch(lm.next_token_logprobs(texts, list(certainty_token_ids(lm.tokenizer))))
    return [{"id": it.id, "prediction": a, "answer_conf": c, "p_sure": s, "answerable": it.answerable,
             "correct": it.answerable and item_correct(it, a, match), "refusal": is_refusal(a, refusals)}
            for it, (a, c), s in zip(batch, answers, sure, strict=True)]


def evaluate_items(lm: LanguageModel, items: Sequence[QAItem], path: Path | str, refusals: Sequence[str],
                   batch_size: int = 64, max_new_tokens: int = 8,
                   match: MatchMode = "contains") -> dict[str, dict[str, Any]]:
    """One record per item (resumable, like ``probe``)."""
    options = {"refusals": tuple(refusals), "max_new_tokens": max_new_tokens, "match": match}
    return run_batched(items, Path(path), lm, eval_records, options, batch_size, "eval")


def entropy_confidence(lm: LanguageModel, items: Sequence[QAItem], path: Path | str, k: int, temperature: float,
                       seed: int, batch_size: int = 64, max_new_tokens: int = 8) -> dict[str, float]:
    """Uncertainty at test time: 1 - H / ln K of K sampled answers, in [0, 1] (resumable)."""
    records = sample(lm, items, path, k, temperature, seed, batch_size, max_new_tokens)
    scale = math.log(k) if k > 1 else 1.0
    return {it.id: 1.0 - entropy_of_answers(records[it.id]["samples"]) / scale for it in items}


def declined(record: dict[str, Any], method: str, threshold: float = 0.5) -> bool:
    """Did the model decline (see the module docstring)?"""
    if method == "vanilla":
        return bool(record["refusal"])
    unsure = record["p_sure"] <= threshold
    return unsure or bool(record["refusal"]) if method == "rtuning_r" else unsure


def headline_confidence(record: dict[str, Any], method: str) -> float:
    """The paper's confidence: mean of answer confidence and P(sure); Vanilla: answer confidence."""
    if method == "vanilla":
        return float(record["answer_conf"])
    return (float(record["answer_conf"]) + float(record["p_sure"])) / 2


def summarize(records: Sequence[dict[str, Any]], method: str, threshold: float = 0.5, n_bins: int = 10,
              extra_confidence: Sequence[float] | None = None) -> dict[str, float]:
    """Metrics of one model on one set (see the module docstring for the rules).
    Unanswerable sets report only answer and refusal rates.

    ``extra_confidence`` replaces the headline confidence (the entropy baseline).
    """
    if not records:
        return {"n": 0}
    correct = [int(r["correct"]) for r in records]
    willing = answer_stats(correct, [float(r["p_sure"]) for r in records], threshold)  # P(sure) > threshold
    plain = [not r["refusal"] for r in records]  # answers without a refusal phrase
    out: dict[str, float] = {"n": len(records), "answer_rate": willing["answer_rate"],
                             "answer_rate_phrase": rate(plain)}
    if not any(r["answerable"] for r in records):
        out["refusal_rate"] = 1.0 - out["answer_rate"]
        out["refusal_rate_phrase"] = 1.0 - out["answer_rate_phrase"]
        return out
    head = list(extra_confidence) if extra_confidence is not None else [headline_confidence(r, method)
                                                                          for r in records]
    rep = confidence_report(correct, head)
    out.update({
        "accuracy": float(np.mean(correct)),
        "ap": rep["ap"], "auroc": rep["auroc"], "aurc": rep["aurc"],
        "ece": expected_calibration_error(correct, head, n_bins),
        "ap_answer": confidence_report(correct, [r["answer_conf"] for r in records])["ap"],
        "ap_sure": confidence_report(correct, [r["p_sure"] for r in records])["ap"],
        "ap_mean": confidence_report(correct, [(r["answer_conf"] + r["p_sure"]) / 2 for r in records])["ap"],
        "accuracy_answered": willing["accuracy_answered"],
        "accuracy_answered_phrase": (float(np.mean([c for c, k in zip(correct, plain, strict=True) if k]))
                                     if any(plain) else math.nan),
    })
    return out
