"""``quartet refusal pipeline``: world -> base model -> probe -> refusal-aware data -> tune -> evaluate.

Every stage is resumable: finished stages leave a marker under ``stages/``; probing,
sampling and evaluation append one record per finished batch; tuning resumes from its
checkpoints. Layout of the run directory::

    data/train.jsonl, data/<set>.jsonl   questions (QAItem records); data/sets.json: set -> role
    corpus.txt, base/                     the pretraining corpus and the base model (base/model/)
    probe/probe.jsonl, probe/samples.jsonl, probe/recovery.json
    build/<method>.jsonl, build/<method>.lmflow.json
    tune/<method>/s<seed>/model/          one tuned model per method and seed
    eval/<method>/s<seed>/<set>.jsonl     per-question answers, confidences, P(sure)
    eval/entropy/s<seed>/<set>.jsonl      K samples of the vanilla model (test-time uncertainty)
    artifacts/results.{json,md}, artifacts/risk_coverage.png, artifacts/examples.json
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

from quartet.core.io import atomic_write_json, atomic_write_text
from quartet.core.ray_shards import RaySpec
from quartet.core.records import write_jsonl
from quartet.core.runs import RunDir, open_run, runs_root
from quartet.core.seeding import seed_everything
from quartet.lm.backends import load_lm
from quartet.lm.protocol import LanguageModel
from quartet.refusal.build import (
    METHODS,
    build_rtuning,
    build_rtuning_r,
    build_rtuning_u,
    build_vanilla,
    lmflow_text_only,
)
from quartet.refusal.certainty import certainty_suffix
from quartet.refusal.config import RefusalConfig, data_path
from quartet.refusal.data import QAItem, load_items, load_items_jsonl, load_mmlu, world_items
from quartet.refusal.evaluate import entropy_confidence, evaluate_items, fits
from quartet.refusal.probe import probe, probe_recovery, sample

log = logging.getLogger(__name__)

STAGES = ("world", "pretrain", "probe", "build", "tune", "eval", "report")


def run_dir_of(cfg: RefusalConfig) -> Path:
    return Path(cfg.run_dir) if cfg.run_dir else runs_root() / "refusal" / cfg.name


def load_model(path: Path | str) -> LanguageModel:
    """A built-in checkpoint dir, or anything ``quartet.lm.backends.load_lm`` reads (HF dirs)."""
    path = Path(path)
    if (path / "model.json").is_file():
        from quartet.lm.builtin import BuiltinLM

        return BuiltinLM.load(path)
    from quartet.lm.backends import load_lm

    return load_lm(str(path))


def base_model_dir(cfg: RefusalConfig, run: RunDir) -> Path:
    return Path(cfg.base.model) if cfg.base.model else run.path / "base" / "model"


def tuned_dir(run: RunDir, method: str, seed: int) -> Path:
    return run.path / "tune" / method / f"s{seed}"


def _stage(run: RunDir, name: str, fn: Callable[[], Any]) -> None:
    if run.stage_done(name):
        log.info("stage %s: done already", name)
        return
    log.info("stage %s", name)
    fn()
    run.mark_stage_done(name)


# --- world ---------------------------------------------------------------------------------------
def _world(cfg: RefusalConfig):
    from quartet.worlds.facts import WorldSpec, build_world

    w = cfg.data.world
    spec = WorldSpec(n_persons=w.n_persons, n_companies=w.n_companies, n_countries=w.n_countries,
                     n_cities=w.n_cities, n_languages=w.n_languages, stated_fraction=w.stated_fraction,
                     test_fraction=w.test_fraction)
    return build_world(spec, seed=w.seed)


def world_sets(cfg: RefusalConfig) -> tuple[list[QAItem], dict[str, tuple[str, list[QAItem]]]]:
    """(train items, {set: (role, items)}) of the fact world."""
    from quartet.worlds import facts

    world, w = _world(cfg), cfg.data.world

    def items(records: list[dict]) -> list[QAItem]:
        if w.multiple_choice:
            return world_items(facts.multiple_choice(world, records, seed=w.seed), multiple_choice=True)
        return world_items(records)

    sets = {
        "test_id": ("id", items(facts.qa_items(world, "test_id", seed=w.seed))),
        "test_ood": ("ood", items(facts.qa_items(world, "test_ood", seed=w.seed))),
        # Unanswerable questions have no gold answer: always free form.
        "unanswerable": ("unanswerable", world_items(facts.unanswerable_items(world, w.n_unanswerable, w.seed))),
    }
    return items(facts.qa_items(world, "train", seed=w.seed)), sets


def _file_set(es) -> list[QAItem] | None:
    path = data_path(es.path)
    if not path.is_file():
        return None
    if es.format == "mmlu":
        items = load_mmlu(path, data_path(es.prompt_path) if es.prompt_path else None)
    else:
        items = load_items(es.format, path)
    return items[: es.limit] if es.limit else items


def stage_world(cfg: RefusalConfig, run: RunDir) -> None:
    if cfg.data.source == "world":
        train, sets = world_sets(cfg)
    else:
        train = _file_set(cfg.data.train)
        if train is None:
            raise FileNotFoundError(f"data.train.path: {data_path(cfg.data.train.path)} does not exist")
        sets = {}
    for es in cfg.data.eval_sets:
        found = _file_set(es)
        if found is None:
            if not cfg.data.skip_missing:
                raise FileNotFoundError(f"data.eval_sets[{es.name}].path: {data_path(es.path)} does not exist")
            log.warning("eval set %s: %s not found; skipped", es.name, data_path(es.path))
            continue
        sets[es.name] = (es.role, found)
    write_jsonl(run.path / "data" / "train.jsonl", [it.to_dict() for it in train])
    for name, (_, items) in sets.items():
        write_jsonl(run.path / "data" / f"{name}.jsonl", [it.to_dict() for it in items])
    atomic_write_json(run.path / "data" / "sets.json", {name: role for name, (role, _) in sets.items()})


def read_sets(run: RunDir) -> dict[str, tuple[str, list[QAItem]]]:
    roles = json.loads((run.path / "data" / "sets.json").read_text())
    return {name: (role, load_items_jsonl(run.path / "data" / f"{name}.jsonl")) for name, role in roles.items()}


# --- base model ----------------------------------------------------------------------------------
def stage_pretrain(cfg: RefusalConfig, run: RunDir) -> None:
    """Pretrain the built-in base model on the world's corpus (skipped when ``base.model`` is given)."""
    if cfg.base.model:
        log.info("base model given: %s; nothing to pretrain", cfg.base.model)
        return
    if cfg.data.source != "world":
        raise ValueError("base.model must name a model directory when data.source is 'file'")
    from quartet.lm.builtin import BuiltinLM
    from quartet.lm.model import ModelConfig
    from quartet.lm.tokenizer import Tokenizer
    from quartet.lm.training import train_lm
    from quartet.worlds import facts

    world, w = _world(cfg), cfg.data.world
    docs = facts.pretraining_corpus(world, repeats=w.corpus_repeats, qa_repeats=w.qa_repeats, seed=w.seed)
    atomic_write_text(run.path / "corpus.txt", "\n".join(docs) + "\n")
    base = open_run(run.path / "base", cfg.base)
    if (base.path / "tokenizer" / "tokenizer.json").is_file():
        tokenizer = Tokenizer.load(base.path / "tokenizer")
    else:
        # Every word tuning and evaluation will use: names never stated, the certainty question,
        # the refusal phrases, option letters.
        extra = [*facts.vocabulary_texts(world), certainty_suffix(True) + certainty_suffix(False),
                 *cfg.tune.refusals, " ".join(facts.OPTION_LETTERS)]
        tokenizer = Tokenizer.train(docs + extra, kind=cfg.base.tokenizer)
        tokenizer.save(base.path / "tokenizer")
    arch = ModelConfig(vocab_size=tokenizer.vocab_size, dim=cfg.base.dim, n_layers=cfg.base.n_layers,
                       n_heads=cfg.base.n_heads, max_seq_len=cfg.base.max_seq_len)
    lm = BuiltinLM.create(arch, tokenizer, seed=cfg.seed)
    metrics = train_lm(lm, [("", d) for d in docs], cfg.base.train, base)
    lm.save(base.path / "model")
    atomic_write_json(base.path / "final_metrics.json", metrics)


