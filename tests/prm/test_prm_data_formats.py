import json
import logging
import os
from pathlib import Path

import pytest

from quartet.core.records import BadRecordError
from quartet.prm.data import load_gsm8k, load_math500, load_processbench
from quartet.prm.formats import (
    build_labels,
    read_labels,
    read_rollouts,
    rollout_key,
    to_openrlhf,
    to_trl,
)

DATA = Path(os.environ.get("QUARTET_DATA", Path(__file__).resolve().parents[2].parent / "shared" / "data"))


def test_malformed_jsonl_names_file_line_reason(tmp_path):
    path = tmp_path / "gsm.jsonl"
    path.write_text('{"question": "q", "answer": "1 + 1 = 2\\n#### 2"}\n{"question": "q2", "answer": \n')
    with pytest.raises(BadRecordError) as err:
        load_gsm8k(path)
    assert err.value.line == 2 and str(path) in str(err.value) and "not valid JSON" in str(err.value)
    path.write_text('{"question": "q", "answer": "no final answer"}\n')
    with pytest.raises(BadRecordError, match=r"line 1: field 'answer'"):
        load_gsm8k(path)
    path.write_text('{"question": 3, "answer": "#### 3"}\n')
    with pytest.raises(BadRecordError, match="field 'question'"):
        load_gsm8k(path)


def test_gsm8k_loader_strips_calculator_and_keeps_zero(tmp_path):
    path = tmp_path / "gsm.jsonl"
    path.write_text(json.dumps({"question": "q", "answer": "2 - 2 = <<2-2=0>>0 apples.\n#### 0"}) + "\n")
    [p] = load_gsm8k(path)
    assert p.gold == "0" and p.steps == ("2 - 2 = 0 apples.", "The answer is 0") and p.id == "gsm8k-1"


def test_processbench_skips_empty_and_checks_label(tmp_path, caplog):
    path = tmp_path / "pb.json"
    items = [{"id": "a", "problem": "p", "steps": ["s1", "s2"], "label": 1, "final_answer_correct": False},
             {"id": "b", "problem": "p", "steps": ["  "], "label": -1}]
    path.write_text(json.dumps(items))
    with caplog.at_level(logging.WARNING):
        out = load_processbench(path)
    assert [i.id for i in out] == ["a"] and "no steps" in caplog.text and "(b)" in caplog.text
    items[0]["label"] = 5
    path.write_text(json.dumps(items))
    with pytest.raises(BadRecordError, match=r"item 0.label"):
        load_processbench(path)
    path.write_text('[{"id": "a",\n "problem": }]')
    with pytest.raises(BadRecordError, match="line 2"):
        load_processbench(path)


def test_rollouts_and_labels_validation(tmp_path):
    path = tmp_path / "r.jsonl"
    path.write_text('{"key": "s/0", "solution_id": "s", "step": 0, "outcomes": [1, 0]}\n'
                    '{"key": "s/1", "solution_id": "s", "step": 1, "outcomes": [1, 2]}\n')
    with pytest.raises(BadRecordError, match=r"line 2: field 'outcomes'"):
        read_rollouts(path)
    path.write_text('{"solution_id": "s", "prompt": "q", "steps": ["a"], "labels": [0.5, 1]}\n')
    with pytest.raises(BadRecordError, match=r"line 1: field 'labels'"):
        read_labels(path)


def test_build_labels_and_exports():
    sol = {"solution_id": "s", "problem_id": "p", "prompt": "Q\n", "steps": ["1 + 1 = 2", "2 * 2 = 4",
           "The answer is 4"], "correct": False}
    rollouts = {rollout_key("s", 0): {"outcomes": [1, 1, 0, 0]}, rollout_key("s", 1): {"outcomes": [0, 0, 0, 1]}}
    [soft] = build_labels([sol], rollouts, "soft")
    assert soft["labels"] == [0.5, 0.25, 0.0]
    [hard] = build_labels([sol], rollouts, "hard")
    assert hard["labels"] == [1.0, 1.0, 0.0]
    with pytest.raises(ValueError, match="no rollouts"):
        build_labels([sol], {}, "soft")
    [o] = to_openrlhf([soft])
    assert o == {"text": "Q\n1 + 1 = 2 ки\n2 * 2 = 4 ки\nThe answer is 4 ки", "value": [0.5, 0.25, 0.0]}
    [t] = to_trl([soft], threshold=0.5)
    assert t == {"prompt": "Q\n", "completions": sol["steps"], "labels": [True, False, False]}


