"""ProcessBench: can a PRM find the earliest wrong step?

For each solution the predicted earliest error is the first step whose P(+) is below the
threshold (-1 when none is). Per subset: accuracy on the solutions that have an error
(prediction == label), accuracy on the fully correct ones (prediction == -1), and their
harmonic mean, the F1 that ProcessBench reports; the average F1 is over subsets.

The PRM reads ``policy_prompt(problem, "boxed", prompt)`` (ProcessBench's solutions end in
``\\boxed{}``) followed by the steps, each with the step tag.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from quartet.core.io import atomic_write_json, atomic_write_text
from quartet.lm.protocol import LanguageModel
from quartet.prm.config import PromptConfig
from quartet.prm.data import ProcessBenchItem, load_processbench
from quartet.prm.rollout import policy_prompt
from quartet.prm.scoring import Scorer, step_scores

log = logging.getLogger(__name__)

SUBSETS = ("gsm8k", "math", "olympiadbench", "omnimath")


def earliest_error(scores: Sequence[float], threshold: float = 0.5) -> int:
    """Index of the first step scored below ``threshold``; -1 when every step passes.

    >>> earliest_error([0.9, 0.4, 0.2]), earliest_error([0.9, 0.8])
    (1, -1)
    """
    return next((i for i, s in enumerate(scores) if s < threshold), -1)


def processbench_f1(labels: Sequence[int], predictions: Sequence[int]) -> dict[str, float]:
    """ProcessBench's metric from gold and predicted earliest-error indices.

    >>> processbench_f1([-1, -1, 2, 0], [-1, 1, 2, 1])
    {'error_acc': 0.5, 'correct_acc': 0.5, 'f1': 0.5, 'n': 4}
    """
    err = [p == g for g, p in zip(labels, predictions, strict=True) if g != -1]
    ok = [p == -1 for g, p in zip(labels, predictions, strict=True) if g == -1]
    error_acc = sum(err) / len(err) if err else 0.0
    correct_acc = sum(ok) / len(ok) if ok else 0.0
    f1 = 2 * error_acc * correct_acc / (error_acc + correct_acc) if error_acc + correct_acc > 0 else 0.0
    return {"error_acc": error_acc, "correct_acc": correct_acc, "f1": f1, "n": len(labels)}


def evaluate_items(prm: LanguageModel | Scorer, items: Sequence[ProcessBenchItem], threshold: float = 0.5,
                   prompt: PromptConfig | None = None) -> dict:
    """``prm``: a reward-token PRM with the default tag and tokens, or any ``scorer(prompts, steps)``
    (e.g. ``pipeline.load_scorer(dir, spec)``)."""
    prompts = [policy_prompt(i.problem, "boxed", prompt) for i in items]
    steps = [list(i.steps) for i in items]
    scores = step_scores(prm, prompts, steps) if hasattr(prm, "marked_logprobs") else prm(prompts, steps)
    predictions = [earliest_error(s, threshold) for s in scores]
    return processbench_f1([i.label for i in items], predictions)


def processbench_markdown(result: dict) -> str:
    """The table ProcessBench papers print: per subset the two accuracies and F1, then the average.

    >>> r = {"threshold": 0.5, "limit": None, "average_f1": 0.5,
    ...      "subsets": {"gsm8k": {"error_acc": 0.5, "correct_acc": 0.5, "f1": 0.5, "n": 4}}}
    >>> print(processbench_markdown(r))
    | subset | n | error acc | correct acc | F1 |
    |---|---|---|---|---|
    | gsm8k | 4 | 50.0 | 50.0 | 50.0 |
    | average | | | | 50.0 |
    <BLANKLINE>
    Earliest error = first step with P(+) < 0.5.
    """
    rows = ["| subset | n | error acc | correct acc | F1 |", "|---|---|---|---|---|"]
    for name, v in result["subsets"].items():
        rows.append(f"| {name} | {v['n']} | {100 * v['error_acc']:.1f} | {100 * v['correct_acc']:.1f} "
                    f"| {100 * v['f1']:.1f} |")
    rows.append(f"| average | | | | {100 * result['average_f1']:.1f} |")
    note = f"Earliest error = first step with P(+) < {result['threshold']}."
    if result.get("limit"):
        note += f" First {result['limit']} items of each subset only: a quick look, not the benchmark's number."
    return "\n".join(rows) + "\n\n" + note


def run_processbench(prm: LanguageModel | Scorer, data_dir: Path | str, out_path: Path | str,
                     subsets: Sequence[str] = SUBSETS, threshold: float = 0.5, limit: int | None = None,
                     prompt: PromptConfig | None = None, settings: dict | None = None) -> dict:
    """Evaluate ``prm`` on every subset file ``<data_dir>/<subset>.json``; writes ``out_path`` (JSON)
    and the same table as Markdown beside it (``.md``).
    ``limit`` keeps the first items of each subset (a quick look, not the benchmark's number);
    ``settings`` (what was scored, and how) are written into the JSON as they are."""
    result: dict = {"threshold": threshold, "limit": limit, **(settings or {}), "subsets": {}}
    for subset in subsets:
        path = Path(data_dir) / f"{subset}.json"
        items = load_processbench(path)[:limit]
        try:
            result["subsets"][subset] = evaluate_items(prm, items, threshold, prompt)
        except ValueError as err:
            raise ValueError(f"{path}: {err} (items are counted from 0, empty ones skipped)") from None
        log.info("ProcessBench %s: F1 %.3f", subset, result["subsets"][subset]["f1"])
    f1s = [v["f1"] for v in result["subsets"].values()]
    result["average_f1"] = sum(f1s) / len(f1s) if f1s else 0.0
    atomic_write_json(Path(out_path), result)
    atomic_write_text(Path(out_path).with_suffix(".md"), processbench_markdown(result) + "\n")
    return result