# --- probe and build -----------------------------------------------------------------------------
def stage_probe(cfg: RefusalConfig, run: RunDir) -> None:
    p = cfg.probe
    model_dir = base_model_dir(cfg, run)
    # On a Ray cluster each worker loads its own model; none is needed here.
    backend = cfg.base.generation_backend
    ray = RaySpec(p.ray, str(model_dir), p.ray_workers, backend) if p.ray else None
    lm = None if ray else load_lm(model_dir, backend=backend)
    train = load_items_jsonl(run.path / "data" / "train.jsonl")
    records = probe(lm, train, run.path / "probe" / "probe.jsonl", p.batch_size, p.max_new_tokens, p.match, ray)
    if "rtuning_u" in cfg.tune.methods:
        sample(lm, train, run.path / "probe" / "samples.jsonl", p.k, p.temperature, cfg.seed, p.batch_size,
               p.max_new_tokens, ray)
    d1 = sum(bool(records[it.id]["correct"]) for it in train)
    recovery = {"n": len(train), "d1": d1, "d0": len(train) - d1, "gap_recovery": probe_recovery(train, records)}
    atomic_write_json(run.path / "probe" / "recovery.json", recovery)


def build_sets(cfg: RefusalConfig, run: RunDir) -> dict[str, list[dict[str, Any]]]:
    from quartet.core.records import iter_jsonl

    train = load_items_jsonl(run.path / "data" / "train.jsonl")
    certain = {r["id"]: bool(r["correct"]) for _, r in iter_jsonl(run.path / "probe" / "probe.jsonl")}
    out: dict[str, list[dict[str, Any]]] = {}
    for method in cfg.tune.methods:
        if method == "vanilla":
            out[method] = build_vanilla(train)
        elif method == "rtuning":
            out[method] = build_rtuning(train, certain)
        elif method == "rtuning_r":
            out[method] = build_rtuning_r(train, certain, cfg.tune.refusals, seed=cfg.seed)
        elif method == "rtuning_u":
            samples = {r["id"]: r["samples"] for _, r in iter_jsonl(run.path / "probe" / "samples.jsonl")}
            out[method] = build_rtuning_u(train, samples)
        else:
            raise ValueError(f"tune.methods: unknown method {method!r} (one of {', '.join(METHODS)})")
    return out


