"""Question items and loaders: the fact world and the real sets in ``shared/data/refusal``.

Every loader returns ``QAItem``s with the full prompt already built, so probing, tuning and
evaluation never care where an item came from. A malformed record raises ``BadRecordError``
naming the file, the line (JSONL, CSV) or the item index (JSON arrays: ``[12].answer``) and
the field. Real sets are read by path and usable with any causal LM.
"""

from __future__ import annotations

import ast
import csv
import json
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from quartet.core.records import BadRecordError, iter_jsonl, require
from quartet.worlds.facts import OPTION_LETTERS, QA_PROMPT, mc_prompt


@dataclass(frozen=True)
class QAItem:
    id: str  # unique within its set
    prompt: str  # full prompt ending in "Answer:"; the model continues it
    question: str
    answers: tuple[str, ...] = ()  # gold answers (any one counts); () when unanswerable
    answerable: bool = True
    choices: tuple[str, ...] = ()  # multiple choice: option texts (letters A, B, ... in order)
    gold: str | None = None  # multiple choice: gold letter
    group: str = ""  # relation, subject or source, for per-group reports
    stated: bool | None = None  # fact world: known to the base model by construction

    @property
    def answer(self) -> str:
        """The first gold answer (the tuning target); "" when unanswerable."""
        return self.answers[0] if self.answers else ""

    @property
    def target(self) -> str:
        """What tuning teaches the model to say: the gold letter for multiple choice, else the answer."""
        return self.gold if self.choices and self.gold else self.answer

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def item_from_dict(d: dict[str, Any], path: Path | str = "<items>", line: int = 0) -> QAItem:
    """Inverse of ``QAItem.to_dict``, validating every field."""
    return QAItem(
        id=require(d, "id", str, path, line), prompt=require(d, "prompt", str, path, line),
        question=require(d, "question", str, path, line),
        answers=tuple(require(d, "answers", list, path, line)),
        answerable=require(d, "answerable", bool, path, line),
        choices=tuple(require(d, "choices", list, path, line)),
        gold=d.get("gold"), group=d.get("group", ""), stated=d.get("stated"),
    )


def world_items(records: Sequence[dict[str, Any]], multiple_choice: bool = False) -> list[QAItem]:
    """Records of ``quartet.worlds.facts`` (``qa_items``, ``unanswerable_items``, ``multiple_choice``)."""
    out = []
    for r in records:
        answers = () if r["answer"] is None else (r["answer"],)
        if multiple_choice:
            out.append(QAItem(r["id"], mc_prompt(r["question"], r["choices"]), r["question"], answers,
                              r["answerable"], tuple(r["choices"]), r["gold"], r["relation"], r["stated"]))
        else:
            out.append(QAItem(r["id"], QA_PROMPT.format(question=r["question"]), r["question"], answers,
                              r["answerable"], (), None, r["relation"], r["stated"]))
    return out


def _load_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BadRecordError(path, None, None, "file does not exist") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        line = getattr(err, "lineno", None)
        raise BadRecordError(path, line, None, f"not valid JSON: {err}") from None


def _str_at(row: Sequence, i: int, path: Path, where: str, name: str) -> str:
    if len(row) <= i:
        raise BadRecordError(path, None, f"{where}.{name}", "missing")
    if not isinstance(row[i], str):
        raise BadRecordError(path, None, f"{where}.{name}", f"expected str, got {type(row[i]).__name__}")
    return row[i]


def load_pararel(path: str | Path) -> list[QAItem]:
    """R-Tuning's ParaRel: a JSON list of ``[question, answer, relation]``."""
    path = Path(path)
    data = _load_json(path)
    if not isinstance(data, list):
        raise BadRecordError(path, None, None, "expected a JSON list of [question, answer, relation]")
    out = []
    for i, row in enumerate(data):
        if not isinstance(row, list):
            raise BadRecordError(path, None, f"[{i}]", "expected a list [question, answer, relation]")
        q = _str_at(row, 0, path, f"[{i}]", "question")
        a = _str_at(row, 1, path, f"[{i}]", "answer")
        rel = _str_at(row, 2, path, f"[{i}]", "relation")
        out.append(QAItem(f"pararel:{i}", QA_PROMPT.format(question=q), q, (a,) if a.strip() else (), True,
                          group=rel))
    return out


