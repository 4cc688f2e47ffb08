"""Real-file paths in the default suite: tiny ParaRel / MMLU files as ``data.eval_sets``, and a
``data.source=file`` run, each on configs/refusal/test.yaml with the shared run's base model
(no pretraining here), so each test takes seconds.

The ParaRel fixtures hold the fact world's own questions, so the file path can be checked against
the world path: the same question, asked through a file, gets the same answer and P(sure).
"""

import json
from pathlib import Path

import pytest

from quartet.core.config import load_config
from quartet.refusal.config import RefusalConfig
from quartet.refusal.pipeline import run_pipeline

TEST_CFG = Path(__file__).resolve().parents[2] / "configs/refusal/test.yaml"


def _jsonl(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def _pararel(items, path, empty_answer=False):
    """R-Tuning's ParaRel layout: a JSON list of [question, answer, relation]."""
    rows = [[it["question"], it["answers"][0], it["group"]] for it in items]
    if empty_answer:
        rows.append([items[0]["question"], "", items[0]["group"]])  # an empty gold answer: wrong, never a crash
    path.write_text(json.dumps(rows))
    return path


def _eval_set(name, fmt, path, role, prompt_path="", limit=0):
    return f"{{name: {name}, format: {fmt}, path: '{path}', prompt_path: '{prompt_path}', role: {role}, limit: {limit}}}"


def test_pararel_and_mmlu_files_as_eval_sets(finished_run, tmp_path):
    _, base_run = finished_run
    ood = _jsonl(base_run / "data/test_ood.jsonl")
    pararel = _pararel(ood[:5], tmp_path / "pararel.json", empty_answer=True)
    mmlu = tmp_path / "mmlu.json"
    mmlu.write_text(json.dumps({"geography": [["Where is Kelmar?", "north", "south", "east", "west", "B"],
                                              ["Who?", "a", "b", "c", "d", "D"]]}))
    shots = tmp_path / "shots.json"  # a 5-shot prefix far longer than the 64-token test model's context
    shots.write_text(json.dumps({"geography": [["Where is Vimekton in the far north of the land?", "north",
                                                "south", "east", "west", "A"]] * 5}))
    sets = [_eval_set("pararel_fix", "pararel", pararel, "ood"), _eval_set("mmlu_fix", "mmlu", mmlu, "id"),
            _eval_set("mmlu_5shot", "mmlu", mmlu, "id", prompt_path=shots, limit=1)]
    cfg = load_config(RefusalConfig, TEST_CFG, [
        f"run_dir={tmp_path / 'run'}", f"base.model={base_run / 'base/model'}", "tune.seeds=[0]",
        "tune.methods=[vanilla, rtuning]", "tune.train.steps=4", "tune.train.checkpoint_every=0",
        f"data.eval_sets=[{', '.join(sets)}]"])
    path = run_pipeline(cfg)

    assert json.loads((path / "data/sets.json").read_text()) == {
        "test_id": "id", "test_ood": "ood", "unanswerable": "unanswerable",
        "pararel_fix": "ood", "mmlu_fix": "id", "mmlu_5shot": "id"}
    items = _jsonl(path / "data/pararel_fix.jsonl")
    assert len(items) == 6 and items[-1]["answers"] == [] and len(_jsonl(path / "data/mmlu_5shot.jsonl")) == 1
    for method in ("vanilla", "rtuning"):
        got = _jsonl(path / f"eval/{method}/s0/pararel_fix.jsonl")
        assert [r["id"] for r in got] == [f"pararel:{i}" for i in range(6)]
        assert got[-1]["correct"] is False  # empty gold answer
        # the same question through the world path: the same answer, correctness and P(sure)
        world = {r["id"]: r for r in _jsonl(path / f"eval/{method}/s0/test_ood.jsonl")}
        for rec, it in zip(got[:5], ood[:5], strict=True):
            twin = world[it["id"]]
            assert (rec["prediction"], rec["correct"]) == (twin["prediction"], twin["correct"])
            assert rec["p_sure"] == pytest.approx(twin["p_sure"], abs=1e-5)
        letters = _jsonl(path / f"eval/{method}/s0/mmlu_fix.jsonl")
        assert len(letters) == 2 and all(r["prediction"] in "ABCD" and r["answer_conf"] >= 0.25 for r in letters)
        # too long for the context: skipped and counted, not evaluated
        assert json.loads((path / f"eval/{method}/s0/skipped.json").read_text())["mmlu_5shot"] == 1
    entropy = _jsonl(path / "eval/entropy/s0/pararel_fix.jsonl")
    assert len(entropy) == 6 and all(len(r["samples"]) == cfg.probe.k for r in entropy)

    results = json.loads((path / "artifacts/results.json").read_text())
    for method in ("vanilla", "rtuning", "vanilla_entropy"):
        assert results["methods"][method]["pararel_fix"]["per_seed"][0]["n"] == 6
        assert results["methods"][method]["mmlu_fix"]["per_seed"][0]["n"] == 2
    assert results["methods"]["rtuning"]["mmlu_5shot"]["per_seed"] == [{"n": 0}]
    table = (path / "artifacts/results.md").read_text()
    assert "### pararel_fix (ood)" in table and "### mmlu_fix (id)" in table


def test_source_file_trains_on_a_pararel_file(finished_run, tmp_path):
    base_cfg, base_run = finished_run
    train = _jsonl(base_run / "data/train.jsonl")
    train_file = _pararel(train, tmp_path / "train.json")
    test_file = _pararel(_jsonl(base_run / "data/test_id.jsonl")[:4], tmp_path / "test.json")
    cfg = load_config(RefusalConfig, TEST_CFG, [
        f"run_dir={tmp_path / 'run'}", "data.source=file", f"data.train.path={train_file}",
        f"base.model={base_run / 'base/model'}", "tune.seeds=[0]", "tune.methods=[vanilla, rtuning]",
        "tune.train.steps=4", "tune.train.checkpoint_every=0", f"data.eval_sets=[{_eval_set('pararel_test', 'pararel', test_file, 'id')}]"])
    path = run_pipeline(cfg)

    assert not (path / "base").exists()  # nothing pretrained: the given model is the base
    assert json.loads((path / "data/sets.json").read_text()) == {"pararel_test": "id"}
    items = _jsonl(path / "data/train.jsonl")
    assert [it["question"] for it in items] == [it["question"] for it in train]
    assert all(it["stated"] is None for it in items)  # a file carries no known gap
    # probed exactly like the same questions from the world
    probe = _jsonl(path / "probe/probe.jsonl")
    world_probe = {r["id"]: r for r in _jsonl(base_run / "probe/probe.jsonl")}
    assert [(r["prediction"], r["correct"]) for r in probe] == [
        (world_probe[it["id"]]["prediction"], world_probe[it["id"]]["correct"]) for it in train]
    labels = [r["label"] for r in _jsonl(path / "build/rtuning.jsonl")]
    assert labels == ["sure" if r["correct"] else "unsure" for r in probe]
    assert (path / "tune/rtuning/s0/model/model.safetensors").is_file()
    results = json.loads((path / "artifacts/results.json").read_text())
    assert results["probe"]["gap_recovery"] == {} and results["probe"]["n"] == len(train)
    assert set(results["roles"]) == {"pararel_test"}
    assert results["methods"]["rtuning"]["pararel_test"]["per_seed"][0]["n"] == 4
    assert base_cfg.data.source == "world"
