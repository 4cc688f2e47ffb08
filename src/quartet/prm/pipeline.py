"""``quartet prm pipeline``: world -> SFT policy -> candidates and rollouts -> labels -> PRMs ->
best-of-N -> RAFT, every stage resumable through run-directory stage markers.

Layout of the run directory::

    data/{train,test}.jsonl        problems
    policy/                        the SFT policy (BuiltinLM checkpoint) ; sft/ its training run
    solutions_train.jsonl          sampled solutions to label          (append-only)
    candidates_test.jsonl          best-of-N pool                      (append-only)
    rollouts.jsonl                 K completions per step prefix       (append-only)
    labels/<name>.jsonl            + exports/<name>.{openrlhf,trl}.jsonl
    prm/<name>/model/              one PRM per labelling, and the ORM (+ prm.json: its step tag and
                                   reward tokens; + value_head.safetensors with prm.value_head)
    scores/<name>.json             step scores of every candidate
    artifacts/bon.{json,md,png}    artifacts/raft.{json,md}
"""

from __future__ import annotations

import dataclasses
import json
import logging
import shutil
from pathlib import Path
from typing import Any

from quartet.core.io import atomic_write_json, atomic_write_text
from quartet.core.ray_shards import RaySpec
from quartet.core.records import iter_jsonl, write_jsonl
from quartet.core.runs import RunDir, open_run, runs_root
from quartet.core.seeding import seed_everything
from quartet.lm.protocol import LanguageModel, SamplingParams
from quartet.prm.answers import is_correct, parse_number
from quartet.prm.best_of_n import evaluate_bon
from quartet.prm.config import PipelineConfig, PromptConfig
from quartet.prm.data import MathProblem, problems_from_files
from quartet.prm.formats import (
    build_labels,
    outcome_labels,
    read_rollouts,
    read_solutions,
    to_openrlhf,
    to_trl,
)
from quartet.prm.labels import method_name
from quartet.prm.prm_model import RewardSpec, RewardTokens
from quartet.prm.report import bon_markdown, plot_bon
from quartet.prm.rollout import SampleConfig, policy_prompt, run_rollouts, sample_solutions
from quartet.prm.scoring import Scorer, step_scores, value_step_scores

log = logging.getLogger(__name__)

STAGES = ("world", "sft", "sample", "rollout", "label", "train", "bon", "raft")


def run_dir_of(cfg: PipelineConfig) -> Path:
    return Path(cfg.run_dir) if cfg.run_dir else runs_root() / "prm" / cfg.name


def _write_problems(path: Path, problems: list[MathProblem]) -> None:
    write_jsonl(path, [dataclasses.asdict(p) for p in problems])


def read_problems(path: Path) -> list[MathProblem]:
    return [MathProblem(r["id"], r["question"], r["gold"], tuple(r["steps"]), r["answer_format"])
            for _, r in iter_jsonl(path)]


def make_problems(cfg: PipelineConfig) -> tuple[list[MathProblem], list[MathProblem]]:
    d = cfg.data
    if d.source != "world":
        return problems_from_files(d.source, d.path or None, d.n_train, d.n_test)
    from quartet.worlds.arithmetic import train_test_split

    train, test = train_test_split(d.n_train, d.n_test, d.seed, d.world)
    convert = [MathProblem(p.id, p.question, str(p.answer), p.steps, "answer_is") for p in train + test]
    return convert[: len(train)], convert[len(train):]


def load_policy(path: Path | str) -> LanguageModel:
    """A built-in checkpoint dir, or anything ``quartet.lm.backends.load_lm`` reads (HF dirs)."""
    path = Path(path)
    if (path / "model.json").is_file():
        from quartet.lm.builtin import BuiltinLM

        return BuiltinLM.load(path)
    from quartet.lm.backends import load_lm  # HF causal LMs (and vLLM when present)

    return load_lm(str(path))


def load_scorer(path: Path | str, spec: RewardSpec | None = None) -> Scorer:
    """``scorer(prompts, steps) -> per-step P(+)`` for a PRM folder: the reward-token PRM, or the
    value-head variant when the folder holds ``value_head.safetensors``. ``spec``: the step tag
    and reward tokens; default, the folder's ``prm.json`` (written by ``stage_train``), else
    "<step>", "+", "-"."""
    from quartet.prm.train import VALUE_HEAD_FILE, load_value_head

    lm = load_policy(path)
    tokens = RewardTokens.resolve(lm.tokenizer, spec or RewardSpec.load(path))
    if (Path(path) / VALUE_HEAD_FILE).is_file():
        module = load_value_head(lm, Path(path) / VALUE_HEAD_FILE)
        return lambda prompts, steps: value_step_scores(module, lm.tokenizer, prompts, steps, tokens)
    return lambda prompts, steps: step_scores(lm, prompts, steps, tokens)


