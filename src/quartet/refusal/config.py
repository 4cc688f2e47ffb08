"""The R-Tuning pipeline's configuration (``configs/refusal/*.yaml`` are serialized instances)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from quartet.core.trainer import TrainConfig
from quartet.refusal.build import DEFAULT_REFUSALS, METHODS


@dataclass(frozen=True)
class WorldConfig:
    """The fact world (``quartet.worlds.facts``) the base model is pretrained on."""

    seed: int = 0  # world seed: entities, facts, which facts are stated
    n_persons: int = 60  # persons: birthplace, employer (ID), profession (OOD)
    n_companies: int = 16  # companies: founded (ID), headquarters (OOD)
    n_countries: int = 10  # countries: capital (ID), language (OOD)
    n_cities: int = 20  # cities (objects of birthplace, capital, headquarters)
    n_languages: int = 6  # languages (objects of language)
    stated_fraction: float = 0.5  # share of facts the pretraining corpus states (the knowledge the model has)
    test_fraction: float = 0.5  # share of subjects held out for the ID test set
    corpus_repeats: int = 4  # statements of every stated fact in the corpus
    qa_repeats: int = 2  # question-answer lines per stated fact in the corpus
    n_unanswerable: int = 60  # false-premise questions (no answer exists)
    multiple_choice: bool = False  # ask every question as 4-option multiple choice instead of free form


@dataclass(frozen=True)
class EvalSetConfig:
    """One test set read from a file (e.g. the real ParaRel / MMLU / FalseQA files)."""

    name: str = "pararel_ood"  # results key
    format: str = "pararel"  # a loader of quartet.refusal.data.LOADERS
    path: str = ""  # the file; ${QUARTET_DATA} expands (default ../shared/data)
    prompt_path: str = ""  # mmlu only: the 5-shot prompt file
    role: Literal["id", "ood", "unanswerable"] = "ood"  # how the report groups it
    limit: int = 0  # first N items only (0: all)


@dataclass(frozen=True)
class DataConfig:
    """Where the instruction data and test sets come from."""

    source: Literal["world", "file"] = "world"  # the generated fact world, or files (real scale)
    world: WorldConfig = field(default_factory=WorldConfig)
    train: EvalSetConfig = field(default_factory=lambda: EvalSetConfig(name="train", role="id"))  # source=file
    eval_sets: tuple[EvalSetConfig, ...] = ()  # more test sets (with the world: besides test_id/test_ood/unanswerable)
    skip_missing: bool = True  # an eval set whose file is absent is skipped (logged), not an error


@dataclass(frozen=True)
class BaseConfig:
    """The base model: a built-in transformer pretrained here on the world, or a model from a path."""

    model: str = ""  # built-in checkpoint dir or HF model dir; empty: pretrain a built-in model on the world
    generation_backend: Literal["auto", "vllm"] = "auto"  # probing and sampling: quartet/transformers, or vLLM (GPU)
    tokenizer: Literal["word", "bpe"] = "word"  # built-in tokenizer kind
    dim: int = 64  # built-in width
    n_layers: int = 2  # built-in depth
    n_heads: int = 4  # built-in heads
    max_seq_len: int = 96  # built-in context (longer prompts are skipped at evaluation, and counted)
    train: TrainConfig = field(default_factory=lambda: TrainConfig(steps=600, batch_size=32, lr=3e-3))


@dataclass(frozen=True)
class ProbeConfig:
    """Probing the base model and sampling (R-Tuning-U, entropy baseline)."""

    match: Literal["contains", "exact"] = "contains"  # free-form correctness rule
    max_new_tokens: int = 8  # answers stop at the first "." or newline, or here
    batch_size: int = 64  # questions per batch
    k: int = 10  # samples per question for R-Tuning-U and the entropy baseline
    temperature: float = 0.7  # sampling temperature for those samples
    ray: str = ""  # Ray cluster address ("auto", "ray://host:10001", "local"); empty: this process
    ray_workers: int = 2  # Ray workers, each with its own copy of the model


@dataclass(frozen=True)
class TuneConfig:
    """Supervised fine-tuning of one model per method and seed."""

    methods: tuple[str, ...] = METHODS  # any of vanilla, rtuning, rtuning_r, rtuning_u
    refusals: tuple[str, ...] = DEFAULT_REFUSALS  # R-Tuning-R's refusal phrases
    seeds: tuple[int, ...] = (0, 1, 2)  # one tuned model per method and seed (mean and spread)
    train: TrainConfig = field(default_factory=lambda: TrainConfig(steps=150, batch_size=16, lr=1e-3))


@dataclass(frozen=True)
class EvalConfig:
    """Evaluation of every tuned model."""

    threshold: float = 0.5  # the model answers when P(sure) > threshold
    entropy_baseline: bool = True  # rank the vanilla model's answers by the entropy of K samples
    ece_bins: int = 10  # bins of the expected calibration error
    examples: int = 6  # answered / declined examples written to artifacts/examples.json


@dataclass(frozen=True)
class RefusalConfig:
    name: str = "refusal-tiny"  # run directory: runs/refusal/<name>
    run_dir: str = ""  # explicit run directory (overrides name)
    seed: int = 0  # base-model seed
    data: DataConfig = field(default_factory=DataConfig)
    base: BaseConfig = field(default_factory=BaseConfig)
    probe: ProbeConfig = field(default_factory=ProbeConfig)
    tune: TuneConfig = field(default_factory=TuneConfig)
    eval: EvalConfig = field(default_factory=EvalConfig)


def data_path(path: str) -> Path:
    """Expand ``${QUARTET_DATA}`` (default ``../shared/data``) and ``~`` in a configured path."""
    root = os.environ.get("QUARTET_DATA", "../shared/data")
    return Path(os.path.expanduser(path.replace("${QUARTET_DATA}", root).replace("$QUARTET_DATA", root)))
