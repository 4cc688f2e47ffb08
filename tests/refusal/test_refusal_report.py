"""Hand-computed checks of the probe's gap recovery, the mean/std over seeds and the Markdown table."""

import json
import math
from pathlib import Path

import numpy as np
import pytest

from quartet.core.config import load_config
from quartet.core.records import write_jsonl
from quartet.core.runs import RunDir
from quartet.refusal.config import RefusalConfig
from quartet.refusal.data import QAItem
from quartet.refusal.probe import probe_recovery
from quartet.refusal.report import (
    ENTROPY,
    _aggregate,
    collect,
    markdown,
    plot_risk_coverage,
    risk_coverage_curves,
)

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


# (method, seed) -> test_id records, unanswerable records; Vanilla's are R-Tuning's
EVALS = {
    ("rtuning", 0): ([_rec(0, True, 0.9, 0.8), _rec(1, False, 0.2, 0.3), _rec(2, True, 0.6, 0.4),
                      _rec(3, False, 0.5, 0.9)],
                     [_rec(9, False, 0.5, 0.2, answerable=False), _rec(8, False, 0.5, 0.7, answerable=False)]),
    ("rtuning", 1): ([_rec(0, True, 0.9, 0.8), _rec(1, True, 0.2, 0.6), _rec(2, True, 0.6, 0.7),
                      _rec(3, False, 0.5, 0.9)],
                     [_rec(9, False, 0.5, 0.2, answerable=False), _rec(8, False, 0.5, 0.1, True, False)]),
}
EVALS[("vanilla", 0)] = EVALS[("rtuning", 0)]
EVALS[("vanilla", 1)] = EVALS[("rtuning", 1)]


def _fake_run(tmp_path, sets):
    """A run directory holding only data/sets.json and the EVALS records of each (method, seed)."""
    (tmp_path / "data").mkdir()
    (tmp_path / "data/sets.json").write_text(json.dumps(sets))
    for (method, seed), (id_recs, un_recs) in EVALS.items():
        write_jsonl(tmp_path / f"eval/{method}/s{seed}/test_id.jsonl", id_recs)
        write_jsonl(tmp_path / f"eval/{method}/s{seed}/unanswerable.jsonl", un_recs)
    return RunDir(tmp_path)


def test_collect_and_table_over_two_seeds(tmp_path):
    cfg = load_config(RefusalConfig, TEST_CFG, ["tune.methods=[vanilla, rtuning]", "tune.seeds=[0, 1]",
                                                "eval.entropy_baseline=false"])
    run = _fake_run(tmp_path, {"test_id": "id", "unanswerable": "unanswerable"})
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


def test_risk_coverage_curves_average_the_seeds_hand_computed(tmp_path):
    cfg = load_config(RefusalConfig, TEST_CFG, ["tune.methods=[vanilla, rtuning]", "tune.seeds=[0, 1]",
                                                "eval.entropy_baseline=true", "probe.k=4"])
    run = _fake_run(tmp_path, {"test_id": "id", "test_ood": "ood", "unanswerable": "unanswerable"})
    for method, seed in EVALS:  # test_ood: every answer wrong, so it gets no panel
        write_jsonl(tmp_path / f"eval/{method}/s{seed}/test_ood.jsonl", [_rec(0, False, 0.9, 0.9)])
    # K = 4 samples: 1 - H / ln 4 is 1 (one answer), 0.5 (two, evenly), 0 (four); seed 0 lacks q3
    write_jsonl(tmp_path / "eval/entropy/s0/test_id.jsonl", [
        {"id": "q0", "samples": ["a"] * 4}, {"id": "q1", "samples": list("abcd")},
        {"id": "q2", "samples": list("aabb")}])
    write_jsonl(tmp_path / "eval/entropy/s1/test_id.jsonl", [
        {"id": "q0", "samples": ["a"] * 4}, {"id": "q1", "samples": list("aabb")},
        {"id": "q2", "samples": list("aaab")}, {"id": "q3", "samples": list("abcd")}])
    curves = risk_coverage_curves(cfg, run, {"test_id": "id", "test_ood": "ood", "unanswerable": "unanswerable"},
                                  np.array([0.5, 1.0]))
    assert list(curves) == ["test_id"] and list(curves["test_id"]) == ["vanilla", "rtuning", ENTROPY]
    got = {m: risk.tolist() for m, risk in curves["test_id"].items()}
    # R-Tuning (mean of conf and P(sure)): seed 0 ranks q0 q3 q2 q1 (right, wrong, right, wrong): risk at
    # 2 and 4 answered 1/2, 1/2; seed 1 ranks q0 q3 q2 q1 (r, w, r, r): 1/2, 1/4
    assert got["rtuning"] == pytest.approx([0.5, 0.375])
    # Vanilla (answer confidence): seed 0 q0 q2 q3 q1 (r, r, w, w): 0, 1/2; seed 1 (r, r, w, r): 0, 1/4
    assert got["vanilla"] == pytest.approx([0.0, 0.375])
    # entropy: seed 0 has 3 ranked, q0 (1) q2 (0.5) q1 (0): 2 answered at 0.5 -> 0, all -> 1/3;
    # seed 1: q0 (1), q2 (0.59), q1 (0.5), q3 (0): r, r, r, w -> 0, 1/4
    assert got[ENTROPY] == pytest.approx([0.0, (1 / 3 + 1 / 4) / 2])
    plot_risk_coverage(curves, np.array([0.5, 1.0]), {"test_id": "id"}, [0, 1], tmp_path / "rc.png")
    assert (tmp_path / "rc.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
