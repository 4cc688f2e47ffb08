"""Loaders: bad records name file, line/item and field; the real files load when present."""

import json
import os
from pathlib import Path

import pytest

from quartet.core.records import BadRecordError
from quartet.refusal.data import (
    load_falseqa_csv,
    load_honesty,
    load_items,
    load_mmlu,
    load_pararel,
    load_selfaware,
    load_unknownbench,
    world_items,
)
from quartet.worlds.facts import WorldSpec, build_world, multiple_choice, qa_items

DATA = Path(os.environ.get("QUARTET_DATA", Path(__file__).resolve().parents[3] / "shared" / "data")) / "refusal"


def _write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_pararel_bad_item_names_index_and_field(tmp_path):
    path = _write(tmp_path, "p.json", json.dumps([["Q?", "a", "P1"], ["Q2?", 7, "P1"]]))
    with pytest.raises(BadRecordError) as err:
        load_pararel(path)
    assert err.value.path == str(path) and err.value.field == "[1].answer"
    path = _write(tmp_path, "p2.json", '[["Q?", "a", "P1"],\n ["broken"')
    with pytest.raises(BadRecordError, match="not valid JSON") as err:
        load_pararel(path)
    assert err.value.line == 2


def test_unknownbench_bad_line_and_label(tmp_path):
    good = '{"prompt": "Q?", "label": 1}\n{"prompt": "R?", "label": ["x"]}\n{"prompt": "S?", "label": "NEC"}\n'
    items = load_unknownbench(_write(tmp_path, "ok.json", good))
    assert [i.answerable for i in items] == [False, True, False] and items[1].answers == ("x",)
    with pytest.raises(BadRecordError) as err:
        load_unknownbench(_write(tmp_path, "a.json", good + '{"label": 1}\n'))
    assert (err.value.line, err.value.field) == (4, "prompt")
    with pytest.raises(BadRecordError) as err:
        load_unknownbench(_write(tmp_path, "b.json", '{"prompt": "Q?", "label": "maybe"}\n'))
    assert (err.value.line, err.value.field) == (1, "label")
    with pytest.raises(BadRecordError, match="line 2.*not valid JSON"):
        load_unknownbench(_write(tmp_path, "c.json", good.splitlines()[0] + "\n{oops\n"))


def test_falseqa_csv_rows(tmp_path):
    text = 'question,answer,label\nWhy do cats bark?,"[\'They do not.\']",1\nWhy sky blue?,Scattering.,0\n'
    items = load_falseqa_csv(_write(tmp_path, "f.csv", text))
    assert [(i.answerable, i.answers) for i in items] == [(False, ("They do not.",)), (True, ("Scattering.",))]
    with pytest.raises(BadRecordError) as err:
        load_falseqa_csv(_write(tmp_path, "g.csv", text + "Q?,x,2\n"))
    assert (err.value.line, err.value.field) == (4, "label")


def test_honesty_and_selfaware_and_mmlu_errors(tmp_path):
    path = _write(tmp_path, "pk.jsonl", '{"question": "Q?", "label": "known"}\n')
    with pytest.raises(BadRecordError) as err:
        load_honesty(path)
    assert (err.value.line, err.value.field) == (1, "answer")
    path = _write(tmp_path, "sa.json", json.dumps({"example": [{"question": "Q?", "answer": None}]}))
    with pytest.raises(BadRecordError) as err:
        load_selfaware(path)
    assert err.value.field == "example[0].answerable"
    path = _write(tmp_path, "m.json", json.dumps({"algebra": [["Q?", "1", "2", "3", "4", "E"]]}))
    with pytest.raises(BadRecordError) as err:
        load_mmlu(path)
    assert err.value.field == "algebra[0].gold"
    with pytest.raises(BadRecordError, match="does not exist"):
        load_pararel(tmp_path / "missing.json")
    with pytest.raises(ValueError, match="unknown data format"):
        load_items("nope", path)


def test_mmlu_few_shot_prompt(tmp_path):
    row = ["What is 1+1?", "1", "2", "3", "4", "B"]
    path = _write(tmp_path, "m.json", json.dumps({"algebra": [row]}))
    shots = _write(tmp_path, "s.json", json.dumps({"algebra": [["2+2?", "4", "5", "6", "7", "A"]]}))
    (item,) = load_mmlu(path, shots)
    assert item.prompt == (
        "The following are multiple choice questions about algebra.\n\n"
        "2+2?\nA. 4\nB. 5\nC. 6\nD. 7\nAnswer: A\n\n"
        "What is 1+1?\nA. 1\nB. 2\nC. 3\nD. 4\nAnswer:"
    )
    assert (item.gold, item.answers, item.target) == ("B", ("2",), "B")


def test_world_items_free_form_and_mc():
    world = build_world(WorldSpec(n_persons=6, n_companies=2, n_countries=2, n_cities=4), seed=0)
    records = qa_items(world, "train")
    items = world_items(records)
    assert items[0].prompt == f"Question: {records[0]['question']} Answer:"
    assert items[0].stated == records[0]["stated"] and items[0].target == records[0]["answer"]
    mc = world_items(multiple_choice(world, records), multiple_choice=True)
    assert mc[0].target == mc[0].gold and mc[0].prompt.endswith("Answer:") and "A. " in mc[0].prompt


@pytest.mark.skipif(not DATA.is_dir(), reason=f"refusal data not found at {DATA} (set QUARTET_DATA)")
def test_real_files_load():
    assert len(load_pararel(DATA / "r_tuning/pararel/training_data.json")) == 5575
    assert len(load_pararel(DATA / "r_tuning/pararel/OOD_test_pararel.json")) == 13974
    mmlu = load_mmlu(DATA / "r_tuning/MMLU/MMLU_ID_test.json", DATA / "r_tuning/MMLU/MMLU_ID_prompt.json")
    assert len(mmlu) == 2439 and mmlu[0].prompt.count("Answer:") == 6
    sa = load_selfaware(DATA / "selfaware/SelfAware.json")
    assert (len(sa), sum(not i.answerable for i in sa)) == (3369, 1032)
    for name, n in (("FalseQA/FalseQA_unanswerable", 2365), ("NEC/NEC_unanswerable", 2078),
                    ("RefuNQ/RefuNQ_unanswerable", 2173)):
        items = load_unknownbench(DATA / f"unknownbench/{name}.json")
        assert len(items) == n and not any(i.answerable for i in items)
    assert all(i.answers for i in load_unknownbench(DATA / "unknownbench/RefuNQ/RefuNQ_answerable.json"))
    assert len(load_falseqa_csv(DATA / "falseqa/test.csv")) == 1374
    assert not any(i.answerable for i in load_honesty(DATA / "alignment_for_honesty/puqa.jsonl"))
    assert all(i.answers for i in load_honesty(DATA / "alignment_for_honesty/pkqa_13b.jsonl"))
