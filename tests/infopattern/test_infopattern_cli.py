"""Every ``quartet infopattern`` verb end to end on configs/infopattern/test.yaml (built-in messages, seconds)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from ip_helpers import recording_generate

from quartet.cli import build_parser, main

CONFIG = str(Path(__file__).resolve().parents[2] / "configs" / "infopattern" / "test.yaml")


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    return tmp_path_factory.mktemp("runs")


def test_every_verb_has_help_with_an_example(capsys):
    parser = build_parser("infopattern")
    for argv in (["stance", "train"], ["stance", "eval"], ["stance", "predict"], ["switch", "train"], ["redteam"],
                 ["pipeline"]):
        with pytest.raises(SystemExit):
            parser.parse_args(["infopattern", *argv, "--help"])
        out = capsys.readouterr().out
        assert "example:" in out and "quartet infopattern " + " ".join(argv) in out
    with pytest.raises(SystemExit):
        parser.parse_args(["infopattern", "graph", "--help"])
    assert "graph build" in capsys.readouterr().out


def test_switch_stance_redteam_verbs(runs, capsys, tmp_path):
    base = ["infopattern"]
    assert main([*base, "switch", "train", "--config", CONFIG, "--runs", str(runs)]) == 0
    run = runs / "infopattern" / "test"
    assert (run / "builtin" / "switch" / "switch.safetensors").is_file()
    assert (run / "builtin" / "lm" / "model" / "model.safetensors").is_file()
    assert main([*base, "stance", "train", "--config", CONFIG, "--runs", str(runs)]) == 0
    assert main([*base, "stance", "eval", "--config", CONFIG, "--runs", str(runs)]) == 0
    out = capsys.readouterr().out
    assert "| builtin | tfidf |" in out and "| builtin | switch |" in out
    stance = json.loads((run / "artifacts" / "stance.json").read_text())
    assert set(stance["builtin"]) == {"tfidf", "encoder", "switch"}
    assert stance["builtin"]["tfidf"]["n"] == 60 and stance["builtin"]["encoder"]["macro_f1"] > 0.7

    det = str(run / "builtin" / "detectors" / "switch")
    assert main([*base, "stance", "predict", "--detector", det, "--text", "the zoo hurts children",
                 "--target", "the city zoo", "--explain"]) == 0
    record = json.loads(capsys.readouterr().out.strip())
    assert record["stance"] in ("pro", "con") and record["bin"] and record["evidence"]
    inputs = tmp_path / "in.jsonl"
    inputs.write_text(json.dumps({"id": "a", "text": "the dam helps families", "target": "the river dam"}) + "\n"
                      + json.dumps({"id": "b", "body": "no text field"}) + "\n")
    tfidf = str(run / "builtin" / "detectors" / "tfidf")
    assert main([*base, "stance", "predict", "--detector", tfidf, "--input", str(inputs)]) == 2
    assert "line 2" in capsys.readouterr().err
    assert main([*base, "stance", "predict", "--detector", tfidf, "--input", str(inputs), "--skip-bad",
                 "--target-field", "target"]) == 0
    assert [json.loads(line)["id"] for line in capsys.readouterr().out.splitlines()] == ["a"]
    assert main([*base, "stance", "predict", "--detector", str(tmp_path), "--text", "x"]) == 2
    assert "not a saved stance detector" in capsys.readouterr().err

    assert main([*base, "redteam", "--lm", str(run / "builtin" / "lm" / "model"), "--switch",
                 str(run / "builtin" / "switch"), "--text", "the zoo helps families", "--target", "the city zoo",
                 "--side", "pro", "--k", "2", "--max-new-tokens", "8"]) == 0
    lines = [x for x in capsys.readouterr().out.splitlines() if x.startswith("(s=")]
    assert len(lines) == 2 and all(x.startswith("(s=-1") for x in lines)
    assert main([*base, "redteam", "--config", CONFIG, "--runs", str(runs)]) == 0
    red = json.loads((run / "artifacts" / "redteam.json").read_text())
    assert [r["abs_s"] for r in red["rows"]] == [0.0, 1.0] and red["rows"][0]["n_responses"] == 12
    assert set(red["rows"][0]["flip_rate_by"]) == {"tfidf"} and red["flip_detector"] == "encoder"
    assert set(red["flip_detector_macro_f1"]) == {"encoder", "tfidf"}
    assert main([*base, "redteam", "--text", "  ", "--lm", "x", "--switch", "y"]) == 2


def test_pipeline_verb_resumes_and_rejects_a_changed_config(runs, capsys):
    assert main(["infopattern", "pipeline", "--config", CONFIG, "--runs", str(runs)]) == 0
    assert "flip rate" in capsys.readouterr().out
    assert main(["infopattern", "pipeline", "--config", CONFIG, "--runs", str(runs), "switch.rank=2"]) == 2
    assert "different config" in capsys.readouterr().err


def test_redteam_from_a_topic_alone(trained_switch, monkeypatch, capsys):
    """``--target`` without ``--text``: new messages on the topic, after the topic prompt the LM and the switch
    were trained with, written as the community ``--opposite`` names; neither flag is a clear error."""
    import quartet.lm.backends

    root, lm, _ = trained_switch
    prompts: list[str] = []
    monkeypatch.setattr(lm, "generate", recording_generate(lm, prompts))
    monkeypatch.setattr(quartet.lm.backends, "load_lm", lambda path, **kw: lm)
    base = ["infopattern", "redteam", "--lm", str(root / "model"), "--switch", str(root / "switch"), "--k", "2",
            "--max-new-tokens", "6"]
    for side, sign in (("con", "-"), ("pro", "+")):
        assert main([*base, "--target", "cats", "--opposite", side]) == 0
        lines = [x for x in capsys.readouterr().out.splitlines() if x.startswith("(s=")]
        assert len(lines) == 2 and all(x.startswith(f"(s={sign}1,") for x in lines)
    assert prompts == ["topic : cats . message :"] * 2
    assert main([*base, "--target", "cats", "--s", "-2"]) == 0
    assert capsys.readouterr().out.startswith("(s=-2,")

    assert main([*base, "--target", "cats"]) == 2
    assert "a topic alone has no side to oppose" in capsys.readouterr().err
    assert main([*base, "--target", "cats", "--opposite", "comment"]) == 2
    assert "not a favor- or against-like label" in capsys.readouterr().err
    assert main([*base, "--target", " ", "--opposite", "con"]) == 2
    assert "--target is empty" in capsys.readouterr().err
    assert main(base) == 2
    assert "give --text MESSAGE and/or --target TOPIC" in capsys.readouterr().err