def _mmlu_block(q: str, choices: Sequence[str], gold: str | None) -> str:
    opts = "".join(f"\n{OPTION_LETTERS[j]}. {c}" for j, c in enumerate(choices))
    return f"{q}{opts}\nAnswer:" + (f" {gold}\n\n" if gold else "")


def _mmlu_rows(path: Path) -> dict[str, list[tuple[str, tuple[str, ...], str, str]]]:
    data = _load_json(path)
    if not isinstance(data, dict):
        raise BadRecordError(path, None, None, "expected a JSON object {subject: [[q, A, B, C, D, gold], ...]}")
    out: dict[str, list] = {}
    for subject, rows in data.items():
        if not isinstance(rows, list):
            raise BadRecordError(path, None, subject, "expected a list of questions")
        parsed = []
        for i, row in enumerate(rows):
            where = f"{subject}[{i}]"
            if not isinstance(row, list) or len(row) != 6:
                raise BadRecordError(path, None, where, "expected [question, A, B, C, D, gold_letter]")
            q = _str_at(row, 0, path, where, "question")
            choices = tuple(_str_at(row, j, path, where, f"option {OPTION_LETTERS[j - 1]}") for j in range(1, 5))
            gold = _str_at(row, 5, path, where, "gold").strip()
            if gold not in OPTION_LETTERS[:4]:
                raise BadRecordError(path, None, f"{where}.gold", f"expected one of A-D, got {gold!r}")
            parsed.append((q, choices, gold, f"{subject}:{i}"))
        out[subject] = parsed
    return out


def load_mmlu(path: str | Path, prompt_path: str | Path | None = None) -> list[QAItem]:
    """R-Tuning's MMLU (``{subject: [[q, A, B, C, D, gold], ...]}``), optionally with the
    5-shot prompt file in the same layout prepended per subject."""
    path = Path(path)
    shots = _mmlu_rows(Path(prompt_path)) if prompt_path else {}
    out = []
    for subject, rows in _mmlu_rows(path).items():
        header = f"The following are multiple choice questions about {subject.replace('_', ' ')}.\n\n"
        prefix = header + "".join(_mmlu_block(q, c, g) for q, c, g, _ in shots.get(subject, []))
        for q, choices, gold, key in rows:
            answer = choices[OPTION_LETTERS.index(gold)]
            out.append(QAItem(f"mmlu:{key}", prefix + _mmlu_block(q, choices, None), q, (answer,), True,
                              choices, gold, subject))
    return out


def load_selfaware(path: str | Path) -> list[QAItem]:
    """SelfAware: ``{"example": [{question_id, question, answer: list|null, answerable}]}``."""
    path = Path(path)
    data = _load_json(path)
    examples = data.get("example") if isinstance(data, dict) else None
    if not isinstance(examples, list):
        raise BadRecordError(path, None, "example", "expected a list of questions")
    out = []
    for i, ex in enumerate(examples):
        where = f"example[{i}]"
        if not isinstance(ex, dict):
            raise BadRecordError(path, None, where, "expected an object")
        for name, kind in (("question", str), ("answerable", bool)):
            if not isinstance(ex.get(name), kind):
                raise BadRecordError(path, None, f"{where}.{name}", f"missing or not {kind.__name__}")
        answers = ex.get("answer") or []
        if not isinstance(answers, list) or not all(isinstance(a, str) for a in answers):
            raise BadRecordError(path, None, f"{where}.answer", "expected a list of strings or null")
        q = ex["question"]
        out.append(QAItem(f"selfaware:{ex.get('question_id', i)}", QA_PROMPT.format(question=q), q,
                          tuple(answers), ex["answerable"], group=str(ex.get("source", ""))))
    return out


