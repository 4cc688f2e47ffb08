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

import functools
import hashlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from quartet.core.progress import progress_bar
from quartet.core.ray_shards import RaySpec
from quartet.core.records import AppendOnlyJsonl, write_jsonl
from quartet.lm.protocol import LanguageModel, SamplingParams
from quartet.prm.answers import FORMATS, extract_answer, is_correct
from quartet.prm.config import PromptConfig
from quartet.prm.data import MathProblem, split_steps
from quartet.prm.formats import rollout_key, rollout_store

log = logging.getLogger(__name__)


def policy_prompt(question: str, fmt: str = "answer_is", prompt: PromptConfig | None = None) -> str:
    """The prompt a policy is trained and sampled with, and the PRM reads: ``prompt.template``
    with the question and the instruction for answer format ``fmt``, so that a pretrained policy
    is asked for the format ``answers.extract_answer(text, fmt)`` reads.

    >>> policy_prompt("Tom has 3 pens .")
    'Question : Tom has 3 pens .\\nWrite one step per line, and end with "The answer is N".\\nAnswer :\\n'
    >>> policy_prompt("x", "boxed", PromptConfig(template="{question} ({instruction})"))
    'x (Write one step per line, and put the final answer in \\\\boxed{}.)'
    """
    prompt = prompt or PromptConfig()
    if fmt not in FORMATS:
        raise ValueError(f"unknown answer format {fmt!r} (known: {', '.join(FORMATS)})")
    if "{question}" not in prompt.template:
        raise ValueError(f"prompt.template {prompt.template!r} has no {{question}} field")
    try:
        return prompt.template.format(question=question, instruction=getattr(prompt, fmt))
    except (KeyError, IndexError, ValueError) as err:  # a stray brace or an unknown {field}
        raise ValueError(f"prompt.template {prompt.template!r}: {err!r} (write literal braces as {{{{ }}}})"
                         ) from None


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


Unit = tuple[str, str, Any]  # (key, prompt to continue, what make_records needs)
MakeRecords = Callable[[Unit, list[Any]], list[dict[str, Any]]]


def generate_chunk(lm: LanguageModel, chunk: list[Unit], n: int, cfg: SampleConfig, make_records: MakeRecords,
                   skip: frozenset[str] = frozenset()) -> list[dict[str, Any]]:
    """``n`` samples for every unit of one chunk, seeded by the chunk's first key; records of
    units in ``skip`` (written before a kill mid-chunk) are regenerated identically and dropped."""
    params = SamplingParams(max_new_tokens=cfg.max_new_tokens, temperature=cfg.temperature,
                            seed=chunk_seed(cfg.seed, chunk[0][0]))
    outputs = lm.generate([prompt for _, prompt, _ in chunk], params, n=n)
    return [record for unit, completions in zip(chunk, outputs, strict=True) if unit[0] not in skip
            for record in make_records(unit, completions)]


def _ray_worker(model_dir: str, backend: str, **options: Any) -> Callable[[list[list[Unit]]], list[dict[str, Any]]]:
    """Runs inside a Ray actor: load the policy there; a shard is a list of whole chunks."""
    from quartet.lm.backends import load_lm

    lm = load_lm(model_dir, backend=backend)
    return lambda shard: [r for chunk in shard for r in generate_chunk(lm, chunk, **options)]


def _run_chunks(units: Sequence[Unit], store: AppendOnlyJsonl, lm: LanguageModel | None, n: int, cfg: SampleConfig,
                make_records: MakeRecords, desc: str, ray: RaySpec | None = None) -> int:
    """Generate ``n`` samples for every unit whose records are missing; returns units generated."""
    done = frozenset(store.done())
    chunks = [list(units[i : i + cfg.chunk_size]) for i in range(0, len(units), cfg.chunk_size)]
    todo = [c for c in chunks if any(u[0] not in done for u in c)]
    if ray is not None:
        from quartet.core.ray_shards import run_on_ray  # ray is imported only when asked for

        # One chunk per shard: the same membership and seeds as in one process, so the same records.
        run_on_ray(todo, out=store, shard_size=1, workers=ray.workers, address=ray.init_address,
                   make_processor=functools.partial(_ray_worker, ray.model_dir, ray.backend, n=n, cfg=cfg,
                                                    make_records=make_records, skip=done))
        return sum(len(c) for c in todo)
    bar = progress_bar(len(units), desc=desc, unit="prefix")
    bar.update(len(units) - sum(len(c) for c in todo))
    for chunk in todo:
        for record in generate_chunk(lm, chunk, n, cfg, make_records, done):
            store.append(record)
        bar.update(len(chunk))
    bar.close()
    return sum(len(c) for c in todo)


