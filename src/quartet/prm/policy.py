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
from quartet.prm.data import MathProblem
from quartet.prm.prm_model import BAD, DEFAULT_TAG, GOOD, prm_text
from quartet.prm.rollout import policy_prompt

log = logging.getLogger(__name__)


def build_tokenizer(problems: Sequence[MathProblem]) -> Tokenizer:
    """Word tokenizer over the policy's texts and the PRM's texts (step tag and reward tokens),
    so that policy and PRM share one vocabulary and every PRM text round-trips."""
    corpus = []
    for p in problems:
        corpus.append(policy_prompt(p.question) + "\n".join(p.steps))
        corpus.append(prm_text(policy_prompt(p.question), p.steps, DEFAULT_TAG))
    corpus.append(f"{GOOD} {BAD}")
    return Tokenizer.train(corpus, kind="word", extra_tokens=(DEFAULT_TAG,))


def sft_pairs(problems: Sequence[MathProblem]) -> list[tuple[str, str]]:
    return [(policy_prompt(p.question), "\n".join(p.steps)) for p in problems]


def train_policy(cfg, run: RunDir, train: Sequence[MathProblem], test: Sequence[MathProblem]) -> list[dict]:
    """SFT in rounds of ``policy.sft.steps``; stop once greedy test accuracy reaches ``policy.target_acc``.
    Saves the policy to ``<run>/policy`` and the accuracy history to ``artifacts/sft.json``."""
    from quartet.lm.builtin import BuiltinLM
    from quartet.lm.model import ModelConfig
    from quartet.prm.pipeline import greedy_accuracy, load_policy

    pc = cfg.policy
    if pc.model:
        lm = load_policy(pc.model)
    else:
        tok = build_tokenizer(train)
        model_cfg = ModelConfig(vocab_size=tok.vocab_size, dim=pc.dim, n_layers=pc.n_layers, n_heads=pc.n_heads,
                                max_seq_len=pc.max_seq_len)
        lm = BuiltinLM.create(model_cfg, tok, seed=cfg.seed)
    sft_run = RunDir(run.path / "sft")
    sft_run.path.mkdir(parents=True, exist_ok=True)
    pairs = sft_pairs(train)
    evaluation = list(test[: pc.eval_problems])
    history: list[dict] = []
    for r in range(1, pc.sft_rounds + 1):
        if pc.sft.steps <= 0:
            break
        train_cfg = dataclasses.replace(pc.sft, steps=r * pc.sft.steps, seed=cfg.seed)
        metrics = train_lm(lm, pairs, train_cfg, sft_run)
        acc = greedy_accuracy(lm, evaluation, cfg.rollout.max_new_tokens)
        history.append({"round": r, "steps": train_cfg.steps, "loss": metrics.get("loss"), "greedy_acc": acc})
        log.info("sft round %d: %d steps, greedy test accuracy %.3f", r, train_cfg.steps, acc)
        if acc >= pc.target_acc:
            break
    if not history or history[-1]["greedy_acc"] < pc.target_acc:
        log.warning("policy did not reach greedy accuracy %.2f; continuing with what it has", pc.target_acc)
    lm.save(run.path / "policy")
    atomic_write_json(run.artifacts / "sft.json", history)
    return history