def reward_spec(cfg: PipelineConfig) -> RewardSpec:
    return RewardSpec(cfg.prm.step_tag, cfg.prm.good_token, cfg.prm.bad_token)


def greedy_accuracy(lm: LanguageModel, problems: list[MathProblem], max_new_tokens: int,
                    prompt: PromptConfig | None = None) -> float:
    outs = lm.generate([policy_prompt(p.question, p.answer_format, prompt) for p in problems],
                       SamplingParams(max_new_tokens=max_new_tokens, temperature=0.0), n=1)
    return sum(is_correct(o[0].text, p.gold, p.answer_format) for o, p in zip(outs, problems, strict=True)) / max(
        1, len(problems))


def _sample_cfg(cfg: PipelineConfig, salt: int) -> SampleConfig:
    r = cfg.rollout
    return SampleConfig(r.temperature, r.max_new_tokens, r.chunk_size, seed=cfg.seed * 1000 + salt)


def _stage(run: RunDir, name: str, fn, *args) -> Any:
    """Run ``fn`` unless ``name`` is marked done; mark it done after."""
    if run.stage_done(name):
        log.info("stage %s: done already", name)
        return None
    log.info("stage %s", name)
    out = fn(*args)
    run.mark_stage_done(name)
    return out


def stage_sft(cfg: PipelineConfig, run: RunDir) -> None:
    from quartet.prm.policy import train_policy

    train_policy(cfg, run, read_problems(run.path / "data/train.jsonl"))  # validation is carved from train


def _policy_or_ray(cfg: PipelineConfig, run: RunDir) -> tuple[LanguageModel | None, RaySpec | None]:
    """The policy loaded here, or (with ``rollout.ray``) a Ray spec whose workers each load it."""
    backend = cfg.policy.generation_backend
    if cfg.rollout.ray:
        return None, RaySpec(cfg.rollout.ray, str(run.path / "policy"), cfg.rollout.ray_workers, backend)
    if backend == "vllm":
        from quartet.lm.backends import load_lm

        return load_lm(run.path / "policy", backend="vllm"), None
    return load_policy(run.path / "policy"), None


def stage_sample(cfg: PipelineConfig, run: RunDir) -> None:
    policy, ray = _policy_or_ray(cfg, run)
    train = read_problems(run.path / "data/train.jsonl")[: cfg.rollout.prm_problems]
    test = read_problems(run.path / "data/test.jsonl")
    sample_solutions(policy, train, cfg.rollout.solutions_per_problem, run.path / "solutions_train.jsonl",
                     _sample_cfg(cfg, 1), ray, cfg.prompt)
    sample_solutions(policy, test, cfg.rollout.candidates, run.path / "candidates_test.jsonl", _sample_cfg(cfg, 2),
                     ray, cfg.prompt)


def stage_rollout(cfg: PipelineConfig, run: RunDir) -> int:
    policy, ray = _policy_or_ray(cfg, run)
    solutions = read_solutions(run.path / "solutions_train.jsonl")
    return run_rollouts(policy, solutions, run.path / "rollouts.jsonl", cfg.rollout.k, _sample_cfg(cfg, 3),
                        cfg.rollout.last_from_final, ray)


def label_names(cfg: PipelineConfig) -> list[tuple[str, str, float]]:
    """(name, method, eta) of every labelling the config asks for."""
    out = []
    for m in cfg.prm.methods:
        if m == "er":
            out += [(method_name("er", eta), "er", eta) for eta in cfg.prm.etas]
        else:
            out.append((m, m, 0.0))
    return out


def stage_label(cfg: PipelineConfig, run: RunDir) -> None:
    solutions = [s for s in read_solutions(run.path / "solutions_train.jsonl") if s["steps"]]
    path = run.path / "rollouts.jsonl"
    # No file: no prefix needed rollouts (every solution has one step, labelled by its answer).
    rollouts = read_rollouts(path) if path.exists() else {}
    sets = {name: build_labels(solutions, rollouts, method, eta, cfg.rollout.last_from_final)
            for name, method, eta in label_names(cfg)}
    if cfg.prm.orm:
        sets["orm"] = outcome_labels(solutions)
    for name, records in sets.items():
        write_jsonl(run.path / "labels" / f"{name}.jsonl", records)
        if name != "orm":
            write_jsonl(run.path / "exports" / f"{name}.openrlhf.jsonl", to_openrlhf(records))
            write_jsonl(run.path / "exports" / f"{name}.trl.jsonl", to_trl(records, cfg.prm.trl_threshold))


ORM = "orm"


def scorer_names(cfg: PipelineConfig) -> list[str]:
    return [n for n, _, _ in label_names(cfg)] + ([ORM] if cfg.prm.orm else [])