def candidate_records(unit: Unit, completions: list[Any]) -> list[dict[str, Any]]:
    """All ``n`` candidates of one problem (the unit's key is the problem id)."""
    _, prompt, p = unit
    return [{"solution_id": f"{p.id}-{c_i}", "problem_id": p.id, "prompt": prompt,
             "steps": split_steps(c.text), "answer": extract_answer(c.text, p.answer_format), "gold": p.gold,
             "correct": is_correct(c.text, p.gold, p.answer_format), "format": p.answer_format}
            for c_i, c in enumerate(completions)]


def sample_solutions(lm: LanguageModel | None, problems: Sequence[MathProblem], n: int, out_path: Path | str,
                     cfg: SampleConfig, ray: RaySpec | None = None, prompt: PromptConfig | None = None
                     ) -> list[dict[str, Any]]:
    """``n`` candidate solutions per problem, appended to ``out_path`` (one record per solution),
    each sampled from ``policy_prompt(question, answer_format, prompt)``.

    A completion with no steps is kept as a wrong candidate with ``steps == []`` (it still
    counts in best-of-N) and reported in the log; later stages skip it.
    """
    store = AppendOnlyJsonl(out_path, key=lambda r: r["problem_id"])
    units = [(p.id, policy_prompt(p.question, p.answer_format, prompt), p) for p in problems]
    _run_chunks(units, store, lm, n, cfg, candidate_records, desc="sample", ray=ray)
    solutions = store.records()
    if ray is not None:  # shards were appended as they finished: back to the order one process writes
        position = {p.id: i for i, p in enumerate(problems)}
        solutions.sort(key=lambda s: (position.get(s["problem_id"], len(position)),
                                      int(s["solution_id"].rsplit("-", 1)[1])))
        write_jsonl(out_path, solutions)
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


def rollout_records(unit: Unit, completions: list[Any]) -> list[dict[str, Any]]:
    """The K outcomes of one step prefix: each completion finishes the solution from step ``j``."""
    key, _, (s, j) = unit
    fmt = s.get("format", "answer_is")
    done_text = "\n".join(s["steps"][: j + 1]) + "\n"
    # The answer may already be written in the prefix (a prefix that ends in the answer line).
    full = [done_text + c.text for c in completions]
    return [{"key": key, "solution_id": s["solution_id"], "step": j, "completions": [c.text for c in completions],
             "answers": [extract_answer(t, fmt) for t in full],
             "outcomes": [int(is_correct(t, s["gold"], fmt)) for t in full]}]


def run_rollouts(lm: LanguageModel | None, solutions: Sequence[dict], out_path: Path | str, k: int,
                 cfg: SampleConfig, last_from_final: bool = True, ray: RaySpec | None = None) -> int:
    """Roll out K completions from every step prefix; resumable. Returns prefixes generated in this call.

    Solutions are taken in ``solution_id`` order, not file order: a Ray run appends them as
    shards finish, and chunk membership (hence each chunk's seed) must not depend on that.
    """
    ordered = sorted(solutions, key=lambda s: s["solution_id"])
    units = [(key, step_prefix(s["prompt"], s["steps"], j), (s, j))
             for key, s, j in rollout_units(ordered, last_from_final)]
    return _run_chunks(units, rollout_store(out_path), lm, k, cfg, rollout_records, desc="rollout", ray=ray)