def load_unknownbench(path: str | Path) -> list[QAItem]:
    """UnknownBench JSON lines ``{"prompt", "label"}``: FalseQA/NEC label 1 = unanswerable, 0 =
    answerable (no gold text); RefuNQ label = answer list, or "NEC" = unanswerable."""
    path = Path(path)
    out = []
    for line, rec in iter_jsonl(path):
        q = require(rec, "prompt", str, path, line)
        label = require(rec, "label", (int, str, list), path, line)
        if isinstance(label, list):
            answers, answerable = tuple(str(a) for a in label), True
        elif isinstance(label, str):
            if label != "NEC":
                raise BadRecordError(path, line, "label", f"expected a list, 0/1 or 'NEC', got {label!r}")
            answers, answerable = (), False
        else:
            if label not in (0, 1):
                raise BadRecordError(path, line, "label", f"expected 0 or 1, got {label}")
            answers, answerable = (), label == 0
        out.append(QAItem(f"{path.stem}:{line}", QA_PROMPT.format(question=q), q, answers, answerable,
                          group=str(rec.get("category", path.stem))))
    return out


def load_falseqa_csv(path: str | Path) -> list[QAItem]:
    """thunlp/FalseQA CSV (``question, answer, label``): label 1 = false premise (unanswerable)."""
    path = Path(path)
    out = []
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        missing = {"question", "answer", "label"} - set(reader.fieldnames or ())
        if missing:
            raise BadRecordError(path, 1, sorted(missing)[0], "missing column")
        for row in reader:
            line = reader.line_num
            if row["label"] not in ("0", "1"):
                raise BadRecordError(path, line, "label", f"expected 0 or 1, got {row['label']!r}")
            # False-premise rows hold a Python-style list of rebuttals; the others one plain answer.
            text = (row["answer"] or "").strip()
            answers: Any = [text] if text else []
            if text.startswith("["):
                try:
                    answers = ast.literal_eval(text)
                except (ValueError, SyntaxError):
                    raise BadRecordError(path, line, "answer", "starts with '[' but is not a list") from None
                if not isinstance(answers, list):
                    raise BadRecordError(path, line, "answer", "not a list of strings")
            q = row["question"] or ""
            if not q.strip():
                raise BadRecordError(path, line, "question", "empty")
            out.append(QAItem(f"falseqa:{line}", QA_PROMPT.format(question=q), q,
                              tuple(str(a) for a in answers), row["label"] == "0", group="falseqa"))
    return out


def load_honesty(path: str | Path) -> list[QAItem]:
    """alignment-for-honesty PUQA (``label: "unknown"``, unanswerable) / PKQA (``answer``, ``"known"``)."""
    path = Path(path)
    out = []
    for line, rec in iter_jsonl(path):
        q = require(rec, "question", str, path, line)
        label = require(rec, "label", str, path, line)
        if label not in ("known", "unknown"):
            raise BadRecordError(path, line, "label", f"expected 'known' or 'unknown', got {label!r}")
        answers = (require(rec, "answer", str, path, line),) if label == "known" else ()
        out.append(QAItem(f"{path.stem}:{line}", QA_PROMPT.format(question=q), q, answers, label == "known",
                          group=str(rec.get("topic", path.stem))))
    return out


def load_items_jsonl(path: str | Path) -> list[QAItem]:
    """Items written by ``write_items`` (the run directory's own data files)."""
    return [item_from_dict(rec, path, line) for line, rec in iter_jsonl(path)]


# format name -> loader; a plain dict so `--format` selects a loader without any magic.
LOADERS: dict[str, Callable[[Path], list[QAItem]]] = {
    "pararel": load_pararel, "mmlu": load_mmlu, "selfaware": load_selfaware, "unknownbench": load_unknownbench,
    "falseqa": load_falseqa_csv, "honesty": load_honesty, "items": load_items_jsonl,
}


def load_items(fmt: str, path: str | Path) -> list[QAItem]:
    if fmt not in LOADERS:
        raise ValueError(f"unknown data format {fmt!r} (one of {', '.join(LOADERS)})")
    return LOADERS[fmt](Path(path))
