import pytest

from quartet.prm.formats import build_labels, read_rollouts
from quartet.prm.rollout import (
    SampleConfig,
    policy_prompt,
    rollout_units,
    run_rollouts,
    sample_solutions,
    step_prefix,
)


class Counting:
    """Wraps an LM: counts the prompts it generates for and dies after ``die_after`` calls."""

    def __init__(self, lm, die_after=None):
        self.lm, self.die_after, self.calls, self.prompts = lm, die_after, 0, []

    def generate(self, prompts, params, n=1):
        if self.die_after is not None and self.calls >= self.die_after:
            raise KeyboardInterrupt("killed")
        self.calls += 1
        self.prompts += list(prompts)
        return self.lm.generate(prompts, params, n)


def _solutions(problems):
    # The gold solutions of six problems and one solution with no steps. The model is untrained,
    # so its rollouts are wrong (all of them, with this seed): what is compared below is the records
    # themselves (completion texts included), not label values.
    sols = []
    for p in problems[:6]:
        prompt = policy_prompt(p.question)
        sols.append({"solution_id": f"{p.id}-0", "problem_id": p.id, "prompt": prompt, "steps": list(p.steps),
                     "answer": p.gold, "gold": p.gold, "correct": True})
    sols.append({"solution_id": "empty", "problem_id": "x", "prompt": "Q\n", "steps": [], "answer": None,
                 "gold": "1", "correct": False})
    return sols


def test_rollout_killed_midway_resumes_without_recomputing(tiny_lm, problems, tmp_path, caplog):
    sols = _solutions(problems)
    cfg = SampleConfig(temperature=1.0, max_new_tokens=12, chunk_size=3, seed=5)
    units = rollout_units(sols)
    assert "skipping 1 solutions with no steps" in caplog.text
    assert len(units) == sum(len(s["steps"]) - 1 for s in sols if s["steps"])
    assert units[0][0] == f"{sols[0]['solution_id']}/0"

    whole = tmp_path / "whole.jsonl"
    run_rollouts(Counting(tiny_lm), sols, whole, k=4, cfg=cfg)

    part = tmp_path / "part.jsonl"
    killed = Counting(tiny_lm, die_after=2)
    with pytest.raises(KeyboardInterrupt):
        run_rollouts(killed, sols, part, k=4, cfg=cfg)
    finished = set(read_rollouts(part))
    assert len(finished) == 6  # two chunks of three prefixes
    # a torn last line (killed mid-write) is dropped on resume
    with part.open("a") as handle:
        handle.write('{"key": "torn", "solution_id"')
    resumed = Counting(tiny_lm)
    generated = run_rollouts(resumed, sols, part, k=4, cfg=cfg)
    assert generated == len(units) - 6
    first_prefix = {step_prefix(s["prompt"], s["steps"], j) for key, s, j in units if key in finished}
    assert not first_prefix & set(resumed.prompts)

    a, b = read_rollouts(whole), read_rollouts(part)
    assert a == b
    for method, eta in (("hard", 0), ("soft", 0), ("er", 2.0)):
        solved = [s for s in sols if s["steps"]]
        assert build_labels(solved, a, method, eta) == build_labels(solved, b, method, eta)
    # a rerun on a finished file generates nothing
    assert run_rollouts(Counting(tiny_lm), sols, part, k=4, cfg=cfg) == 0


def test_sample_solutions_resumes_and_marks_empty(tiny_lm, problems, tmp_path):
    cfg = SampleConfig(temperature=1.0, max_new_tokens=10, chunk_size=2, seed=1)
    out = tmp_path / "s.jsonl"
    first = sample_solutions(tiny_lm, problems[:4], 3, out, cfg)
    assert len(first) == 12 and {s["solution_id"] for s in first} >= {f"{problems[0].id}-2"}
    counted = Counting(tiny_lm)
    again = sample_solutions(counted, problems[:4], 3, out, cfg)
    assert counted.calls == 0 and again == first
    # an untrained model writes no answer: wrong, not a crash
    assert all(s["correct"] is False for s in first if s["answer"] is None)
