"""The stance + red-teaming pipeline as library functions (the CLI verbs are thin wrappers).

Run directory ``runs/infopattern/<name>/``::

    <dataset>/lm/model/            the built-in base LM (when lm.model is empty), trained on the train split
    <dataset>/switch/              the LM-Switch (switch.safetensors + switch.json), base frozen
    <dataset>/detectors/<kind>/    each fitted stance detector (detector.json + safetensors)
    artifacts/stance/<ds>_<kind>.json, artifacts/stance.json, artifacts/stance.md
    artifacts/redteam.json, artifacts/redteam.md

Every stage leaves a marker under ``stages/``; a rerun skips finished stages and resumes
a killed LM / switch training from its last checkpoint.
"""

from __future__ import annotations

import json
import logging
import random
import time
from pathlib import Path
from typing import Any

from quartet.core.io import atomic_write_json, atomic_write_text
from quartet.core.runs import RunDir, open_run, runs_root
from quartet.core.seeding import seed_everything
from quartet.infopattern.cleaning import clean_messages
from quartet.infopattern.config import InfoPatternConfig
from quartet.infopattern.loaders import load_dataset
from quartet.infopattern.messages import Message
from quartet.infopattern.prompts import prompt_pairs, training_contexts
from quartet.infopattern.report import redteam_markdown, stance_markdown
from quartet.infopattern.stance import EncoderStance, TfidfStance, load_detector, stance_metrics
from quartet.infopattern.stance.switch_likelihood import SwitchLikelihoodStance
from quartet.infopattern.switch import LMSwitch, hidden_dim, train_switch
from quartet.lm.protocol import LanguageModel, SamplingParams

log = logging.getLogger(__name__)


def open_pipeline_run(cfg: InfoPatternConfig, runs: Path | None = None) -> RunDir:
    return open_run((runs or runs_root()) / "infopattern" / cfg.name, cfg)


def subsample(messages: list[Message], n: int, seed: int) -> list[Message]:
    """A seeded random subset of ``n`` messages in their original order (all when ``n`` is 0 or larger)."""
    if not n or n >= len(messages):
        return list(messages)
    keep = sorted(random.Random(seed).sample(range(len(messages)), n))
    return [messages[i] for i in keep]


def load_messages(cfg: InfoPatternConfig, dataset: str, split: str) -> list[Message]:
    """A data set split (``builtin``: the generated set), cleaned when the config asks."""
    if dataset == "builtin":
        from quartet.infopattern.synthetic import builtin_messages

        n = cfg.data.builtin_train if split == cfg.data.train_split else cfg.data.builtin_eval
        messages = builtin_messages(n, cfg.seed, split)
    else:
        messages = load_dataset(dataset, split)
    return clean_messages(messages) if cfg.data.clean else messages


def _device() -> str:
    from quartet.lm.backends import default_device

    return default_device()


def lm_path(run: RunDir, cfg: InfoPatternConfig, dataset: str) -> Path:
    return Path(cfg.lm.model) if cfg.lm.model else run.path / dataset / "lm" / "model"


def train_contexts(cfg: InfoPatternConfig, train: list[Message]) -> dict[str, str]:
    """What each training message answers (``prompts.training_contexts``); none without a reply template."""
    if not cfg.switch.reply_template:
        return {}
    return training_contexts(train, cfg.switch.peer_fraction, cfg.seed)


def ensure_lm(run: RunDir, cfg: InfoPatternConfig, dataset: str, train: list[Message]) -> LanguageModel:
    """The base LM: the user's model, or a built-in LM trained here on the messages after their prompts
    (the same prompts the switch is trained with and red teaming generates after)."""
    from quartet.lm.backends import load_lm

    path = lm_path(run, cfg, dataset)
    if cfg.lm.model or (path / "model.json").is_file():
        return load_lm(path, device=_device(), batch_size=64)
    from quartet.lm.builtin import BuiltinLM
    from quartet.lm.model import ModelConfig
    from quartet.lm.tokenizer import Tokenizer
    from quartet.lm.training import train_lm

    lm_run = RunDir(run.path / dataset / "lm")
    lm_run.path.mkdir(parents=True, exist_ok=True)
    pairs = prompt_pairs(train, train_contexts(cfg, train), cfg.switch.template, cfg.switch.reply_template)
    tok_dir = lm_run.path / "tokenizer"
    if (tok_dir / "tokenizer.json").is_file():
        tokenizer = Tokenizer.load(tok_dir)
    else:
        tokenizer = Tokenizer.train((p + t for p, t in pairs), kind=cfg.lm.tokenizer, vocab_size=cfg.lm.vocab_size)
        tokenizer.save(tok_dir)
    arch = ModelConfig(vocab_size=tokenizer.vocab_size, dim=cfg.lm.dim, n_layers=cfg.lm.n_layers,
                       n_heads=cfg.lm.n_heads, max_seq_len=cfg.lm.max_seq_len)
    lm = BuiltinLM.create(arch, tokenizer, seed=cfg.seed, device=_device(), batch_size=64)
    metrics = train_lm(lm, pairs, cfg.lm.train, lm_run, max_len=cfg.lm.max_seq_len)
    log.info("%s base LM trained: %s", dataset, metrics)
    lm.save(path)
    return lm


