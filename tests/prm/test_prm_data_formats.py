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
    assert p.gold == "0" and p.steps == ("2 - 2 = 0 apples.",) and p.id == "gsm8k-1"


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


@pytest.mark.skipif(not (DATA / "math").is_dir(), reason="shared math data absent (set QUARTET_DATA)")
def test_real_files_load():
    assert len(load_gsm8k(DATA / "math/gsm8k/test.jsonl")) == 1319
    assert len(load_math500(DATA / "math/math500/test.jsonl")) == 500
    pb = load_processbench(DATA / "math/processbench/gsm8k.json")
    assert len(pb) == 400 and sum(i.label == -1 for i in pb) == 193
