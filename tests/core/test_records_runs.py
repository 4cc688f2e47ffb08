"""JSONL records with file/line/field errors, append-only results that survive a torn write, run dirs."""

from __future__ import annotations

import json
from dataclasses import dataclass

import pytest

from quartet.core.config import ConfigError
from quartet.core.records import AppendOnlyJsonl, BadRecordError, iter_jsonl, require
from quartet.core.runs import open_run


def test_bad_json_line_names_file_and_line(tmp_path):
    path = tmp_path / "data.jsonl"
    path.write_text('{"q": "a"}\n\n{"q": oops}\n')
    with pytest.raises(BadRecordError) as err:
        list(iter_jsonl(path))
    assert "data.jsonl" in str(err.value) and "line 3" in str(err.value)


def test_require_names_the_field(tmp_path):
    path = tmp_path / "d.jsonl"
    with pytest.raises(BadRecordError, match="answer"):
        require({"question": "x"}, "answer", str, path, 4)
    assert require({"answer": "7"}, "answer", str, path, 4) == "7"


def test_append_only_resumes_and_repairs_a_torn_tail(tmp_path):
    path = tmp_path / "out.jsonl"
    log = AppendOnlyJsonl(path, key=lambda r: r["id"])
    log.append({"id": 1, "v": 0.5})
    log.append({"id": 2, "v": 0.25})
    with path.open("a") as handle:  # a job killed mid-write leaves half a line
        handle.write('{"id": 3, "v"')
    reopened = AppendOnlyJsonl(path, key=lambda r: r["id"])
    assert reopened.done() == {1, 2}
    reopened.append({"id": 3, "v": 1.0})
    assert [json.loads(line)["id"] for line in path.read_text().splitlines()] == [1, 2, 3]


@dataclass(frozen=True)
class Cfg:
    steps: int = 3


def test_run_dir_writes_config_first_and_refuses_another_config(tmp_path):
    run = open_run(tmp_path / "runs" / "x" / "a", Cfg())
    assert run.config_path.read_text().strip() == "steps: 3"
    assert "python" in json.loads((run.path / "env.json").read_text())
    assert open_run(run.path, Cfg()).path == run.path  # same config: resume
    with pytest.raises(ConfigError, match="steps"):
        open_run(run.path, Cfg(steps=4))
    run.mark_stage_done("probe", {"n": 2})
    assert run.stage_done("probe") and not run.stage_done("tune")
