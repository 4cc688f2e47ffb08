"""The demo section on the test config: runs in seconds, resumes, and reports real numbers."""

import json
from pathlib import Path

import pytest

from quartet.core.demo import DemoSection
from quartet.prm.demo import example_html, run_demo

ROOT = Path(__file__).resolve().parents[2]


def test_run_demo_on_test_config_then_resume(tmp_path, monkeypatch):
    section = run_demo(tmp_path, config=ROOT / "configs/prm/test.yaml")
    assert section.system == "prm" and section.run_dirs == [str(tmp_path / "run")]
    assert section.figures[0].path == str(tmp_path / "bon.png")
    bon = json.loads((tmp_path / "run/artifacts/bon.json").read_text())
    [bon_table, raft_table] = section.tables
    assert [r[0] for r in bon_table.rows] == list(bon["methods"])
    assert bon_table.rows[0][2] == round(bon["methods"][bon_table.rows[0][0]]["acc"][0], 3)
    # the aggregation is labelled: the ORM is read at its final tag, every PRM by min
    how = {r[0]: r[1] for r in bon_table.rows}
    assert how["orm"] == how["weighted_orm"] == "last" and how["er2"] == "min" and how["majority"] == "-"
    assert "`last` for orm" in bon_table.title and "orm (scored by its last step)" in section.this_run_found
    assert raft_table.columns[:4] == ["PRM", "aggregation", "iter 0", "iter 1"]
    assert [r[:2] for r in raft_table.rows] == [["er2", "min"], ["orm", "last"]]
    assert "held-out train problems" in section.this_run_found
    assert Path(section.figures[0].path).stat().st_size > 1000
    assert f"{bon['methods']['pass@n']['acc'][-1]:.3f}" in section.this_run_found
    [example] = section.examples
    assert example.html.count("<li>") == example.text.count("\n") - 1 >= 1  # one coloured item per step
    assert DemoSection.load(tmp_path / "section.json") == section

    import quartet.prm.pipeline as pipeline

    def boom(*args, **kwargs):
        raise AssertionError("a finished stage ran again")

    for name in ("stage_sft", "stage_sample", "stage_rollout", "stage_train", "stage_bon", "stage_raft"):
        monkeypatch.setattr(pipeline, name, boom)
    again = run_demo(tmp_path, config=ROOT / "configs/prm/test.yaml")  # every stage skipped (boom otherwise)
    assert again.tables == section.tables and again.seconds >= section.seconds


def test_example_html_escapes_model_text():
    out = example_html("<script>x</script>", ["2 < 3 & <i>", "The answer is 3"], [0.1, 0.95], False, "4")
    assert "<script>" not in out and "&lt;script&gt;" in out and "2 &lt; 3 &amp; &lt;i&gt;" in out
    assert out.count("<li>") == 2 and "P(+)=0.10" in out and "wrong" in out


@pytest.mark.slow
def test_tiny_demo_end_to_end(tmp_path):
    """The real embedded demo (configs/prm/tiny.yaml): minutes; `make test-slow`."""
    section = run_demo(tmp_path)
    bon = json.loads((tmp_path / "run/artifacts/bon.json").read_text())
    assert bon["ns"] == [1, 2, 4, 8, 16, 32, 64] and bon["n_problems"] == 100
    assert {"hard", "soft", "er0.5", "er2", "er8", "orm", "majority", "pass@n"} <= set(bon["methods"])
    pass_at = bon["methods"]["pass@n"]["acc"]
    assert pass_at[-1] > pass_at[0]  # sampling more candidates finds more right answers
    raft = json.loads((tmp_path / "run/artifacts/raft.json").read_text())
    assert set(raft["prms"]) == {"hard", "soft", "er0.5", "er2", "er8", "orm"}  # RAFT with each PRM and the ORM
    assert all(len(v["greedy_acc"]) == 3 for v in raft["prms"].values())
    assert section.examples and section.figures
