"""RAFT (rejection-sampling fine-tuning) with a PRM.

For T iterations: sample n solutions per training prompt from the current policy, keep
the best by PRM score (min aggregation by default; the ORM's final tag, "last"), fine-tune the policy on the kept
solutions with a learning rate that decays by ``lr_decay`` per iteration, and measure
greedy test accuracy. Each iteration leaves ``raft/<prm>/iter_t/done.json`` and is
skipped when rerun.
"""

from __future__ import annotations

import dataclasses
import json
import logging

from quartet.core.io import atomic_write_json, atomic_write_text
from quartet.core.runs import RunDir
from quartet.lm.training import train_lm
from quartet.prm.best_of_n import select
from quartet.prm.formats import group_by_problem
from quartet.prm.report import raft_markdown
from quartet.prm.rollout import SampleConfig, sample_solutions

log = logging.getLogger(__name__)


def best_by_prm(solutions: list[dict], scores: list[list[float]], how: str) -> list[dict]:
    """Per problem, the solution with the highest aggregated PRM score (problems whose
    solutions all have no steps keep nothing)."""
    by_id = {s["solution_id"]: sc for s, sc in zip(solutions, scores, strict=True)}
    kept = []
    for group in group_by_problem([s for s in solutions if s["steps"]]).values():
        kept.append(group[select([by_id[s["solution_id"]] for s in group], how)])
    return kept


def run_raft(cfg, run: RunDir, names: list[str]) -> dict:
    from quartet.prm.pipeline import (
        greedy_accuracy,
        load_policy,
        load_scorer,
        read_problems,
        scorer_aggregate,
    )

    rc = cfg.raft
    train = read_problems(run.path / "data/train.jsonl")
    test = read_problems(run.path / "data/test.jsonl")[: cfg.policy.eval_problems]
    base_path = run.path / "raft" / "sft_accuracy.json"
    if base_path.exists():
        base = json.loads(base_path.read_text())["greedy_acc"]
    else:
        base = greedy_accuracy(load_policy(run.path / "policy"), test, cfg.rollout.max_new_tokens, cfg.prompt)
        atomic_write_json(base_path, {"greedy_acc": base})
    result = {"iterations": rc.iterations, "samples": rc.samples, "prompts": rc.prompts, "prms": {}}
    for name in names:
        scorer = load_scorer(run.path / "prm" / name / "model")
        how = scorer_aggregate(cfg, name)
        policy = load_policy(run.path / "policy")
        curve, kept_correct = [base], []
        for t in range(rc.iterations):
            d = run.path / "raft" / name / f"iter_{t}"
            if (d / "done.json").exists():
                info = json.loads((d / "done.json").read_text())
                policy = load_policy(d / "model")
                curve.append(info["greedy_acc"])
                kept_correct.append(info["kept_correct"])
                continue
            start = (t * rc.prompts) % max(1, len(train))
            subset = (train[start:] + train[:start])[: rc.prompts]
            sample_cfg = SampleConfig(cfg.rollout.temperature, cfg.rollout.max_new_tokens, cfg.rollout.chunk_size,
                                      seed=cfg.seed * 1000 + 100 + t)
            sols = sample_solutions(policy, subset, rc.samples, d / "samples.jsonl", sample_cfg, prompt=cfg.prompt)
            scores = scorer([s["prompt"] for s in sols], [s["steps"] for s in sols])
            kept = best_by_prm(sols, scores, how)
            if not kept:
                raise ValueError(f"RAFT {name} iteration {t}: no sampled solution had any steps")
            train_cfg = dataclasses.replace(rc.train, lr=rc.train.lr * rc.lr_decay**t, seed=cfg.seed + t)
            t_run = RunDir(d / "train")
            t_run.path.mkdir(parents=True, exist_ok=True)
            train_lm(policy, [(s["prompt"], "\n".join(s["steps"])) for s in kept], train_cfg, t_run)
            policy.save(d / "model")
            acc = greedy_accuracy(policy, test, cfg.rollout.max_new_tokens, cfg.prompt)
            frac = sum(s["correct"] for s in kept) / len(kept)
            atomic_write_json(d / "done.json", {"greedy_acc": acc, "kept": len(kept), "kept_correct": frac})
            log.info("RAFT %s iteration %d: kept %d (%.2f correct), greedy accuracy %.3f", name, t, len(kept), frac, acc)
            curve.append(acc)
            kept_correct.append(frac)
        result["prms"][name] = {"aggregate": how, "greedy_acc": curve, "kept_correct": kept_correct}
    atomic_write_json(run.artifacts / "raft.json", result)
    atomic_write_text(run.artifacts / "raft.md", raft_markdown(result))
    return result