def scorer_aggregate(cfg: PipelineConfig, name: str) -> str:
    """How scorer ``name``'s step scores become one: ``prm.aggregate`` for a PRM; for the ORM
    ``prm.orm_aggregate`` ("last"), because only its final tag was trained (earlier ones carry no loss)."""
    return cfg.prm.orm_aggregate if name == ORM else cfg.prm.aggregate


def stage_train(cfg: PipelineConfig, run: RunDir) -> None:
    from quartet.prm.formats import read_labels
    from quartet.prm.train import train_prm

    for name in scorer_names(cfg):
        def one(name=name):
            records = read_labels(run.path / "labels" / f"{name}.jsonl")
            lm = load_policy(run.path / "policy")  # every PRM starts from the SFT policy
            prm_run = RunDir(run.path / "prm" / name)
            prm_run.path.mkdir(parents=True, exist_ok=True)
            train_cfg = dataclasses.replace(cfg.prm.train, seed=cfg.seed)
            metrics = train_prm(lm, records, train_cfg, prm_run, reward_spec(cfg), value_head=cfg.prm.value_head)
            lm.save(prm_run.path / "model")
            reward_spec(cfg).save(prm_run.path / "model")
            if cfg.prm.value_head:
                from quartet.prm.train import VALUE_HEAD_FILE

                shutil.copyfile(prm_run.path / VALUE_HEAD_FILE, prm_run.path / "model" / VALUE_HEAD_FILE)
            atomic_write_json(prm_run.path / "final_metrics.json", metrics)

        _stage(run, f"train_{name}", one)
        _stage(run, f"score_{name}", score_candidates, run, name)


def score_candidates(run: RunDir, name: str) -> None:
    scorer = load_scorer(run.path / "prm" / name / "model")
    cands = read_solutions(run.path / "candidates_test.jsonl")
    scores = scorer([c["prompt"] for c in cands], [c["steps"] for c in cands])
    atomic_write_json(run.path / "scores" / f"{name}.json",
                      {c["solution_id"]: s for c, s in zip(cands, scores, strict=True)})


def _normal(answer: str | None) -> Any:
    number = parse_number(answer)
    return number if number is not None else answer


def stage_bon(cfg: PipelineConfig, run: RunDir) -> dict:
    cands = read_solutions(run.path / "candidates_test.jsonl")
    names = scorer_names(cfg)
    scores = {n: json.loads((run.path / "scores" / f"{n}.json").read_text()) for n in names}
    grouped: dict[str, dict] = {}
    for c in cands:
        p = grouped.setdefault(c["problem_id"], {"answers": [], "correct": [], "scores": {n: [] for n in names}})
        p["answers"].append(_normal(c["answer"]))
        p["correct"].append(bool(c["correct"]))
        for n in names:
            p["scores"][n].append(scores[n][c["solution_id"]])
    result = evaluate_bon(list(grouped.values()), cfg.prm.ns, cfg.prm.seeds, cfg.prm.aggregate, cfg.prm.n_boot,
                          aggregates={n: scorer_aggregate(cfg, n) for n in names})
    atomic_write_json(run.artifacts / "bon.json", result)
    atomic_write_text(run.artifacts / "bon.md", bon_markdown(result))
    plot_bon(result, run.artifacts / "bon.png")
    return result


def stage_raft(cfg: PipelineConfig, run: RunDir) -> None:
    from quartet.prm.raft import run_raft

    names = list(cfg.raft.prms) or scorer_names(cfg)
    run_raft(cfg, run, names)


def run_pipeline(cfg: PipelineConfig, until: str = "raft") -> Path:
    """Run every stage up to and including ``until``; finished stages are skipped. Returns the run dir."""
    if until not in STAGES:
        raise ValueError(f"unknown stage {until!r} (known: {', '.join(STAGES)})")
    seed_everything(cfg.seed)
    run = open_run(run_dir_of(cfg), cfg)
    stop = STAGES.index(until)

    def world() -> None:
        train, test = make_problems(cfg)
        _write_problems(run.path / "data/train.jsonl", train)
        _write_problems(run.path / "data/test.jsonl", test)

    steps = [("world", world), ("sft", lambda: stage_sft(cfg, run)), ("sample", lambda: stage_sample(cfg, run)),
             ("rollout", lambda: stage_rollout(cfg, run)), ("label", lambda: stage_label(cfg, run)),
             ("train", lambda: stage_train(cfg, run)), ("bon", lambda: stage_bon(cfg, run)),
             ("raft", lambda: stage_raft(cfg, run) if cfg.raft.enabled else None)]
    for name, fn in steps[: stop + 1]:
        _stage(run, name, fn)
    return run.path

