"""Sampling candidate solutions and Monte-Carlo rollouts from every step prefix.

Both are long jobs that append one record per finished unit to a JSONL file, so a
killed job resumes where it stopped. Work is cut into chunks of fixed membership
(the order of the work list, ``chunk_size`` units each) and every chunk is generated
with a seed derived from its first key. A resumed run therefore skips finished chunks
without recomputing them and produces exactly the records an uninterrupted run
would have: the seed and the batch of a chunk do not depend on what ran before.

A rollout of prefix ``j`` of a solution continues ``prompt + steps[0..j]`` with K
samples (``lm.generate(prefixes, params, n=K)``, which prefills each prefix once and
branches it K ways) and checks each final answer against the gold one.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from quartet.core.progress import progress_bar
from quartet.core.records import AppendOnlyJsonl
from quartet.lm.protocol import LanguageModel, SamplingParams
from quartet.prm.answers import extract_answer, is_correct
from quartet.prm.data import MathProblem, split_steps
from quartet.prm.formats import rollout_key, rollout_store

log = logging.getLogger(__name__)


def policy_prompt(question: str) -> str:
    """The prompt every quartet policy is trained and sampled with (the arithmetic world's format)."""
    return f"Question : {question}\nAnswer :\n"


def step_prefix(prompt: str, steps: Sequence[str], j: int) -> str:
    """Prompt plus steps ``0..j``, each on its own line, ready for the next step.

    >>> step_prefix("Q\\n", ["1 + 1 = 2", "2 + 1 = 3", "The answer is 3"], 1)
    'Q\\n1 + 1 = 2\\n2 + 1 = 3\\n'
    """
    return prompt + "".join(s + "\n" for s in steps[: j + 1])


def chunk_seed(seed: int, first_key: str) -> int:
    digest = hashlib.sha256(f"{seed}:{first_key}".encode()).digest()
    return int.from_bytes(digest[:4], "little")


@dataclass(frozen=True)
class SampleConfig:
    """How candidates and rollouts are sampled."""

    temperature: float = 1.0  # the paper samples at 1.0
    max_new_tokens: int = 80  # a whole solution fits
    chunk_size: int = 32  # prompts per generate call (and per resumable unit)
    seed: int = 0  # base seed; each chunk derives its own


def _run_chunks(
    units: Sequence[tuple[str, str]],
    store: AppendOnlyJsonl,
    lm: LanguageModel,
    n: int,
    cfg: SampleConfig,
    make_records: Callable[[int, list[Any]], list[dict[str, Any]]],
    desc: str,
) -> int:
    """Generate ``n`` samples for every (key, prompt) unit whose records are missing; returns units generated."""
    done = store.done()
    chunks = [list(range(i, min(i + cfg.chunk_size, len(units)))) for i in range(0, len(units), cfg.chunk_size)]
    todo = [c for c in chunks if any(units[i][0] not in done for i in c)]
    generated = 0
    bar = progress_bar(len(units), desc=desc, unit="prefix")
    bar.update(len(units) - sum(len(c) for c in todo))
    for chunk in todo:
        params = SamplingParams(max_new_tokens=cfg.max_new_tokens, temperature=cfg.temperature,
                                seed=chunk_seed(cfg.seed, units[chunk[0]][0]))
        outputs = lm.generate([units[i][1] for i in chunk], params, n=n)
        generated += len(chunk)
        for i, completions in zip(chunk, outputs, strict=True):
            if units[i][0] in done:
                continue  # written before a kill that came mid-chunk; regenerated identically, kept once
            for record in make_records(i, completions):
                store.append(record)
        bar.update(len(chunk))
    bar.close()
    return generated


def sample_solutions(lm: LanguageModel, problems: Sequence[MathProblem], n: int, out_path: Path | str,
                     cfg: SampleConfig) -> list[dict[str, Any]]:
    """``n`` candidate solutions per problem, appended to ``out_path`` (one record per solution).

    A completion with no steps is kept as a wrong candidate with ``steps == []`` (it still
    counts in best-of-N) and reported in the log; later stages skip it.
    """
    store = AppendOnlyJsonl(out_path, key=lambda r: r["problem_id"])
    units = [(p.id, policy_prompt(p.question)) for p in problems]

    def records(i: int, completions: list) -> list[dict[str, Any]]:
        p = problems[i]
        out = []
        for c_i, c in enumerate(completions):
            answer = extract_answer(c.text, p.answer_format)
            out.append({"solution_id": f"{p.id}-{c_i}", "problem_id": p.id, "prompt": units[i][1],
                        "steps": split_steps(c.text), "answer": answer, "gold": p.gold,
                        "correct": is_correct(c.text, p.gold, p.answer_format), "format": p.answer_format})
        return out

    # The key is the problem: all n candidates of one problem are appended together.
    _run_chunks(units, store, lm, n, cfg, records, desc="sample")
    solutions = store.records()
    empty = sum(1 for s in solutions if not s["steps"])
    if empty:
        log.warning("%s: %d of %d sampled solutions have no steps; they count as wrong and get no labels",
                    out_path, empty, len(solutions))
    return solutions


def rollout_units(solutions: Sequence[dict], last_from_final: bool = True) -> list[tuple[str, dict, int]]:
    """(key, solution, step) for every step prefix that needs rollouts, in a fixed order.
    With ``last_from_final`` the last step is labelled by the final answer and needs none."""
    units = []
    skipped = 0
    for s in solutions:
        if not s["steps"]:
            skipped += 1
            continue
        last = len(s["steps"]) - (1 if last_from_final else 0)
        units += [(rollout_key(s["solution_id"], j), s, j) for j in range(last)]
    if skipped:
        log.warning("skipping %d solutions with no steps", skipped)
    return units


def run_rollouts(lm: LanguageModel, solutions: Sequence[dict], out_path: Path | str, k: int,
                 cfg: SampleConfig, last_from_final: bool = True) -> int:
    """Roll out K completions from every step prefix; resumable. Returns prefixes generated in this call."""
    store = rollout_store(out_path)
    units = rollout_units(solutions, last_from_final)
    texts = [(key, step_prefix(s["prompt"], s["steps"], j)) for key, s, j in units]

    def records(i: int, completions: list) -> list[dict[str, Any]]:
        key, s, j = units[i]
        fmt = s.get("format", "answer_is")
        done_text = "\n".join(s["steps"][: j + 1]) + "\n"
        # The answer may already be written in the prefix (a prefix that ends in the answer line).
        full = [done_text + c.text for c in completions]
        answers = [extract_answer(t, fmt) for t in full]
        outcomes = [int(is_correct(t, s["gold"], fmt)) for t in full]
        return [{"key": key, "solution_id": s["solution_id"], "step": j,
                 "completions": [c.text for c in completions], "answers": answers, "outcomes": outcomes}]

    return _run_chunks(texts, store, lm, k, cfg, records, desc="rollout")