def switch_path(run: RunDir, dataset: str) -> Path:
    return run.path / dataset / "switch"


def ensure_switch(run: RunDir, cfg: InfoPatternConfig, dataset: str, lm: LanguageModel,
                  train: list[Message]) -> LMSwitch:
    path = switch_path(run, dataset)
    if (path / "switch.json").is_file():
        return LMSwitch.load(path)
    sc = cfg.switch
    switch = LMSwitch(hidden_dim(lm), sc.rank, sc.n_dims, sc.epsilon, seed=cfg.seed)
    max_len = getattr(getattr(lm.module, "cfg", None), "max_seq_len", 256)
    value_map = {k: list(v) for k, v in sc.value_map.items()} or None
    metrics = train_switch(lm, switch, train, sc.train, run.path / dataset / "switch_train", sc.template,
                           sc.label_field, value_map, max_len, train_contexts(cfg, train), sc.reply_template)
    log.info("%s switch trained: %s", dataset, metrics)
    switch.save(path, {"template": sc.template, "reply_template": sc.reply_template, "label_field": sc.label_field,
                       "value_map": value_map, "peer_fraction": sc.peer_fraction,
                       # absolute, as for the switch detector: a server started elsewhere finds it
                       "base_model": str(lm_path(run, cfg, dataset).resolve())})
    return switch


def prepare_dataset(run: RunDir, cfg: InfoPatternConfig, dataset: str) -> tuple[LanguageModel, LMSwitch]:
    """Base LM and switch for ``dataset`` (trained on its train split when missing)."""
    train = load_messages(cfg, dataset, cfg.data.train_split)
    lm = ensure_lm(run, cfg, dataset, train)
    switch = ensure_switch(run, cfg, dataset, lm, train)
    run.mark_stage_done(f"{dataset}.switch")
    return lm, switch


def build_detector(kind: str, cfg: InfoPatternConfig, run: RunDir, dataset: str, lm=None, switch=None):
    if kind == "tfidf":
        return TfidfStance(model=cfg.stance.tfidf_model)
    if kind == "encoder":
        return EncoderStance(finetune_epochs=cfg.stance.encoder_finetune_epochs,
                             max_seq_length=cfg.stance.encoder_max_seq_length, seed=cfg.seed)
    if kind == "switch":
        # Absolute paths: the saved detector must find its LM and switch from any working directory.
        return SwitchLikelihoodStance(lm_path(run, cfg, dataset).resolve(), switch_path(run, dataset).resolve(),
                                      cfg.stance.switch_values, n_spans=cfg.stance.n_spans, dim=cfg.switch.dim,
                                      lm=lm, switch=switch)
    raise ValueError(f"unknown detector {kind!r} (tfidf, encoder, switch)")


def detector_dir(run: RunDir, dataset: str, kind: str) -> Path:
    return run.path / dataset / "detectors" / kind


def run_stance_train(cfg: InfoPatternConfig, runs: Path | None = None,
                     detectors: tuple[str, ...] | None = None, datasets: tuple[str, ...] | None = None) -> Path:
    """Fit the configured detectors (or ``detectors``) on every data set's train split (LM + switch first,
    for ``switch``)."""
    run = open_pipeline_run(cfg, runs)
    seed_everything(cfg.seed)
    for dataset in datasets or cfg.data.datasets:
        train = None
        for kind in detectors or cfg.stance.detectors:
            if run.stage_done(f"{dataset}.fit.{kind}"):
                continue
            train = train or load_messages(cfg, dataset, cfg.data.train_split)
            lm = switch = None
            if kind == "switch":
                lm, switch = prepare_dataset(run, cfg, dataset)
            fit_set = train if kind == "tfidf" else subsample(train, cfg.data.max_fit, cfg.seed)
            started = time.perf_counter()
            detector = build_detector(kind, cfg, run, dataset, lm, switch).fit(fit_set)
            detector.save(detector_dir(run, dataset, kind))
            seconds = round(time.perf_counter() - started, 2)
            log.info("%s: fitted %s on %d messages in %.1fs", dataset, kind, len(fit_set), seconds)
            run.mark_stage_done(f"{dataset}.fit.{kind}", {"n_fit": len(fit_set), "seconds": seconds})
    return run.path


def _load_fitted(run: RunDir, dataset: str, kind: str):
    path = detector_dir(run, dataset, kind)
    if not (path / "detector.json").is_file():
        raise FileNotFoundError(f"{path}: no fitted {kind} detector (run `quartet infopattern stance train` first)")
    return load_detector(path)


