"""The PRM page's models: the policy and one trained PRM of a finished ``quartet prm`` run.

A PRM run folder (see ``quartet.prm.pipeline``) holds ``policy/`` (the SFT policy),
``prm/<name>/model/`` (one PRM per labelling: ``er<eta>``, ``soft``, ``hard``, ``orm``) and a
``stages/train_<name>.done`` marker per finished PRM. ``PRMRun`` adapts them to what the
page needs: per-step P(+) of typed solutions, and N sampled solutions. Everything else
(splitting steps, min aggregation, ranking) is the route's, with ``quartet.prm`` functions.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

from quartet.lm.protocol import context_limit
from quartet.web.runfiles import display_path, run_config, setting, unknown_words

log = logging.getLogger(__name__)

# Which PRM a run's page uses when it has several: the paper's ER-PRM first.
PREFERENCE = ("er", "soft", "hard", "orm")
EXAMPLES = 5


class PRMModel(Protocol):
    """What the PRM routes use; ``info`` is shown on the page (run, PRM name, examples)."""

    info: dict[str, Any]

    def score(self, question: str, solutions: Sequence[Sequence[str]]) -> list[list[float]]:
        """P(+) at every step of every solution (steps already split)."""
        ...

    def sample(self, question: str, n: int, seed: int) -> list[str]:
        """``n`` solutions sampled from the policy (raw text, one step per line)."""
        ...

    def unknown_words(self, text: str) -> list[str]:
        ...


def _rank(name: str) -> tuple[int, str]:
    for i, prefix in enumerate(PREFERENCE):
        if name.startswith(prefix):
            return i, name
    return len(PREFERENCE), name


def finished_prms(run_dir: Path) -> list[str]:
    """Names of the PRMs of ``run_dir`` whose training finished, best first (ER, soft, hard, ORM)."""
    names = [p.parent.name for p in (run_dir / "prm").glob("*/model") if p.is_dir()
             and (run_dir / "stages" / f"train_{p.parent.name}.done").exists()]
    return sorted(names, key=_rank)


def find_prm_run(runs: Path) -> Path | None:
    """The first run folder under ``runs`` (path order) with a policy and at least one finished PRM."""
    for stage in sorted(runs.glob("**/stages/sft.done")):
        run_dir = stage.parent.parent
        if (run_dir / "policy").is_dir() and finished_prms(run_dir):
            return run_dir
    return None


class PRMRun:
    """A policy and a PRM (``quartet.lm`` models) with the run's sampling settings."""

    def __init__(self, policy: Any, prm: Any, info: dict[str, Any], temperature: float = 1.0,
                 max_new_tokens: int = 80, spec: Any = None, prompt: Any = None):
        import threading

        from quartet.prm.prm_model import RewardSpec, RewardTokens

        self.policy, self.prm, self.info = policy, prm, info
        self.temperature, self.max_new_tokens = temperature, max_new_tokens
        self.tokens = RewardTokens.resolve(prm.tokenizer, spec or RewardSpec())  # the PRM's step tag and +/-
        self.prompt = prompt  # the run's PromptConfig (None: the default prompt)
        self._lock = threading.Lock()

    @classmethod
    def load(cls, run_dir: Path, runs: Path | None = None, prm_name: str | None = None) -> PRMRun:
        from quartet.core.config import from_dict
        from quartet.prm.config import PromptConfig
        from quartet.prm.pipeline import ORM, load_policy, read_problems
        from quartet.prm.prm_model import RewardSpec

        names = finished_prms(run_dir)
        if not names:
            raise FileNotFoundError(f"{run_dir}: no finished PRM (prm/<name>/model with stages/train_<name>.done)")
        name = prm_name or names[0]
        if name not in names:
            raise ValueError(f"{run_dir}: no finished PRM named {name!r} (found {', '.join(names)})")
        cfg = run_config(run_dir)
        examples = []
        test = run_dir / "data" / "test.jsonl"
        if test.is_file():
            examples = [{"question": p.question, "steps": list(p.steps), "gold": p.gold, "format": p.answer_format}
                        for p in read_problems(test)[:EXAMPLES]]
        # The ORM is trained on its final tag only, so it is read there (``pipeline.scorer_aggregate``).
        how = setting(cfg, "prm.orm_aggregate", "last") if name == ORM else setting(cfg, "prm.aggregate", "min")
        info = {"run": display_path(run_dir, runs), "prm": name, "prms": names, "aggregate": how,
                "policy": "policy", "examples": examples}
        log.info("PRM page: run %s, PRM %s", run_dir, name)
        model_dir = run_dir / "prm" / name / "model"
        return cls(load_policy(run_dir / "policy"), load_policy(model_dir), info,
                   float(setting(cfg, "rollout.temperature", 1.0)), int(setting(cfg, "rollout.max_new_tokens", 80)),
                   RewardSpec.load(model_dir), from_dict(PromptConfig, setting(cfg, "prompt", {}), "prompt."))

    def score(self, question: str, solutions: Sequence[Sequence[str]]) -> list[list[float]]:
        from quartet.prm.prm_model import prm_text, tokenizer_tag
        from quartet.prm.rollout import policy_prompt
        from quartet.prm.scoring import step_scores

        prompt = policy_prompt(question, "answer_is", self.prompt)
        limit = context_limit(self.prm)
        if limit is not None:
            tag = tokenizer_tag(self.prm.tokenizer, self.tokens)
            for steps in solutions:
                size = len(self.prm.tokenizer.encode(prm_text(prompt, steps, tag), add_bos=True))
                if size > limit:
                    raise ValueError(f"the problem and solution are {size} tokens; this PRM reads at most {limit}")
        with self._lock:
            return step_scores(self.prm, [prompt] * len(solutions), solutions, self.tokens)

    def sample(self, question: str, n: int, seed: int) -> list[str]:
        from quartet.lm.protocol import SamplingParams
        from quartet.prm.rollout import policy_prompt

        prompt = policy_prompt(question, "answer_is", self.prompt)
        budget = self.max_new_tokens
        limit = context_limit(self.policy)
        if limit is not None:
            room = limit - len(self.policy.tokenizer.encode(prompt, add_bos=True))
            if room < 8:
                raise ValueError(f"the problem is too long for this policy (it reads at most {limit} tokens)")
            budget = min(budget, room)
        params = SamplingParams(max_new_tokens=budget, temperature=self.temperature, seed=seed)
        with self._lock:
            [completions] = self.policy.generate([prompt], params, n=n)
        return [c.text for c in completions]

    def unknown_words(self, text: str) -> list[str]:
        return unknown_words(self.prm.tokenizer, text)
