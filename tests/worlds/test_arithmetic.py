import re

import pytest

from quartet.worlds.arithmetic import (
    ANSWER_PREFIX,
    WorldConfig,
    extract_world_answer,
    generate,
    prompt,
    solution_text,
    train_test_split,
)


def _replay(problem):
    """Recompute every step from its own operands; the chain must connect and end at the answer."""
    value = None
    for line in problem.steps[:-1]:
        a, op, b, eq, c = line.split()
        assert eq == "="
        a, b, c = int(a), int(b), int(c)
        if value is not None:
            assert a == value
        assert c == {"+": a + b, "-": a - b, "*": a * b, "/": a // b}[op]
        if op == "/":
            assert a % b == 0
        value = c
    assert problem.steps[-1] == f"{ANSWER_PREFIX} {value}"
    return value


def test_deterministic_by_seed_and_different_across_seeds():
    assert generate(30, seed=3) == generate(30, seed=3)
    assert [p.question for p in generate(30, seed=3)] != [p.question for p in generate(30, seed=4)]


def test_solutions_are_correct_and_within_config():
    cfg = WorldConfig(min_steps=2, max_steps=6, max_value=40)
    problems = generate(300, seed=0, cfg=cfg)
    for p in problems:
        assert _replay(p) == p.answer
        assert 2 <= len(p.steps) - 1 <= 6
        numbers = [int(x) for line in p.steps for x in re.findall(r"\d+", line)]
        assert all(0 <= x <= 40 for x in numbers)
        assert extract_world_answer(solution_text(p)) == p.answer
        assert prompt(p).startswith("Question : ") and prompt(p).endswith("\n")
    assert {len(p.steps) - 1 for p in problems} == {2, 3, 4, 5, 6}
    assert {op for p in problems for line in p.steps[:-1] for op in line.split()[1]} == {"+", "-", "*", "/"}


def test_train_and_test_are_disjoint():
    train, test = train_test_split(500, 100, seed=7)
    assert len(train) == 500 and len(test) == 100
    assert not {p.question for p in train} & {p.question for p in test}
    assert len({p.id for p in train + test}) == 600


def test_answer_zero_is_an_answer_and_garbage_is_none():
    assert extract_world_answer("5 - 5 = 0\nThe answer is 0") == 0
    assert extract_world_answer("The answer is") is None
    assert extract_world_answer("") is None


def test_bad_config_is_rejected():
    with pytest.raises(ValueError, match="min_steps"):
        generate(1, 0, WorldConfig(min_steps=3, max_steps=2))
    with pytest.raises(ValueError, match="ops"):
        generate(1, 0, WorldConfig(ops=("^",)))
    with pytest.raises(ValueError, match="start_range"):
        generate(1, 0, WorldConfig(start_range=(5, 2)))