needs_data = pytest.mark.skipif(not (DATA / "math").is_dir(), reason="shared math data absent (set QUARTET_DATA)")


@needs_data
def test_real_files_load():
    assert len(load_gsm8k(DATA / "math/gsm8k/test.jsonl")) == 1319
    assert len(load_math500(DATA / "math/math500/test.jsonl")) == 500
    for subset, n, n_correct in (("gsm8k", 400, 193), ("math", 1000, 406), ("olympiadbench", 1000, 339),
                                 ("omnimath", 1000, 241)):  # the counts SOURCES.md gives
        pb = load_processbench(DATA / f"math/processbench/{subset}.json")
        assert len(pb) == n and sum(i.label == -1 for i in pb) == n_correct, subset


@needs_data
def test_gold_solutions_are_graded_correct(monkeypatch):
    """The pipeline's problems from the real files: every gold solution, written as a policy
    would write it, is graded right by the same checker that grades the policy."""
    from quartet.prm.answers import is_correct
    from quartet.prm.data import problems_from_files
    from quartet.prm.policy import sft_pairs

    monkeypatch.setenv("QUARTET_DATA", str(DATA))
    train, test = problems_from_files("gsm8k", None, 200, 50)
    assert (len(train), len(test)) == (200, 50)
    for p, (_, response) in zip(train + test, sft_pairs(train + test), strict=True):
        assert response.endswith(f"The answer is {p.gold}") and is_correct(response, p.gold, p.answer_format)
    train, test = problems_from_files("math500", DATA / "math/math500/test.jsonl", 40, 20)
    assert {p.id for p in train}.isdisjoint(p.id for p in test) and len(train) == 40
    graded = [is_correct(response, p.gold, "boxed") for p, (_, response) in zip(test, sft_pairs(test), strict=True)]
    assert sum(graded) >= 0.9 * len(graded)  # math-verify agrees with the gold answer of (nearly) every solution
    assert all("\n" not in step for p in test for step in p.steps)  # one step per line
    with pytest.raises(ValueError, match="data.source"):
        problems_from_files("mmlu", None, 1, 1)


@needs_data
def test_processbench_harness_on_the_real_files(tmp_path):
    """The harness on the real subsets (first 6 items each) with an untrained PRM whose vocabulary
    covers them; threshold 2 puts every step below it, so the prediction is always step 0."""
    import torch

    from quartet.lm.builtin import BuiltinLM
    from quartet.lm.model import ModelConfig
    from quartet.lm.tokenizer import Tokenizer
    from quartet.prm.processbench import SUBSETS, run_processbench

    items = {s: load_processbench(DATA / f"math/processbench/{s}.json")[:6] for s in SUBSETS}
    corpus = [i.problem + " " + " ".join(i.steps) for its in items.values() for i in its] + ["+ -"]
    tok = Tokenizer.train(corpus, kind="word", extra_tokens=("<step>",))
    torch.manual_seed(0)
    prm = BuiltinLM.create(ModelConfig(vocab_size=tok.vocab_size, dim=16, n_layers=1, n_heads=2, max_seq_len=4096),
                           tok)
    result = run_processbench(prm, DATA / "math/processbench", tmp_path / "pb.json", SUBSETS, 2.0, limit=6)
    for subset, its in items.items():
        errors = [i for i in its if i.label != -1]
        expect = sum(i.label == 0 for i in errors) / len(errors) if errors else 0.0
        got = result["subsets"][subset]
        assert got["n"] == 6 and got["correct_acc"] == 0.0 and got["error_acc"] == expect, subset
    assert json.loads((tmp_path / "pb.json").read_text())["average_f1"] == result["average_f1"] == 0.0
    table = (tmp_path / "pb.md").read_text().splitlines()
    assert table[0] == "| subset | n | error acc | correct acc | F1 |" and len(table) == 2 + len(SUBSETS) + 1 + 2
    assert "First 6 items of each subset only" in table[-1]