def run_stance_eval(cfg: InfoPatternConfig, runs: Path | None = None) -> Path:
    """Metrics of every fitted detector on every data set's eval split -> ``artifacts/stance.{json,md}``."""
    run = open_pipeline_run(cfg, runs)
    out_dir = run.artifacts / "stance"
    results: dict[str, dict[str, Any]] = {}
    for dataset in cfg.data.datasets:
        messages = None
        for kind in cfg.stance.detectors:
            path = out_dir / f"{dataset}_{kind}.json"
            if not path.is_file():
                messages = messages or subsample(load_messages(cfg, dataset, cfg.data.eval_split),
                                                 cfg.data.max_eval, cfg.seed)
                detector = _load_fitted(run, dataset, kind)
                started = time.perf_counter()
                predicted = detector.predict(messages)
                seconds = time.perf_counter() - started
                labels = sorted(set(detector.classes_) | {m.stance for m in messages if m.stance})
                metrics = stance_metrics([m.stance for m in messages], predicted, labels)
                metrics.update(dataset=dataset, detector=kind, split=cfg.data.eval_split,
                               messages_per_second=round(len(messages) / max(seconds, 1e-9), 1),
                               fit=json.loads((run.path / "stages" / f"{dataset}.fit.{kind}.done").read_text())
                               if run.stage_done(f"{dataset}.fit.{kind}") else {})
                atomic_write_json(path, metrics)
            results.setdefault(dataset, {})[kind] = json.loads(path.read_text())
    atomic_write_json(run.artifacts / "stance.json", results)
    atomic_write_text(run.artifacts / "stance.md", stance_markdown(results))
    run.mark_stage_done("stance.eval")
    return run.path


def run_switch_train(cfg: InfoPatternConfig, runs: Path | None = None) -> Path:
    """Base LM (when built in) and LM-Switch for every configured data set."""
    run = open_pipeline_run(cfg, runs)
    seed_everything(cfg.seed)
    for dataset in cfg.data.datasets:
        if not run.stage_done(f"{dataset}.switch"):
            prepare_dataset(run, cfg, dataset)
    return run.path


def run_redteam(cfg: InfoPatternConfig, runs: Path | None = None) -> Path:
    """Red-team evaluation on ``redteam.dataset`` -> ``artifacts/redteam.{json,md}``."""
    from quartet.infopattern.redteam import evaluate_redteam

    run = open_pipeline_run(cfg, runs)
    if run.stage_done("redteam"):
        return run.path
    rt = cfg.redteam
    seed_everything(cfg.seed)
    lm, switch = prepare_dataset(run, cfg, rt.dataset)
    if not rt.flip_detectors:
        raise ValueError("redteam.flip_detectors is empty: name at least one detector (encoder, tfidf, switch)")
    missing = tuple(k for k in rt.flip_detectors if not run.stage_done(f"{rt.dataset}.fit.{k}"))
    if missing:
        run_stance_train(cfg, runs, detectors=missing, datasets=(rt.dataset,))
    detectors = {k: _load_fitted(run, rt.dataset, k) for k in rt.flip_detectors}
    headline = rt.flip_detectors[0]
    messages = load_messages(cfg, rt.dataset, cfg.data.eval_split)
    sides = [m for m in messages if getattr(m, cfg.switch.label_field) and m.target]
    sources = subsample(sides, rt.n_sources, cfg.seed)
    params = SamplingParams(max_new_tokens=rt.max_new_tokens, temperature=rt.temperature, top_k=rt.top_k,
                            seed=cfg.seed)
    started = time.perf_counter()
    result = evaluate_redteam(lm, switch, detectors[headline], sources, rt.magnitudes, rt.k, params,
                              cfg.switch.template, rt.n_examples, cfg.switch.label_field,
                              {k: d for k, d in detectors.items() if k != headline},
                              reply_template=cfg.switch.reply_template, dim=cfg.switch.dim)
    # How good each flip detector is on this data set's eval split, when the stance report has it.
    quality = {k: json.loads(p.read_text())["macro_f1"] for k in rt.flip_detectors
               if (p := run.artifacts / "stance" / f"{rt.dataset}_{k}.json").is_file()}
    result.update(dataset=rt.dataset, flip_detector=headline, flip_detector_macro_f1=quality,
                  seconds=round(time.perf_counter() - started, 1))
    atomic_write_json(run.artifacts / "redteam.json", result)
    atomic_write_text(run.artifacts / "redteam.md", redteam_markdown(result))
    run.mark_stage_done("redteam")
    return run.path


def run_pipeline(cfg: InfoPatternConfig, runs: Path | None = None) -> Path:
    """Everything: switches, detectors, the stance report and the red-team report."""
    run_switch_train(cfg, runs)
    run_stance_train(cfg, runs)
    run_stance_eval(cfg, runs)
    return run_redteam(cfg, runs)
