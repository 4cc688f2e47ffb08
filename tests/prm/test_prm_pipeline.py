import json
from pathlib import Path

import pytest

from quartet.cli import main
from quartet.core.config import load_config
from quartet.prm.config import PipelineConfig
from quartet.prm.pipeline import STAGES, run_pipeline
from quartet.prm.processbench import run_processbench

ROOT = Path(__file__).resolve().parents[2]
TEST_CFG = ROOT / "configs/prm/test.yaml"


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("prm") / "run"
    cfg = load_config(PipelineConfig, TEST_CFG, [f"run_dir={run_dir}"])
    return cfg, run_pipeline(cfg)


def test_pipeline_writes_every_artifact(finished_run):
    cfg, path = finished_run
    for stage in STAGES:
        assert (path / "stages" / f"{stage}.done").exists()
    bon = json.loads((path / "artifacts/bon.json").read_text())
    assert bon["ns"] == [1, 2, 4] and bon["seeds"] == [0, 1, 2] and bon["n_problems"] == cfg.data.n_test
    names = {"hard", "soft", "er2", "orm", "majority", "pass@n", "weighted_er2"}
    assert names <= set(bon["methods"])
    for name, m in bon["methods"].items():
        assert len(m["acc"]) == 3 and all(lo <= a <= hi for a, (lo, hi) in zip(m["acc"], m["ci95"], strict=True))
        # no method beats the oracle
        assert all(a <= o + 1e-9 for a, o in zip(m["acc"], bon["methods"]["pass@n"]["acc"], strict=True)), name
    assert (path / "artifacts/bon.md").read_text().count("\n| ") >= len(bon["methods"])
    assert (path / "artifacts/bon.png").stat().st_size > 1000
    raft = json.loads((path / "artifacts/raft.json").read_text())
    assert list(raft["prms"]) == ["er2", "orm"] and len(raft["prms"]["er2"]["greedy_acc"]) == 2
    assert raft["prms"]["orm"]["aggregate"] == "last" and bon["aggregates"]["orm"] == "last"
    # every PRM records the tag and reward tokens it was trained with
    assert json.loads((path / "prm/er2/model/prm.json").read_text()) == {"step_tag": "<step>", "good_token": "+",
                                                                          "bad_token": "-"}
    labels = [json.loads(line) for line in (path / "labels/soft.jsonl").read_text().splitlines()]
    orm = [json.loads(line) for line in (path / "labels/orm.jsonl").read_text().splitlines()]
    assert len(labels) == len(orm) > 0
    assert all(r["labels"][-1] == float(r["final_correct"]) for r in labels)  # last step from the final answer
    export = json.loads((path / "exports/er2.openrlhf.jsonl").read_text().splitlines()[0])
    assert export["text"].count(" ки") == len(export["value"])


def test_sft_stops_on_held_out_train_problems_never_on_test(tmp_path, monkeypatch):
    import quartet.prm.pipeline as pipeline
    from quartet.prm.policy import train_policy

    cfg = load_config(PipelineConfig, TEST_CFG, [f"run_dir={tmp_path}", "policy.sft_rounds=2", "policy.target_acc=1.0"])
    run_pipeline(cfg, until="world")
    train, test = (pipeline.read_problems(tmp_path / f"data/{s}.jsonl") for s in ("train", "test"))
    asked = []
    real = pipeline.greedy_accuracy

    def spy(lm, problems, max_new_tokens, prompt=None):
        asked.append([p.id for p in problems])
        return real(lm, problems, max_new_tokens, prompt)

    monkeypatch.setattr(pipeline, "greedy_accuracy", spy)
    from quartet.core.runs import RunDir

    history = train_policy(cfg, RunDir(tmp_path), train)
    held_out = [p.id for p in train[-cfg.policy.val_problems:]]
    assert asked == [held_out, held_out]  # one check per round, on the last val_problems train problems
    assert not set(held_out) & {p.id for p in test}
    assert [h["val_problems"] for h in history] == [8, 8] and all("val_acc" in h for h in history)


def test_rerun_skips_finished_stages(finished_run, monkeypatch):
    cfg, path = finished_run
    import quartet.prm.pipeline as pipeline

    def boom(*args, **kwargs):
        raise AssertionError("a finished stage ran again")

    for name in ("stage_sft", "stage_sample", "stage_rollout", "stage_train", "stage_bon", "stage_raft"):
        monkeypatch.setattr(pipeline, name, boom)
    assert run_pipeline(cfg) == path


def test_other_config_on_same_run_dir_is_refused(finished_run):
    cfg, path = finished_run
    other = load_config(PipelineConfig, TEST_CFG, [f"run_dir={path}", "rollout.k=3"])
    with pytest.raises(ValueError, match="different config"):
        run_pipeline(other)


def test_cli_verbs(finished_run, tmp_path, capsys):
    cfg, path = finished_run
    assert main(["prm", "bon", "--config", str(TEST_CFG), f"run_dir={path}"]) == 0
    assert "| pass@n |" in capsys.readouterr().out
    assert main(["prm", "world", "--config", str(TEST_CFG), f"run_dir={tmp_path / 'w'}"]) == 0
    assert (tmp_path / "w/data/test.jsonl").exists() and not (tmp_path / "w/policy").exists()
    assert main(["prm", "world", "--config", str(TEST_CFG), "rollout.nope=1"]) == 2
    with pytest.raises(SystemExit):
        main(["prm", "label", "--help"])
    assert "example:" in capsys.readouterr().out


def test_processbench_harness(finished_run, tmp_path):
    _, path = finished_run
    items = [{"id": "a", "problem": "Tom has 3 pens .", "steps": ["3 + 1 = 4", "The answer is 4"], "label": -1},
             {"id": "b", "problem": "Tom has 3 pens .", "steps": ["3 + 1 = 5", "The answer is 5"], "label": 0},
             {"id": "c", "problem": "Ann has 2 pens .", "steps": [], "label": -1}]
    (tmp_path / "gsm8k.json").write_text(json.dumps(items))
    out = tmp_path / "pb.json"
    assert main(["prm", "processbench", "--prm", str(path / "prm/er2/model"), "--data", str(tmp_path),
                 "--subsets", "gsm8k", "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    assert result["subsets"]["gsm8k"]["n"] == 2 and 0 <= result["average_f1"] <= 1
    from quartet.prm.pipeline import load_policy

    # threshold 0: no step is ever below it, so every solution is predicted fully correct
    r0 = run_processbench(load_policy(path / "prm/er2/model"), tmp_path, tmp_path / "x.json", ["gsm8k"], 0.0)
    assert r0["subsets"]["gsm8k"] == {"error_acc": 0.0, "correct_acc": 1.0, "f1": 0.0, "n": 2}


def test_processbench_item_longer_than_the_context_is_a_clear_error(finished_run, tmp_path, capsys):
    _, path = finished_run
    items = [{"id": "long", "problem": "Tom has 3 pens .", "steps": ["3 + 1 = 4"] * 60, "label": -1}]
    (tmp_path / "gsm8k.json").write_text(json.dumps(items))
    assert main(["prm", "processbench", "--prm", str(path / "prm/er2/model"), "--data", str(tmp_path),
                 "--subsets", "gsm8k", "--out", str(tmp_path / "pb.json")]) == 2
    err = capsys.readouterr().err
    assert "gsm8k.json: solution 0" in err and "more than the model's context of 160" in err
    assert not (tmp_path / "pb.json").exists()
