"""The pipeline, every CLI verb and the demo, end to end on configs/refusal/test.yaml (seconds).

``finished_run`` (tests/refusal/conftest.py) is one finished test.yaml run shared by the session.
"""

import json
from pathlib import Path

import pytest

from quartet.cli import main
from quartet.core.config import ConfigError, load_config
from quartet.core.records import BadRecordError
from quartet.refusal.certainty import CERTAINTY_QUESTION
from quartet.refusal.config import RefusalConfig
from quartet.refusal.pipeline import STAGES, run_pipeline, world_sets

ROOT = Path(__file__).resolve().parents[2]
TEST_CFG = ROOT / "configs/refusal/test.yaml"
TINY_CFG = ROOT / "configs/refusal/tiny.yaml"
METHODS = ["vanilla", "rtuning", "rtuning_r", "rtuning_u"]


def _jsonl(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_pipeline_writes_every_artifact(finished_run):
    cfg, path = finished_run
    for stage in STAGES[:4]:  # world, pretrain, probe, build; tune and eval mark each (method, seed)
        assert (path / "stages" / f"{stage}.done").exists()
    for m in METHODS:
        for s in cfg.tune.seeds:
            assert (path / "stages" / f"tune_{m}_s{s}.done").exists()
            assert (path / "tune" / m / f"s{s}" / "model" / "model.safetensors").is_file()
    results = json.loads((path / "artifacts/results.json").read_text())
    assert results["roles"] == {"test_id": "id", "test_ood": "ood", "unanswerable": "unanswerable"}
    assert set(results["methods"]) == {*METHODS, "vanilla_entropy"}
    n_id = len(_jsonl(path / "data/test_id.jsonl"))
    for m in METHODS:
        agg = results["methods"][m]["test_id"]
        assert len(agg["per_seed"]) == len(cfg.tune.seeds) and all(s["n"] == n_id for s in agg["per_seed"])
        assert 0.0 <= agg["mean"]["accuracy"] <= 1.0 and 0.0 <= agg["mean"]["answer_rate"] <= 1.0
        assert "refusal_rate" in results["methods"][m]["unanswerable"]["mean"]
    gap = results["probe"]["gap_recovery"]
    assert results["probe"]["d1"] + results["probe"]["d0"] == results["probe"]["n"] == gap["n"]
    table = (path / "artifacts/results.md").read_text()
    assert "### test_id (id)" in table and "| R-Tuning-U |" in table and "refusal rate" in table
    assert (path / "artifacts/risk_coverage.png").stat().st_size > 1000
    assert isinstance(json.loads((path / "artifacts/examples.json").read_text()), list)


def test_built_data_follow_the_probe(finished_run):
    cfg, path = finished_run
    probe = {r["id"]: r["correct"] for r in _jsonl(path / "probe/probe.jsonl")}
    train = _jsonl(path / "data/train.jsonl")
    assert set(probe) == {it["id"] for it in train}
    rt = {r["id"]: r for r in _jsonl(path / "build/rtuning.jsonl")}
    rr = {r["id"]: r for r in _jsonl(path / "build/rtuning_r.jsonl")}
    for it in train:
        sure = probe[it["id"]]
        assert rt[it["id"]]["response"].endswith(f"{CERTAINTY_QUESTION} I am {'sure' if sure else 'unsure'}.")
        assert it["answers"][0] in rt[it["id"]]["response"]  # the gold answer stays in both D1 and D0
        said = rr[it["id"]]["response"].split(f" {CERTAINTY_QUESTION}")[0].strip()
        assert said == f"{it['answers'][0]}." if sure else said in cfg.tune.refusals
    labels = [r["label"] for r in _jsonl(path / "build/rtuning_u.jsonl")]
    assert labels.count("sure") == len(train) // 2  # the lower half of the entropy ranking
    lmflow = json.loads((path / "build/vanilla.lmflow.json").read_text())
    assert lmflow["type"] == "text_only" and len(lmflow["instances"]) == len(train)
    samples = _jsonl(path / "probe/samples.jsonl")
    assert all(len(r["samples"]) == 4 for r in samples)


def test_rerun_skips_finished_work(finished_run, monkeypatch):
    cfg, path = finished_run
    import quartet.refusal.pipeline as pipeline

    def boom(*args, **kwargs):
        raise AssertionError("finished work ran again")

    for name in ("tune_one", "eval_one"):
        monkeypatch.setattr(pipeline, name, boom)
    for stage in ("world", "pretrain", "probe", "build"):
        monkeypatch.setitem(pipeline.STAGE_FNS, stage, boom)
    assert run_pipeline(cfg) == path


def test_other_config_on_same_run_dir_is_refused(finished_run):
    cfg, path = finished_run
    other = load_config(RefusalConfig, TEST_CFG, [f"run_dir={path}", "tune.train.lr=0.5"])
    with pytest.raises(ConfigError, match="tune.train.lr"):
        run_pipeline(other)


def test_malformed_training_file_names_file_and_field(tmp_path):
    bad = tmp_path / "train.json"
    bad.write_text(json.dumps([["Q?", "a", "P1"], ["Q2?", None, "P1"]]))
    cfg = load_config(RefusalConfig, TEST_CFG, [f"run_dir={tmp_path / 'run'}", "data.source=file",
                                                f"data.train.path={bad}", "base.model=unused"])
    with pytest.raises(BadRecordError) as err:
        run_pipeline(cfg, until="world")
    assert err.value.path == str(bad) and err.value.field == "[1].answer"
    code = main(["refusal", "world", "--config", str(TEST_CFG), f"run_dir={tmp_path / 'run2'}", "data.source=file",
                 f"data.train.path={bad}", "base.model=unused"])
    assert code == 2


def test_missing_eval_set_is_skipped_or_an_error(tmp_path):
    missing = ["data.eval_sets=[{name: x, format: pararel, path: /nonexistent/p.json, prompt_path: '', "
               "role: ood, limit: 0}]"]
    cfg = load_config(RefusalConfig, TEST_CFG, [f"run_dir={tmp_path / 'a'}", *missing])
    path = run_pipeline(cfg, until="world")
    assert json.loads((path / "data/sets.json").read_text()) == {
        "test_id": "id", "test_ood": "ood", "unanswerable": "unanswerable"}
    cfg = load_config(RefusalConfig, TEST_CFG, [f"run_dir={tmp_path / 'b'}", *missing, "data.skip_missing=false"])
    with pytest.raises(FileNotFoundError, match="nonexistent"):
        run_pipeline(cfg, until="world")


@pytest.mark.parametrize("verb", ["world", "pretrain", "probe", "build", "tune", "eval", "pipeline"])
def test_every_verb_has_help_with_an_example(verb, capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["refusal", verb, "--help"])
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    assert f"example:\n  quartet refusal {verb} --config configs/refusal/tiny.yaml" in out


def test_cli_verbs_end_to_end(tmp_path, capsys):
    run_dir = tmp_path / "cli"
    args = ["--config", str(TEST_CFG), f"run_dir={run_dir}"]
    expect = {"world": "data/sets.json", "pretrain": "base/model/model.json", "probe": "probe/recovery.json",
              "build": "build/rtuning_r.lmflow.json", "tune": "tune/rtuning_u/s1/model/model.json",
              "eval": "artifacts/results.md", "pipeline": "artifacts/risk_coverage.png"}
    for verb, produced in expect.items():
        assert main(["refusal", verb, *args]) == 0
        out = capsys.readouterr().out
        assert f"{verb}: done; run directory {run_dir}" in out
        assert (run_dir / produced).exists(), verb
        if verb == "probe":
            assert '"gap_recovery"' in out
        if verb in ("eval", "pipeline"):
            assert "| R-Tuning |" in out
    # --model: an existing base model is used as is; nothing is pretrained
    other = tmp_path / "given"
    assert main(["refusal", "probe", "--config", str(TEST_CFG), f"run_dir={other}",
                 "--model", str(run_dir / "base/model")]) == 0
    assert not (other / "base").exists() and (other / "probe/probe.jsonl").is_file()


def test_demo_section(tmp_path, monkeypatch):
    from quartet.refusal.demo import run_demo

    section = run_demo(tmp_path / "demo", config=TEST_CFG)
    assert section.system == "refusal" and section.run_dirs == [str(tmp_path / "demo" / "run")]
    (table,) = section.tables
    assert [row[0] for row in table.rows] == ["Vanilla", "R-Tuning", "R-Tuning-R", "R-Tuning-U",
                                              "Vanilla + entropy"]
    assert "AP test_id (id)" in table.columns and "refusal rate unanswerable" in table.columns
    assert Path(section.figures[0].path).stat().st_size > 1000
    assert section.examples
    assert all(("answered" in e.title or "declined" in e.title) and "P(sure) = " in e.text for e in section.examples)
    assert "test_id" in section.this_run_found and "precision" in section.this_run_found
    assert (tmp_path / "demo" / "section.json").is_file()
    import quartet.refusal.pipeline as pipeline

    monkeypatch.setattr(pipeline, "tune_one", lambda *a: (_ for _ in ()).throw(AssertionError("retrained")))
    again = run_demo(tmp_path / "demo", config=TEST_CFG)
    assert again.tables == section.tables


def test_small_config_is_a_larger_tiny():
    """configs/refusal/small.yaml loads (every key and type checked) and is a bigger, longer tiny.yaml."""
    tiny, small = (load_config(RefusalConfig, ROOT / f"configs/refusal/{n}.yaml") for n in ("tiny", "small"))
    (train_tiny, sets_tiny), (train_small, sets_small) = world_sets(tiny), world_sets(small)
    assert len(train_small) > 3 * len(train_tiny)
    assert all(len(sets_small[n][1]) > 2 * len(sets_tiny[n][1]) for n in sets_tiny)
    assert small.base.dim * small.base.n_layers > tiny.base.dim * tiny.base.n_layers
    assert small.base.train.steps > tiny.base.train.steps and small.tune.train.steps > tiny.tune.train.steps
    assert small.tune.seeds == (0, 1, 2) and small.tune.methods == tiny.tune.methods


@pytest.mark.slow
def test_tiny_config_end_to_end(tmp_path):
    cfg = load_config(RefusalConfig, TINY_CFG, [f"run_dir={tmp_path / 'tiny'}"])
    path = run_pipeline(cfg)
    results = json.loads((path / "artifacts/results.json").read_text())
    assert results["probe"]["gap_recovery"]["recall"] > 0.8  # the base model learned the stated facts
    for m in METHODS:
        assert results["methods"][m]["test_id"]["mean"]["ap"] is not None


def test_multiple_choice_world(tmp_path):
    cfg = load_config(RefusalConfig, TEST_CFG, [f"run_dir={tmp_path / 'mc'}", "data.world.multiple_choice=true",
                                                "tune.seeds=[0]", "tune.methods=[vanilla, rtuning]",
                                                "eval.entropy_baseline=false"])
    path = run_pipeline(cfg)
    train = _jsonl(path / "data/train.jsonl")
    assert all(len(it["choices"]) == 4 and it["gold"] in "ABCD" for it in train)
    assert all(r["prediction"] in "ABCD" and len(r["prediction"]) == 1 for r in _jsonl(path / "probe/probe.jsonl"))
    rt = _jsonl(path / "build/rtuning.jsonl")
    assert all(r["response"].startswith(f" {it['gold']}.") for r, it in zip(rt, train, strict=True))
    evals = _jsonl(path / "eval/rtuning/s0/test_id.jsonl")
    assert all(r["prediction"] in "ABCD" and 0.25 <= r["answer_conf"] <= 1.0 for r in evals)
    unans = _jsonl(path / "eval/rtuning/s0/unanswerable.jsonl")
    assert unans and not any(r["correct"] for r in unans)


def test_hugging_face_base_model_runs_every_stage(finished_run, tmp_path):
    """Real-scale path: a transformers LlamaForCausalLM from a local folder is probed, tuned and evaluated."""
    from quartet.lm.builtin import BuiltinLM
    from quartet.lm.export import export_to_hf

    _, path = finished_run
    hf_dir = export_to_hf(BuiltinLM.load(path / "base/model"), tmp_path / "hf")
    assert (Path(hf_dir) / "config.json").is_file()
    cfg = load_config(RefusalConfig, TEST_CFG, [f"run_dir={tmp_path / 'run'}", f"base.model={hf_dir}",
                                                "tune.seeds=[0]", "tune.methods=[vanilla, rtuning]"])
    out = run_pipeline(cfg)
    assert not (out / "base").exists()
    assert (out / "tune/rtuning/s0/model/config.json").is_file()  # saved as a transformers model again
    # the exported twin answers the probe exactly like the built-in base model
    ours, theirs = _jsonl(path / "probe/probe.jsonl"), _jsonl(out / "probe/probe.jsonl")
    assert [(r["prediction"], r["correct"]) for r in theirs] == [(r["prediction"], r["correct"]) for r in ours]
    assert [r["confidence"] for r in theirs] == pytest.approx([r["confidence"] for r in ours], abs=1e-4)
    results = json.loads((out / "artifacts/results.json").read_text())
    assert results["methods"]["rtuning"]["test_id"]["per_seed"][0]["n"] == len(_jsonl(out / "data/test_id.jsonl"))
