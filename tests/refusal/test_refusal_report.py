"""Hand-computed checks of the probe's gap recovery, the mean/std over seeds and the Markdown table."""

import json
import math
from pathlib import Path

import pytest

from quartet.core.config import load_config
from quartet.core.records import write_jsonl
from quartet.core.runs import RunDir
from quartet.refusal.config import RefusalConfig
from quartet.refusal.data import QAItem
from quartet.refusal.probe import probe_recovery
from quartet.refusal.report import _aggregate, collect, markdown

TEST_CFG = Path(__file__).resolve().parents[2] / "configs/refusal/test.yaml"


def _item(i, stated):
    return QAItem(f"q{i}", "Question: q? Answer:", "q?", ("a",), stated=stated)


def test_probe_recovery_hand_computed():
    # stated:  T T T T F F F  (and one item of unknown status, which is left out)
    # correct: T T F F T F F   -> TP 2, FN 2, FP 1, TN 2
    stated = [True, True, True, True, False, False, False, None]
    correct = [True, True, False, False, True, False, False, True]
    items = [_item(i, s) for i, s in enumerate(stated)]
    records = {f"q{i}": {"correct": c} for i, c in enumerate(correct)}
    rec = probe_recovery(items, records)
    assert rec == {"n": 7, "stated": 4, "d1": 3, "precision": pytest.approx(2 / 3), "recall": 0.5,
                   "agreement": pytest.approx(4 / 7)}
    # nothing answered right: precision undefined (nan), recall 0
    none = probe_recovery(items, {k: {"correct": False} for k in records})
    assert math.isnan(none["precision"]) and none["recall"] == 0.0 and none["d1"] == 0
    assert probe_recovery([_item(0, None)], {"q0": {"correct": True}}) == {}  # no known gap: nothing to recover


def test_aggregate_mean_and_population_std_skip_undefined_seeds():
    per_seed = [{"n": 10, "ap": 0.5, "ece": 0.1}, {"n": 10, "ap": 0.7, "ece": math.nan}, {"n": 10, "ap": 0.9}]
    agg = _aggregate(per_seed)
    assert agg["per_seed"] == per_seed
    assert agg["mean"]["ap"] == pytest.approx(0.7)
    assert agg["std"]["ap"] == pytest.approx(math.sqrt((0.2**2 + 0 + 0.2**2) / 3))  # ddof 0
    # ece is defined for one seed only (nan and missing are skipped): mean 0.1, std 0
    assert (agg["mean"]["ece"], agg["std"]["ece"]) == (pytest.approx(0.1), 0.0)
    assert (agg["mean"]["n"], agg["std"]["n"]) == (10.0, 0.0)
    nothing = _aggregate([{"ap": math.nan}, {"ap": math.nan}])
    assert math.isnan(nothing["mean"]["ap"]) and math.isnan(nothing["std"]["ap"])


def _rec(i, correct, conf, sure, refusal=False, answerable=True):
    return {"id": f"q{i}", "prediction": "x", "answer_conf": conf, "p_sure": sure, "correct": correct,
            "refusal": refusal, "answerable": answerable}


def test_collect_and_table_over_two_seeds(tmp_path):
    cfg = load_config(RefusalConfig, TEST_CFG, ["tune.methods=[vanilla, rtuning]", "tune.seeds=[0, 1]",
                                                "eval.entropy_baseline=false"])
    run = RunDir(tmp_path)
    (tmp_path / "data").mkdir()
    (tmp_path / "data/sets.json").write_text(json.dumps({"test_id": "id", "unanswerable": "unanswerable"}))
    evals = {  # (method, seed) -> test_id records, unanswerable records
        ("rtuning", 0): ([_rec(0, True, 0.9, 0.8), _rec(1, False, 0.2, 0.3), _rec(2, True, 0.6, 0.4),
                          _rec(3, False, 0.5, 0.9)],
                         [_rec(9, False, 0.5, 0.2, answerable=False), _rec(8, False, 0.5, 0.7, answerable=False)]),
        ("rtuning", 1): ([_rec(0, True, 0.9, 0.8), _rec(1, True, 0.2, 0.6), _rec(2, True, 0.6, 0.7),
                          _rec(3, False, 0.5, 0.9)],
                         [_rec(9, False, 0.5, 0.2, answerable=False), _rec(8, False, 0.5, 0.1, True, False)]),
    }
    evals[("vanilla", 0)] = evals[("rtuning", 0)]
    evals[("vanilla", 1)] = evals[("rtuning", 1)]
    for (method, seed), (id_recs, un_recs) in evals.items():
        write_jsonl(tmp_path / f"eval/{method}/s{seed}/test_id.jsonl", id_recs)
        write_jsonl(tmp_path / f"eval/{method}/s{seed}/unanswerable.jsonl", un_recs)
    results = collect(cfg, run)
    rt = results["methods"]["rtuning"]["test_id"]
    # accuracy 2/4 and 3/4 -> mean 0.625, std 0.125; answered (P(sure) > 0.5) 2/4 and 4/4 -> 0.75 ± 0.25
    assert (rt["mean"]["accuracy"], rt["std"]["accuracy"]) == (pytest.approx(0.625), pytest.approx(0.125))
    assert (rt["mean"]["answer_rate"], rt["std"]["answer_rate"]) == (pytest.approx(0.75), pytest.approx(0.25))
    # accuracy on the answered: seed 0 {q0 right, q3 wrong} 0.5; seed 1 3/4 -> 0.625 ± 0.125
    assert rt["mean"]["accuracy_answered"] == pytest.approx(0.625)
    un = results["methods"]["vanilla"]["unanswerable"]
    # refusal by P(sure) <= 0.5: 1/2 and 2/2; by phrase: 0/2 and 1/2
    assert (un["mean"]["refusal_rate"], un["std"]["refusal_rate"]) == (pytest.approx(0.75), pytest.approx(0.25))
    assert (un["mean"]["refusal_rate_phrase"], un["std"]["refusal_rate_phrase"]) == (0.25, 0.25)

    results["seeds"], results["threshold"] = [0, 1], 0.5
    table = markdown(results, [0, 1])
    header = next(line for line in table.splitlines() if line.startswith("| method | Acc"))
    assert header == ("| method | Acc | AP | AP ans | AP sure | AP mean | AUROC | ECE | Ans rate | Acc ans | "
                      "Ans rate (phrase) |")
    row = next(line for line in table.splitlines() if line.startswith("| R-Tuning |"))
    assert "| 0.625 ± 0.125 |" in row and "| 0.750 ± 0.250 |" in row
    assert "| method | unanswerable: P(sure) ≤ 0.5 | unanswerable: refusal phrase |" in table
    assert "| Vanilla | 0.750 ± 0.250 | 0.250 ± 0.250 |" in table
    assert "- AP mean: AP of the mean of answer confidence and P(sure)" in table
    assert "P(sure) > 0.5, the same rule for every method" in table
