"""Loaders for GSM8K, MATH500 and ProcessBench files, and step splitting.

Every loader validates: a bad record raises ``BadRecordError`` naming the file, line
(or item index for the JSON-array ProcessBench files) and field. A solution with no
steps is reported in the log and skipped, never silently kept.
"""

from __future__ import annotations

import json
import logging
import os
import re
from dataclasses import dataclass
from pathlib import Path

from quartet.core.records import BadRecordError, iter_jsonl, require
from quartet.prm.answers import gsm8k_gold

log = logging.getLogger(__name__)

_CALC = re.compile(r"<<[^>]*>>")


@dataclass(frozen=True)
class MathProblem:
    """A problem with its gold answer; ``steps`` are the gold solution's steps when known."""

    id: str
    question: str
    gold: str
    steps: tuple[str, ...] = ()
    answer_format: str = "answer_is"  # how answers to it are written (see answers.FORMATS)


@dataclass(frozen=True)
class ProcessBenchItem:
    id: str
    problem: str
    steps: tuple[str, ...]
    label: int  # index of the earliest wrong step, -1 when every step is right
    final_answer_correct: bool | None


def split_steps(text: str) -> list[str]:
    """Non-empty, stripped lines of ``text``: the step convention of every quartet policy.

    >>> split_steps("1 + 2 = 3\\n\\n  The answer is 3 \\n")
    ['1 + 2 = 3', 'The answer is 3']
    """
    return [line.strip() for line in text.split("\n") if line.strip()]


def load_gsm8k(path: Path | str) -> list[MathProblem]:
    """GSM8K ``{"question", "answer"}`` records; the gold is after ``####``, steps are the lines before."""
    out = []
    for line, record in iter_jsonl(path):
        question = require(record, "question", str, path, line)
        answer = require(record, "answer", str, path, line)
        gold = gsm8k_gold(answer)
        if gold is None:
            raise BadRecordError(path, line, "answer", "no '#### <number>' final answer")
        steps = tuple(_CALC.sub("", s) for s in split_steps(answer.split("####")[0]))
        if not steps:
            log.warning("%s, line %d: gold solution has no steps; skipped", path, line)
            continue
        # quartet prompts policies to end with "The answer is N", so that is how their answers are read,
        # and the gold solution a policy is fine-tuned on ends that way too.
        out.append(MathProblem(f"gsm8k-{line}", question, gold, (*steps, f"The answer is {gold}"), "answer_is"))
    return out


def load_math500(path: Path | str) -> list[MathProblem]:
    """MATH500 ``{"problem", "solution", "answer", "unique_id", ...}`` records (answers compared in LaTeX)."""
    out = []
    for line, record in iter_jsonl(path):
        problem = require(record, "problem", str, path, line)
        gold = require(record, "answer", str, path, line)
        solution = require(record, "solution", str, path, line)
        pid = record.get("unique_id", f"math500-{line}")
        if not isinstance(pid, str):
            raise BadRecordError(path, line, "unique_id", f"expected str, got {type(pid).__name__}")
        if not gold.strip():
            raise BadRecordError(path, line, "answer", "empty")
        # Paragraphs are MATH's steps; a step is one line for quartet policies (``split_steps``).
        steps = tuple(s.strip().replace("\n", " ") for s in solution.split("\n\n") if s.strip())
        if not steps:
            log.warning("%s, line %d: gold solution has no steps; skipped", path, line)
            continue
        out.append(MathProblem(pid, problem, gold, steps, "boxed"))
    return out


def load_processbench(path: Path | str) -> list[ProcessBenchItem]:
    """A ProcessBench subset file: one JSON array of ``{"id", "problem", "steps", "label", ...}``."""
    path = Path(path)
    if not path.is_file():
        raise BadRecordError(path, None, None, "file does not exist")
    try:
        items = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise BadRecordError(path, err.lineno, None, f"not valid JSON: {err.msg}") from None
    except UnicodeDecodeError as err:
        raise BadRecordError(path, None, None, f"not UTF-8 text ({err.reason})") from None
    if not isinstance(items, list):
        raise BadRecordError(path, None, None, "expected a JSON array of items")
    out, skipped = [], 0
    for i, item in enumerate(items):
        where = f"item {i}"
        if not isinstance(item, dict):
            raise BadRecordError(path, None, where, "expected a JSON object")
        for name, kind in (("id", str), ("problem", str), ("steps", list), ("label", int)):
            value = item.get(name)
            if value is None or not isinstance(value, kind) or isinstance(value, bool):
                raise BadRecordError(path, None, f"{where}.{name}",
                                     "missing" if value is None else f"expected {kind.__name__}")
        steps = item["steps"]
        if not all(isinstance(s, str) for s in steps):
            raise BadRecordError(path, None, f"{where}.steps", "every step must be a string")
        steps = [s for s in steps if s.strip()]
        if not steps:
            log.warning("%s, %s (%s): solution has no steps; skipped", path, where, item["id"])
            skipped += 1
            continue
        if not -1 <= item["label"] < len(steps):
            raise BadRecordError(path, None, f"{where}.label", f"{item['label']} is outside -1..{len(steps) - 1}")
        final = item.get("final_answer_correct")
        out.append(ProcessBenchItem(item["id"], item["problem"], tuple(steps), item["label"],
                                    final if isinstance(final, bool) else None))
    if skipped:
        log.warning("%s: skipped %d solutions with no steps", path, skipped)
    return out


FILE_SOURCES = ("gsm8k", "math500")


def shared_math_dir() -> Path:
    """``$QUARTET_DATA/math``, else ``../shared/data/math`` (where the project keeps GSM8K, MATH500, ProcessBench)."""
    root = os.environ.get("QUARTET_DATA")
    return Path(root) / "math" if root else Path("..") / "shared" / "data" / "math"


def problems_from_files(source: str, path: Path | str | None, n_train: int, n_test: int
                        ) -> tuple[list[MathProblem], list[MathProblem]]:
    """Train and test problems from the public files.

    * ``gsm8k``: ``path`` is the folder with ``train.jsonl`` and ``test.jsonl`` (default
      ``shared_math_dir()/gsm8k``); the first ``n_train`` / ``n_test`` of each.
    * ``math500``: ``path`` is the ``test.jsonl`` file (default ``shared_math_dir()/math500/test.jsonl``);
      MATH500 is a test set only, so its first ``n_test`` problems are the test split and the
      next ``n_train`` the train split (disjoint).
    """
    if source == "gsm8k":
        folder = Path(path) if path else shared_math_dir() / "gsm8k"
        return load_gsm8k(folder / "train.jsonl")[:n_train], load_gsm8k(folder / "test.jsonl")[:n_test]
    if source == "math500":
        problems = load_math500(Path(path) if path else shared_math_dir() / "math500" / "test.jsonl")
        return problems[n_test: n_test + n_train], problems[:n_test]
    raise ValueError(f"data.source must be 'world' or one of {', '.join(FILE_SOURCES)}, got {source!r}")