def stage_build(cfg: RefusalConfig, run: RunDir) -> None:
    for method, records in build_sets(cfg, run).items():
        write_jsonl(run.path / "build" / f"{method}.jsonl", records)
        atomic_write_json(run.path / "build" / f"{method}.lmflow.json", lmflow_text_only(records))


# --- tune and evaluate ---------------------------------------------------------------------------
def tune_one(cfg: RefusalConfig, run: RunDir, method: str, seed: int) -> None:
    from quartet.core.records import iter_jsonl
    from quartet.lm.training import train_lm

    records = [r for _, r in iter_jsonl(run.path / "build" / f"{method}.jsonl")]
    seed_everything(seed)
    lm = load_model(base_model_dir(cfg, run))  # every tuned model starts from the base model
    train_cfg = dataclasses.replace(cfg.tune.train, seed=seed)
    out = open_run(tuned_dir(run, method, seed), train_cfg)
    metrics = train_lm(lm, [(r["prompt"], r["response"]) for r in records], train_cfg, out)
    lm.save(out.path / "model")
    atomic_write_json(out.path / "final_metrics.json", metrics)


def stage_tune(cfg: RefusalConfig, run: RunDir) -> None:
    for method in cfg.tune.methods:
        for seed in cfg.tune.seeds:
            _stage(run, f"tune_{method}_s{seed}", lambda m=method, s=seed: tune_one(cfg, run, m, s))


def eval_one(cfg: RefusalConfig, run: RunDir, method: str, seed: int) -> None:
    lm = load_model(tuned_dir(run, method, seed) / "model")
    p = cfg.probe
    skipped = {}
    for name, (role, items) in read_sets(run).items():
        keep, skipped[name] = fits(lm, items, p.max_new_tokens)
        evaluate_items(lm, keep, run.path / "eval" / method / f"s{seed}" / f"{name}.jsonl", cfg.tune.refusals,
                       p.batch_size, p.max_new_tokens, p.match)
        if method == "vanilla" and cfg.eval.entropy_baseline and role != "unanswerable":
            entropy_confidence(lm, keep, run.path / "eval" / "entropy" / f"s{seed}" / f"{name}.jsonl", p.k,
                               p.temperature, seed, p.batch_size, p.max_new_tokens)
    atomic_write_json(run.path / "eval" / method / f"s{seed}" / "skipped.json", skipped)


def stage_eval(cfg: RefusalConfig, run: RunDir) -> None:
    for method in cfg.tune.methods:
        for seed in cfg.tune.seeds:
            _stage(run, f"eval_{method}_s{seed}", lambda m=method, s=seed: eval_one(cfg, run, m, s))


def stage_report(cfg: RefusalConfig, run: RunDir) -> None:
    from quartet.refusal.report import write_report

    write_report(cfg, run)


STAGE_FNS: dict[str, Callable[[RefusalConfig, RunDir], None]] = {
    "world": stage_world, "pretrain": stage_pretrain, "probe": stage_probe, "build": stage_build,
    "tune": stage_tune, "eval": stage_eval, "report": stage_report,
}


def run_pipeline(cfg: RefusalConfig, until: str = "report") -> Path:
    """Run (or resume) every stage up to and including ``until``; returns the run directory."""
    if until not in STAGES:
        raise ValueError(f"unknown stage {until!r} (one of {', '.join(STAGES)})")
    unknown = [m for m in cfg.tune.methods if m not in METHODS]
    if unknown:
        raise ValueError(f"tune.methods: unknown method {unknown[0]!r} (one of {', '.join(METHODS)})")
    run = open_run(run_dir_of(cfg), cfg)
    seed_everything(cfg.seed)
    for name in STAGES[: STAGES.index(until) + 1]:
        # tune and eval mark each (method, seed) separately, so a killed stage resumes mid-way;
        # report is always rewritten (cheap), so a finished run re-renders after a code change.
        if name in ("tune", "eval", "report"):
            STAGE_FNS[name](cfg, run)
        else:
            _stage(run, name, lambda n=name: STAGE_FNS[n](cfg, run))
    return run.path
