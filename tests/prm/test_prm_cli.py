"""Every ``quartet prm`` verb, end to end on configs/prm/test.yaml, one after the other."""

import json
from pathlib import Path

import pytest

from quartet.cli import main
from quartet.prm.cli import STAGE_HELP

ROOT = Path(__file__).resolve().parents[2]
TEST_CFG = str(ROOT / "configs/prm/test.yaml")

# verb -> files it must leave behind (relative to the run directory)
PRODUCES = {
    "world": ["data/train.jsonl", "data/test.jsonl"],
    "sft": ["policy/model.safetensors", "artifacts/sft.json"],
    "sample": ["solutions_train.jsonl", "candidates_test.jsonl"],
    "rollout": ["rollouts.jsonl"],
    "label": ["labels/hard.jsonl", "labels/soft.jsonl", "labels/er2.jsonl", "labels/orm.jsonl",
              "exports/er2.openrlhf.jsonl", "exports/er2.trl.jsonl"],
    "train": ["prm/hard/model/model.safetensors", "prm/orm/model/model.safetensors", "scores/er2.json"],
    "bon": ["artifacts/bon.json", "artifacts/bon.md", "artifacts/bon.png"],
    "raft": ["artifacts/raft.json", "artifacts/raft.md"],
}


def test_every_verb_has_help_with_an_example(capsys):
    for verb in [*STAGE_HELP, "processbench"]:
        with pytest.raises(SystemExit) as done:
            main(["prm", verb, "--help"])
        assert done.value.code == 0
        out = capsys.readouterr().out
        assert "example:" in out and f"quartet prm {verb}" in out, verb


def test_stage_verbs_run_one_after_another(tmp_path, capsys):
    run = tmp_path / "run"
    for i, verb in enumerate(PRODUCES):
        assert main(["prm", verb, "--config", TEST_CFG, f"run_dir={run}"]) == 0, verb
        assert f"{verb}: done" in capsys.readouterr().out
        for path in PRODUCES[verb]:
            assert (run / path).is_file(), (verb, path)
        # a verb runs its own stage and the ones before it, never a later one
        for later in list(PRODUCES)[i + 1:]:
            assert not (run / "stages" / f"{later}.done").exists(), (verb, later)
    rollouts = [json.loads(line) for line in (run / "rollouts.jsonl").read_text().splitlines()]
    assert rollouts and all(len(r["outcomes"]) == 2 for r in rollouts)  # rollout.k = 2
    # TRL's PRMTrainer casts each label to int: the export holds booleans (label >= 0.5), the
    # OpenRLHF export the ER values themselves
    labels = [json.loads(line)["labels"] for line in (run / "labels" / "er2.jsonl").read_text().splitlines()]
    trl = [json.loads(line)["labels"] for line in (run / "exports" / "er2.trl.jsonl").read_text().splitlines()]
    openrlhf = [json.loads(line)["value"] for line in (run / "exports" / "er2.openrlhf.jsonl").read_text().splitlines()]
    assert trl == [[x >= 0.5 for x in row] for row in labels] and openrlhf == labels
    assert all(isinstance(x, bool) for row in trl for x in row)
    # `pipeline` on the finished directory recomputes nothing and prints both tables
    before = (run / "rollouts.jsonl").stat().st_mtime_ns
    assert main(["prm", "pipeline", "--config", TEST_CFG, f"run_dir={run}"]) == 0
    out = capsys.readouterr().out
    assert "| pass@n |" in out and "| er2 |" in out
    assert (run / "rollouts.jsonl").stat().st_mtime_ns == before


def test_pipeline_with_a_hugging_face_policy(tmp_path, capsys):
    """``--model DIR`` takes a transformers model folder: here the built-in model exported as a
    ``LlamaForCausalLM`` (random weights: the numbers mean nothing, every stage must run)."""
    from quartet.core.config import load_config
    from quartet.lm.builtin import BuiltinLM
    from quartet.lm.export import export_to_hf
    from quartet.lm.model import ModelConfig
    from quartet.prm.config import PipelineConfig
    from quartet.prm.pipeline import make_problems
    from quartet.prm.policy import build_tokenizer

    cfg = load_config(PipelineConfig, TEST_CFG)
    tok = build_tokenizer(make_problems(cfg)[0])
    lm = BuiltinLM.create(ModelConfig(vocab_size=tok.vocab_size, dim=32, n_layers=2, n_heads=2, max_seq_len=160), tok)
    hf_dir = export_to_hf(lm, tmp_path / "hf")
    run = tmp_path / "run"
    assert main(["prm", "pipeline", "--config", TEST_CFG, "--model", str(hf_dir), f"run_dir={run}"]) == 0
    assert "pipeline: done" in capsys.readouterr().out
    for sub in ("policy", "prm/er2/model", "prm/orm/model"):
        assert (run / sub / "config.json").is_file() and not (run / sub / "model.json").exists(), sub
    assert json.loads((run / "artifacts/bon.json").read_text())["ns"] == [1, 2, 4]
    assert len(json.loads((run / "artifacts/raft.json").read_text())["prms"]["er2"]["greedy_acc"]) == 2


def test_value_head_variant_through_the_pipeline(tmp_path, capsys):
    run = tmp_path / "run"
    assert main(["prm", "pipeline", "--config", TEST_CFG, f"run_dir={run}", "prm.value_head=true",
                 "prm.methods=[soft]", "prm.orm=false", "raft.prms=[soft]"]) == 0
    assert (run / "prm/soft/model/value_head.safetensors").is_file()
    scores = json.loads((run / "scores/soft.json").read_text())
    values = [s for steps in scores.values() for s in steps]
    assert values and all(0 < s < 1 for s in values)
    out = tmp_path / "pb.json"
    (tmp_path / "pb").mkdir()
    (tmp_path / "pb/gsm8k.json").write_text(json.dumps(
        [{"id": "a", "problem": "Tom has 3 pens .", "steps": ["3 + 1 = 4", "The answer is 4"], "label": -1}]))
    assert main(["prm", "processbench", "--prm", str(run / "prm/soft/model"), "--data", str(tmp_path / "pb"),
                 "--subsets", "gsm8k", "--out", str(out)]) == 0
    assert json.loads(out.read_text())["subsets"]["gsm8k"]["n"] == 1


def test_shipped_configs_load():
    from quartet.core.config import load_config
    from quartet.prm.config import PipelineConfig
    from quartet.prm.pipeline import label_names

    for name in ("test", "tiny", "small"):
        cfg = load_config(PipelineConfig, ROOT / f"configs/prm/{name}.yaml")
        assert cfg.name == f"prm-{name}"
        names = [n for n, _, _ in label_names(cfg)]
        assert set(cfg.raft.prms) <= set(names) | {"orm"}, name
