"""The ORM is trained on its final tag only, so best-of-N and RAFT read it there ("last"),
while every PRM keeps ``prm.aggregate`` ("min"). Min over the ORM's untrained earlier tags
would rank candidates by noise."""

import json
import shutil

import pytest

from quartet.core.records import write_jsonl
from quartet.core.runs import RunDir
from quartet.prm.best_of_n import evaluate_bon
from quartet.prm.config import PipelineConfig, PRMConfig
from quartet.prm.pipeline import scorer_aggregate, stage_bon
from quartet.prm.raft import best_by_prm

# Two candidates of one problem. The ORM's first tag was never trained (here 0.1 and 0.6);
# its final tag says candidate 0 is right. Min over all tags would pick candidate 1.
ORM_SCORES = {"p-0": [0.1, 0.9], "p-1": [0.6, 0.2]}
SOFT_SCORES = {"p-0": [0.3, 0.8], "p-1": [0.5, 0.4]}  # a PRM: min picks candidate 1 (0.4 > 0.3)


def _candidates():
    return [{"solution_id": f"p-{i}", "problem_id": "p", "prompt": "Q\n", "steps": ["1 + 1 = 2", f"The answer is {a}"],
             "answer": str(a), "gold": "2", "correct": a == 2} for i, a in enumerate((2, 3))]


def test_scorer_aggregate_reads_the_orm_at_its_final_tag():
    cfg = PipelineConfig()
    assert scorer_aggregate(cfg, "orm") == "last"
    assert [scorer_aggregate(cfg, n) for n in ("hard", "soft", "er2")] == ["min"] * 3
    other = PipelineConfig(prm=PRMConfig(aggregate="product", orm_aggregate="mean"))
    assert (scorer_aggregate(other, "orm"), scorer_aggregate(other, "er2")) == ("mean", "product")


def test_evaluate_bon_aggregates_per_scorer():
    problem = {"answers": [2.0, 3.0], "correct": [True, False],
               "scores": {"orm": list(ORM_SCORES.values()), "soft": list(SOFT_SCORES.values())}}
    per_scorer = evaluate_bon([problem], ns=[2], seeds=[0], how="min", n_boot=10, aggregates={"orm": "last"})
    assert per_scorer["aggregates"] == {"orm": "last", "soft": "min"}
    m = per_scorer["methods"]
    assert m["orm"]["acc"] == [1.0] and m["weighted_orm"]["acc"] == [1.0]  # 0.9 vs 0.2 at the final tag
    assert m["soft"]["acc"] == [0.0]  # min: 0.3 vs 0.4
    # without the per-scorer setting the ORM would be mis-scored by min (0.1 vs 0.2): the old behaviour
    assert evaluate_bon([problem], ns=[2], seeds=[0], how="min", n_boot=10)["methods"]["orm"]["acc"] == [0.0]


def test_stage_bon_scores_the_orm_by_its_last_tag(tmp_path):
    cfg = PipelineConfig(prm=PRMConfig(methods=("soft",), orm=True, ns=(1, 2), seeds=(0, 1), n_boot=10))
    run = RunDir(tmp_path)
    write_jsonl(tmp_path / "candidates_test.jsonl", _candidates())
    (tmp_path / "scores").mkdir()
    (tmp_path / "scores/orm.json").write_text(json.dumps(ORM_SCORES))
    (tmp_path / "scores/soft.json").write_text(json.dumps(SOFT_SCORES))
    result = stage_bon(cfg, run)
    assert result["aggregates"] == {"orm": "last", "soft": "min"}
    assert result["methods"]["orm"]["acc"][-1] == 1.0 and result["methods"]["soft"]["acc"][-1] == 0.0
    saved = json.loads((tmp_path / "artifacts/bon.json").read_text())
    assert saved["methods"]["orm"]["acc"] == result["methods"]["orm"]["acc"]
    table = (tmp_path / "artifacts/bon.md").read_text()
    assert "| orm | last | " in table and "| soft | min | " in table and "| majority | - | " in table
    assert "`min` for soft; `last` for orm" in table.splitlines()[0]


def test_best_by_prm_follows_the_aggregation():
    sols = _candidates()
    scores = [ORM_SCORES[s["solution_id"]] for s in sols]
    assert [s["solution_id"] for s in best_by_prm(sols, scores, "last")] == ["p-0"]
    assert [s["solution_id"] for s in best_by_prm(sols, scores, "min")] == ["p-1"]


@pytest.fixture(scope="module")
def test_run(tmp_path_factory):
    from pathlib import Path

    from quartet.core.config import load_config
    from quartet.prm.pipeline import run_pipeline

    cfg = load_config(PipelineConfig, Path(__file__).resolve().parents[2] / "configs/prm/test.yaml",
                      [f"run_dir={tmp_path_factory.mktemp('orm') / 'run'}"])
    return cfg, run_pipeline(cfg, until="train")


def test_raft_keeps_the_orm_choice_by_its_last_tag(test_run, tmp_path, monkeypatch):
    """RAFT with the ORM and with a PRM on the test run: the ORM's samples are ranked by "last"."""
    import quartet.prm.raft as raft

    cfg, path = test_run
    run = RunDir(tmp_path / "run")
    shutil.copytree(path, run.path)
    seen = []

    def spy(sols, scores, how):
        seen.append(how)
        return best_by_prm(sols, scores, how)

    monkeypatch.setattr(raft, "best_by_prm", spy)
    result = raft.run_raft(cfg, run, ["er2", "orm"])
    assert seen == ["min", "last"]  # one iteration each (test.yaml)
    assert {n: v["aggregate"] for n, v in result["prms"].items()} == {"er2": "min", "orm": "last"}
    assert "| orm | last |" in (run.artifacts / "raft.md").read_text()
