"""Multi-step arithmetic word problems with gold step-by-step solutions.

The vocabulary is deliberately small and regular (a handful of names, items and
templates; punctuation separated by spaces; numbers as whole words) so that a tiny
word-level transformer learns the world in minutes on a CPU, yet multi-step problems
stay hard enough that it solves some but not all of them.

A solution has one step per line: each operation is written ``a + b = c`` and the last
line is the fixed answer format ``The answer is c``.

>>> p = generate(1, seed=0)[0]
>>> p.steps[-1] == answer_line(p.answer)
True
>>> extract_world_answer(solution_text(p)) == p.answer
True
"""

from __future__ import annotations

import hashlib
import random
import re
from dataclasses import dataclass, field

ANSWER_PREFIX = "The answer is"
STEP_SEPARATOR = "\n"

NAMES = ("Tom", "Ann", "Sam", "Mia", "Ben", "Eva", "Max", "Lily")
ITEMS = ("apples", "pens", "cards", "books", "coins", "eggs", "shells", "toys")

# op -> templates. {n}: the actor, {m}: someone else, {k}: the operand, {i}: the item.
TEMPLATES: dict[str, tuple[str, ...]] = {
    "+": (
        "{n} buys {k} more {i} .",
        "{n} finds {k} more {i} .",
        "{m} gives {n} {k} {i} .",
        "{n} gets {k} more {i} .",
    ),
    "-": (
        "{n} gives {k} {i} to {m} .",
        "{n} loses {k} {i} .",
        "{n} sells {k} {i} .",
        "{m} takes {k} {i} from {n} .",
    ),
    "*": (
        "{n} now has {k} times as many {i} .",
        "The number of {i} {n} has grows {k} times .",
    ),
    "/": (
        "{n} splits the {i} into {k} equal groups and keeps one group .",
        "{n} keeps one part of the {i} after cutting them into {k} equal parts .",
    ),
}
START_TEMPLATES = ("{n} has {k} {i} .", "{n} starts with {k} {i} .", "There are {k} {i} in the box of {n} .")
QUESTIONS = ("How many {i} does {n} have now ?", "How many {i} are left with {n} ?")


@dataclass(frozen=True)
class WorldConfig:
    """Shape of the generated problems."""

    min_steps: int = 2  # fewest operations in a problem
    max_steps: int = 4  # most operations in a problem (at most 6 is sensible)
    start_range: tuple[int, int] = (2, 20)  # first quantity, inclusive
    operand_range: tuple[int, int] = (1, 10)  # operand of + and -, inclusive
    factor_range: tuple[int, int] = (2, 3)  # operand of * and /, inclusive
    max_value: int = 60  # no intermediate value exceeds this (keeps the number vocabulary small)
    ops: tuple[str, ...] = ("+", "-", "*", "/")  # which operations appear


@dataclass(frozen=True)
class Problem:
    """One problem: the question, its gold steps (the last is ``The answer is N``) and the answer."""

    id: str
    question: str
    steps: tuple[str, ...]
    answer: int
    meta: dict = field(default_factory=dict, compare=False)


def answer_line(value: int | str) -> str:
    return f"{ANSWER_PREFIX} {value}"


_ANSWER_RE = re.compile(re.escape(ANSWER_PREFIX) + r"\s+(-?\d+)")


def extract_world_answer(text: str) -> int | None:
    """The integer after the first ``The answer is`` in ``text``; None when there is none.

    >>> extract_world_answer("3 + 4 = 7\\nThe answer is 7")
    7
    >>> extract_world_answer("3 + 4 = ") is None
    True
    """
    match = _ANSWER_RE.search(text)
    return int(match.group(1)) if match else None


def prompt(problem: Problem) -> str:
    """What the policy sees; the response (``solution_text``) follows it directly."""
    return f"Question : {problem.question}\nAnswer :\n"


def solution_text(problem: Problem) -> str:
    return STEP_SEPARATOR.join(problem.steps)


