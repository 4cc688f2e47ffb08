"""The policy of the PRM pipeline: a built-in transformer fine-tuned on the problems until it
solves some but not most test problems (so best-of-N has room to help), or a loaded model."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence

from quartet.core.io import atomic_write_json
from quartet.core.runs import RunDir
from quartet.lm.tokenizer import Tokenizer
from quartet.lm.training import train_lm
from quartet.prm.config import PromptConfig
from quartet.prm.data import MathProblem
from quartet.prm.prm_model import RewardSpec, prm_text
from quartet.prm.rollout import policy_prompt

log = logging.getLogger(__name__)


def build_tokenizer(problems: Sequence[MathProblem], prompt: PromptConfig | None = None,
                    spec: RewardSpec | None = None) -> Tokenizer:
    """Word tokenizer over the policy's texts and the PRM's texts (step tag and reward tokens of
    ``spec``), so that policy and PRM share one vocabulary and every PRM text round-trips."""
    spec = spec or RewardSpec()
    corpus = []
    for p in problems:
        asked = policy_prompt(p.question, p.answer_format, prompt)
        corpus.append(asked + "\n".join(p.steps))
        corpus.append(prm_text(asked, p.steps, spec.tag))
    corpus.append(f"{spec.good} {spec.bad}")
    return Tokenizer.train(corpus, kind="word", extra_tokens=(spec.tag,))


def sft_pairs(problems: Sequence[MathProblem], prompt: PromptConfig | None = None) -> list[tuple[str, str]]:
    return [(policy_prompt(p.question, p.answer_format, prompt), "\n".join(p.steps)) for p in problems]


def split_validation(train: Sequence[MathProblem], n_val: int) -> tuple[list[MathProblem], list[MathProblem]]:
    """(SFT problems, validation problems): the last ``n_val`` train problems are held out, so the
    decision to stop SFT never looks at the test set. At least one problem is kept for SFT.

    >>> split_validation(["a", "b", "c"], 1), split_validation(["a"], 5)
    ((['a', 'b'], ['c']), (['a'], []))
    """
    n_val = max(0, min(n_val, len(train) - 1))
    cut = len(train) - n_val
    return list(train[:cut]), list(train[cut:])


def train_policy(cfg, run: RunDir, train: Sequence[MathProblem]) -> list[dict]:
    """SFT in rounds of ``policy.sft.steps`` on the train problems but the last ``policy.val_problems``;
    stop once greedy accuracy on those held-out ones reaches ``policy.target_acc``. Saves the policy
    to ``<run>/policy`` and the accuracy history to ``artifacts/sft.json``."""
    from quartet.lm.builtin import BuiltinLM
    from quartet.lm.model import ModelConfig
    from quartet.prm.pipeline import greedy_accuracy, load_policy, reward_spec

    pc = cfg.policy
    if pc.model:
        lm = load_policy(pc.model)
    else:
        tok = build_tokenizer(train, cfg.prompt, reward_spec(cfg))
        model_cfg = ModelConfig(vocab_size=tok.vocab_size, dim=pc.dim, n_layers=pc.n_layers, n_heads=pc.n_heads,
                                max_seq_len=pc.max_seq_len)
        lm = BuiltinLM.create(model_cfg, tok, seed=cfg.seed)
    sft_run = RunDir(run.path / "sft")
    sft_run.path.mkdir(parents=True, exist_ok=True)
    sft_problems, validation = split_validation(train, pc.val_problems if pc.sft.steps > 0 else 0)
    pairs = sft_pairs(sft_problems, cfg.prompt)
    history: list[dict] = []
    for r in range(1, pc.sft_rounds + 1):
        if pc.sft.steps <= 0:
            break
        train_cfg = dataclasses.replace(pc.sft, steps=r * pc.sft.steps, seed=cfg.seed)
        metrics = train_lm(lm, pairs, train_cfg, sft_run)
        acc = greedy_accuracy(lm, validation, cfg.rollout.max_new_tokens, cfg.prompt)
        history.append({"round": r, "steps": train_cfg.steps, "loss": metrics.get("loss"), "val_acc": acc,
                        "val_problems": len(validation)})
        log.info("sft round %d: %d steps, greedy validation accuracy %.3f (%d problems)", r, train_cfg.steps, acc,
                 len(validation))
        if acc >= pc.target_acc:
            break
    if pc.sft.steps > 0 and (not history or history[-1]["val_acc"] < pc.target_acc):
        log.warning("policy did not reach greedy validation accuracy %.2f; continuing with what it has",
                    pc.target_acc)
    lm.save(run.path / "policy")
    atomic_write_json(run.artifacts / "sft.json", history)
    return history
