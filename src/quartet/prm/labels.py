"""Step labels from Monte-Carlo rollout outcomes.

For one step prefix, K completions are sampled and each final answer is checked:
``r_i`` in {0, 1}. Three labellings of that prefix:

* ``hard``: 1 if any completion reached the right answer (Math-Shepherd);
* ``soft``: the fraction that did;
* ``entropy_regularized``: ``(1/eta) * log(mean_i exp(eta * r_i))``, which equals
  ``(1/eta) * log(1 - p + p * e**eta)`` for binary outcomes with ``p = mean(r)``.
  It tends to ``soft`` as eta -> 0 and to ``hard`` as eta -> infinity.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

METHODS = ("hard", "soft", "er")


def _check(outcomes: Sequence[float]) -> list[float]:
    values = [float(r) for r in outcomes]
    if not values:
        raise ValueError("labels need at least one rollout outcome")
    if any(not 0.0 <= r <= 1.0 for r in values):
        raise ValueError(f"outcomes must lie in [0, 1], got {values}")
    return values


def hard(outcomes: Sequence[float]) -> float:
    """1.0 if any rollout succeeded, else 0.0.

    >>> hard([0, 0, 1, 0])
    1.0
    >>> hard([0, 0])
    0.0
    """
    return 1.0 if max(_check(outcomes)) > 0 else 0.0


def soft(outcomes: Sequence[float]) -> float:
    """Fraction of rollouts that succeeded.

    >>> soft([0, 0, 1, 0])
    0.25
    """
    values = _check(outcomes)
    return sum(values) / len(values)


def entropy_regularized(outcomes: Sequence[float], eta: float) -> float:
    """``(1/eta) * log(mean(exp(eta * r)))``, computed stably for any eta >= 0 (0 gives soft).

    >>> round(entropy_regularized([0, 0, 1, 0], eta=2.0), 4)   # 0.5 * log(0.75 + 0.25 * e**2)
    0.4772
    >>> entropy_regularized([1, 0], eta=0.0)
    0.5
    >>> round(entropy_regularized([1, 0, 0, 0], eta=1e6), 4)   # -> hard
    1.0
    """
    values = _check(outcomes)
    if eta < 0 or math.isnan(eta):
        raise ValueError(f"eta must be >= 0, got {eta}")
    if eta == 0:
        return sum(values) / len(values)
    # log-sum-exp so that a large eta does not overflow exp(eta).
    top = max(eta * r for r in values)
    lse = top + math.log(sum(math.exp(eta * r - top) for r in values))
    value = (lse - math.log(len(values))) / eta
    return min(1.0, max(0.0, value))


def label(outcomes: Sequence[float], method: str, eta: float = 1.0) -> float:
    """Dispatch on ``method`` in ``METHODS``."""
    if method == "hard":
        return hard(outcomes)
    if method == "soft":
        return soft(outcomes)
    if method == "er":
        return entropy_regularized(outcomes, eta)
    raise ValueError(f"unknown label method {method!r} (known: {', '.join(METHODS)})")


def label_steps(
    step_outcomes: Sequence[Sequence[float]],
    final_correct: bool,
    method: str,
    eta: float = 1.0,
    last_from_final: bool = True,
) -> list[float]:
    """One label per step. ``step_outcomes[j]`` are the rollout outcomes after steps ``0..j``.

    With ``last_from_final`` (the official code's behaviour) the last step's label is the
    solution's own final-answer correctness: after the last step there is nothing to roll out.

    >>> label_steps([[1, 0], [0, 0]], final_correct=True, method="soft")
    [0.5, 1.0]
    >>> label_steps([[1, 0], [0, 0]], final_correct=True, method="soft", last_from_final=False)
    [0.5, 0.0]
    """
    labels = [label(o, method, eta) for o in step_outcomes]
    if last_from_final and labels:
        labels[-1] = 1.0 if final_correct else 0.0
    return labels


def method_name(method: str, eta: float | None = None) -> str:
    """Short name used in file names and tables: ``hard``, ``soft``, ``er2``, ``er0.5``.

    >>> method_name("er", 2.0), method_name("soft")
    ('er2', 'soft')
    """
    if method != "er":
        return method
    return f"er{eta:g}"
