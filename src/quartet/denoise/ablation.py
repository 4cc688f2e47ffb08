"""The ablation: none vs CA vs SPA (1-3 levels) vs SPA-on-every-band, at an equal training budget.

Every variant of ``cfg.ablation.variants`` is trained once per seed of ``cfg.ablation.seeds``
with the same data, steps, batch size and schedule (only the attention module differs),
then scored on every evaluation set next to the classical baselines. The run directory:

    <root>/config.yaml                     the resolved config (written first)
    <root>/models/<variant>-s<seed>/       one training run each (checkpoints, metrics)
    <root>/artifacts/per_image.jsonl       one record per (set, method, seed, image), appended
    <root>/artifacts/per_image.csv         the same as CSV
    <root>/artifacts/results.json          mean PSNR/SSIM per set and method (± std over seeds)
    <root>/artifacts/results.md            the same as a Markdown table
    <root>/artifacts/ablation.png          PSNR against pyramid levels
    <root>/artifacts/crops.png             noisy / CA / SPA / clean crops

Killed at any point, a rerun resumes: finished trainings are skipped (stage markers) and
scored images are not scored again.
"""

from __future__ import annotations

import logging
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from quartet.core.config import to_dict
from quartet.core.io import atomic_write_json, atomic_write_text
from quartet.core.records import AppendOnlyJsonl
from quartet.core.runs import RunDir, open_run, runs_root
from quartet.denoise.baselines import LICENCE_NOTES, available_baselines
from quartet.denoise.config import DenoiseConfig, variant_model
from quartet.denoise.evaluate import (
    Method,
    Sample,
    load_eval_sets,
    markdown_table,
    model_method,
    score,
    summarize,
)
from quartet.denoise.figures import ablation_plot, crops_figure
from quartet.denoise.metrics import write_csv
from quartet.denoise.train import load_denoiser, run_train

log = logging.getLogger(__name__)


def variant_config(cfg: DenoiseConfig, variant: str, seed: int) -> DenoiseConfig:
    """The training config of one (variant, seed): same budget, another attention module and seed."""
    return replace(
        cfg, name=f"{variant}-s{seed}", model=variant_model(cfg.model, variant), train=replace(cfg.train, seed=seed)
    )


def model_dir(run: RunDir, variant: str, seed: int) -> Path:
    return run.path / "models" / f"{variant}-s{seed}"


def _row_key(row: dict[str, Any]) -> tuple:
    return (row["set"], row["method"], row["seed"], row["name"])


def _score_missing(
    results: AppendOnlyJsonl, sets: dict[str, list[Sample]], method: str, fn: Method, seed: int
) -> None:
    done = results.done()
    for set_name, samples in sets.items():
        for sample in samples:
            labels = {"set": set_name, "method": method, "seed": seed}
            if _row_key({**labels, "name": sample.name}) not in done:
                results.append(score(fn, [sample], labels)[0])


def train_variant(cfg: DenoiseConfig, run: RunDir, variant: str, seed: int) -> Path:
    """Train (or resume, or skip when finished) one ablation model."""
    path = model_dir(run, variant, seed)
    stage = f"train-{variant}-s{seed}"
    if not run.stage_done(stage):
        started = time.perf_counter()
        run_train(variant_config(cfg, variant, seed), path)
        run.mark_stage_done(stage, {"seconds": round(time.perf_counter() - started, 2)})
    return path


def run_ablation(cfg: DenoiseConfig, root: str | Path | None = None) -> Path:
    """Train every (variant, seed), score them and the baselines on every set; returns the run folder."""
    run = open_run(root or runs_root() / "denoise" / cfg.name, cfg)
    if run.stage_done("ablation"):
        return run.path
    started = time.perf_counter()
    sets = load_eval_sets(cfg)
    if not sets:
        raise ValueError("no evaluation sets: set eval.synthetic_count > 0 or give eval.sets that exist")
    results = AppendOnlyJsonl(run.artifacts / "per_image.jsonl", key=_row_key)
    baselines = available_baselines(cfg.eval.baselines)
    for name, fn in baselines.items():
        log.info("scoring baseline %s", name)
        _score_missing(results, sets, name, fn, 0)
    params: dict[str, int] = {}
    for variant in cfg.ablation.variants:
        for seed in cfg.ablation.seeds:
            path = train_variant(cfg, run, variant, seed)
            model, _ = load_denoiser(path)
            params[variant] = sum(p.numel() for p in model.parameters())
            log.info("scoring %s seed %d", variant, seed)
            _score_missing(results, sets, variant, model_method(model, cfg.eval), seed)
    rows = results.records()
    methods = list(baselines) + list(cfg.ablation.variants)
    write_csv(run.artifacts / "per_image.csv", rows)
    summary = {
        "sets": list(sets),
        "methods": methods,
        "results": summarize(rows),
        "parameters": params,
        "variants": {v: to_dict(variant_model(cfg.model, v)) for v in cfg.ablation.variants},
        "seeds": list(cfg.ablation.seeds),
        "train_budget": {"steps": cfg.train.steps, "batch_size": cfg.train.batch_size, "patch": cfg.data.patch},
        "licence_notes": {k: v for k, v in LICENCE_NOTES.items() if k in baselines},
        "skipped_baselines": [b for b in cfg.eval.baselines if b not in baselines],
        "seconds": round(time.perf_counter() - started, 1),
    }
    atomic_write_json(run.artifacts / "results.json", summary)
    atomic_write_text(run.artifacts / "results.md", markdown_table(rows, methods, list(sets)))
    ablation_plot(summary, run.artifacts / "ablation.png")
    _crops(cfg, run, sets)
    run.mark_stage_done("ablation", {"seconds": summary["seconds"]})
    return run.path


def _crops(cfg: DenoiseConfig, run: RunDir, sets: dict[str, list[Sample]]) -> None:
    """noisy / CA / SPA / clean crops of the first images of the first real set (else the first set)."""
    variants = cfg.ablation.variants
    spa = [v for v in variants if v.startswith("spa") and not v.startswith("spa_bands")]
    shown = [v for v in ("none", "ca") if v in variants] + spa[-1:]
    set_name = next((s for s in sets if s != "synthetic"), next(iter(sets)))
    samples = sets[set_name][: max(1, cfg.ablation.crops)]
    seed = cfg.ablation.seeds[0]
    outputs = {}
    for variant in shown:
        model, _ = load_denoiser(model_dir(run, variant, seed))
        fn = model_method(model, cfg.eval)
        outputs[variant] = [fn(s.noisy) for s in samples]
    crops_figure(samples, outputs, run.artifacts / "crops.png", title=f"{set_name}, seed {seed}")