def _apply(op: str, a: int, b: int) -> int:
    return {"+": a + b, "-": a - b, "*": a * b, "/": a // b}[op]


def _candidate_ops(cfg: WorldConfig, value: int) -> list[tuple[str, int]]:
    """Every (op, operand) whose result stays in [0, max_value] and divides exactly."""
    out = []
    for op in cfg.ops:
        lo, hi = cfg.factor_range if op in "*/" else cfg.operand_range
        for k in range(lo, hi + 1):
            if op == "/" and value % k:
                continue
            if 0 <= _apply(op, value, k) <= cfg.max_value:
                out.append((op, k))
    return out


def _one(rng: random.Random, cfg: WorldConfig) -> Problem:
    name, other = rng.sample(NAMES, 2)
    item = rng.choice(ITEMS)
    n_ops = rng.randint(cfg.min_steps, cfg.max_steps)
    value = rng.randint(*cfg.start_range)
    sentences = [rng.choice(START_TEMPLATES).format(n=name, k=value, i=item)]
    steps = []
    for _ in range(n_ops):
        choices = _candidate_ops(cfg, value)
        # Pick the op first, then the operand, so rare-but-valid ops are not drowned by
        # the many operands of + and -.
        op = rng.choice(sorted({o for o, _ in choices}))
        k = rng.choice([k for o, k in choices if o == op])
        sentences.append(rng.choice(TEMPLATES[op]).format(n=name, m=other, k=k, i=item))
        result = _apply(op, value, k)
        steps.append(f"{value} {op} {k} = {result}")
        value = result
    sentences.append(rng.choice(QUESTIONS).format(n=name, i=item))
    steps.append(answer_line(value))
    question = " ".join(sentences)
    pid = hashlib.sha1(question.encode()).hexdigest()[:12]
    return Problem(id=pid, question=question, steps=tuple(steps), answer=value, meta={"n_ops": n_ops})


def _validate(cfg: WorldConfig) -> None:
    if not 1 <= cfg.min_steps <= cfg.max_steps:
        raise ValueError(f"world: need 1 <= min_steps <= max_steps, got {cfg.min_steps}, {cfg.max_steps}")
    for name in ("start_range", "operand_range", "factor_range"):
        lo, hi = getattr(cfg, name)
        if lo > hi or lo < (1 if name == "factor_range" else 0):
            raise ValueError(f"world: {name} {lo, hi} is not a valid inclusive range")
    if cfg.start_range[1] > cfg.max_value:
        raise ValueError("world: start_range exceeds max_value")
    unknown = set(cfg.ops) - set(TEMPLATES)
    if unknown or not cfg.ops:
        raise ValueError(f"world: ops must be a non-empty subset of {sorted(TEMPLATES)}, got {cfg.ops}")
    if "+" not in cfg.ops and "-" not in cfg.ops:
        # Without + or -, some values have no valid op at all (a prime near max_value).
        raise ValueError("world: ops must include '+' or '-'")


def generate(n: int, seed: int, cfg: WorldConfig | None = None, exclude: set[str] = frozenset()) -> list[Problem]:
    """``n`` distinct problems, the same for the same seed and config; none whose question is in
    ``exclude``. Raises ValueError when the config cannot produce that many distinct problems."""
    cfg = cfg or WorldConfig()
    _validate(cfg)
    rng = random.Random(f"arithmetic-{seed}")
    seen: set[str] = set(exclude)
    out: list[Problem] = []
    attempts = 0
    while len(out) < n:
        attempts += 1
        if attempts > 50 * n + 1000:
            raise ValueError(f"world: only {len(out)} distinct problems after {attempts} tries; widen the ranges")
        problem = _one(rng, cfg)
        if problem.question in seen:
            continue
        seen.add(problem.question)
        out.append(problem)
    return out


def train_test_split(n_train: int, n_test: int, seed: int, cfg: WorldConfig | None = None
                     ) -> tuple[list[Problem], list[Problem]]:
    """Disjoint train and test sets: the test set is drawn first; train never repeats a test question.

    >>> train, test = train_test_split(20, 5, seed=1)
    >>> len(train), len(test), bool({p.question for p in train} & {p.question for p in test})
    (20, 5, False)
    """
    test = generate(n_test, seed=seed * 2 + 1, cfg=cfg)
    train = generate(n_train, seed=seed * 2, cfg=cfg, exclude={p.question for p in test})
    return train, test
