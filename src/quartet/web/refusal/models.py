"""The refusal page's models: the tuned models of a finished ``quartet refusal`` run.

A refusal run folder (see ``quartet.refusal.pipeline``) holds one tuned model per method and
seed under ``tune/<method>/s<seed>/model/``, each finished one marked by
``stages/tune_<method>_s<seed>.done``. ``RefusalRun`` answers a typed question with one of
them exactly as the evaluation does (``quartet.refusal.evaluate.eval_records``: the greedy
answer, its confidence, and P(sure) after "Are you sure ...? I am"); whether that counts as
declining is the route's (``evaluate.declined``, with the page's threshold).
Models load on first use (a real-scale run has one large model per method).
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any, Protocol

from quartet.lm.protocol import context_limit
from quartet.web.runfiles import LazyModels, display_path, run_config, setting, unknown_words

log = logging.getLogger(__name__)

# The default method of the page: R-Tuning first (the paper's method), Vanilla last.
PREFERENCE = ("rtuning", "rtuning_u", "rtuning_r", "vanilla")
EXAMPLES_PER_SET = 3


class RefusalModel(Protocol):
    """What the refusal routes use; ``info`` has run, methods, default method, threshold, examples."""

    info: dict[str, Any]

    def ask(self, question: str, method: str) -> dict[str, Any]:
        """``{"prediction", "answer_conf", "p_sure", "refusal"}`` of one question (an eval record)."""
        ...

    def unknown_words(self, text: str) -> list[str]:
        ...


def finished_models(run_dir: Path) -> dict[str, Path]:
    """method -> model folder of its first finished seed, in ``PREFERENCE`` order."""
    found: dict[str, Path] = {}
    for model in sorted(run_dir.glob("tune/*/s*/model")):
        method, seed = model.parent.parent.name, model.parent.name
        if method not in found and (run_dir / "stages" / f"tune_{method}_{seed}.done").exists():
            found[method] = model
    order = {m: i for i, m in enumerate(PREFERENCE)}
    return dict(sorted(found.items(), key=lambda kv: (order.get(kv[0], len(order)), kv[0])))


def find_refusal_run(runs: Path) -> Path | None:
    """The first run folder under ``runs`` (path order) with at least one finished tuned model."""
    for stage in sorted(runs.glob("**/stages/build.done")):
        run_dir = stage.parent.parent
        if finished_models(run_dir):
            return run_dir
    return None


def _examples(run_dir: Path) -> list[dict[str, Any]]:
    """A few free-form questions of each evaluation set, with the set's role (id / ood / unanswerable)."""
    import json

    from quartet.refusal.data import load_items_jsonl

    try:
        roles = json.loads((run_dir / "data" / "sets.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return []
    out = []
    for name, role in roles.items():
        try:
            items = load_items_jsonl(run_dir / "data" / f"{name}.jsonl")
        except Exception as err:  # examples are a convenience; the page works without them
            log.warning("refusal examples of %s: %s", name, err)
            continue
        free = [it for it in items if not it.choices][:EXAMPLES_PER_SET]
        out += [{"question": it.question, "set": name, "role": role, "answers": list(it.answers)} for it in free]
    return out


class RefusalRun:
    """Tuned models by method, answering one question at a time as the evaluation does."""

    def __init__(self, models: LazyModels, info: dict[str, Any], refusals: tuple[str, ...], max_new_tokens: int = 8):
        self.models, self.info = models, info
        self.refusals, self.max_new_tokens = refusals, max_new_tokens

    @classmethod
    def load(cls, run_dir: Path, runs: Path | None = None) -> RefusalRun:
        from quartet.refusal.build import DEFAULT_REFUSALS
        from quartet.refusal.pipeline import load_model

        folders = finished_models(run_dir)
        if not folders:
            raise FileNotFoundError(f"{run_dir}: no finished tuned model (tune/<method>/s<seed>/model)")
        cfg = run_config(run_dir)
        models = LazyModels({m: (lambda p=p: load_model(p)) for m, p in folders.items()})
        default = next(iter(folders))
        models.get(default)  # fail at start-up, not on the first question, when the model is broken
        info = {"run": display_path(run_dir, runs), "methods": list(folders), "default_method": default,
                "threshold": float(setting(cfg, "eval.threshold", 0.5)), "examples": _examples(run_dir)}
        refusals = tuple(setting(cfg, "tune.refusals", DEFAULT_REFUSALS))
        log.info("refusal page: run %s, methods %s", run_dir, ", ".join(folders))
        return cls(models, info, refusals, int(setting(cfg, "probe.max_new_tokens", 8)))

    def ask(self, question: str, method: str) -> dict[str, Any]:
        from quartet.refusal.data import QAItem
        from quartet.refusal.evaluate import eval_records, fits
        from quartet.worlds.facts import QA_PROMPT

        if method not in self.models.loaders:
            raise KeyError(method)
        lm = self.models.get(method)
        item = QAItem(id="web", prompt=QA_PROMPT.format(question=question), question=question)
        with self.models.lock:
            if not fits(lm, [item], self.max_new_tokens)[0]:
                raise ValueError(f"the question is too long for this model (it reads at most {context_limit(lm)} "
                                 "tokens, with the answer and the certainty question)")
            [record] = eval_records(lm, [item], self.refusals, self.max_new_tokens)
        return record

    def unknown_words(self, text: str) -> list[str]:
        return unknown_words(self.models.get(self.info["default_method"]).tokenizer, text)
